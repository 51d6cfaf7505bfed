# Phase 2, scenes: PySceneDetect on every raw video; cut list + settings (JSON), scene list and stats (CSV).


rule scenes_detect:
    input:
        video=L.RAW_VIDEO,
    output:
        json=L.SCENES_JSON,
        csv=L.SCENES_CSV,
        stats=L.SCENES_STATS,
    params:
        scenes=config["scenes"],
    log:
        "logs/scenes_detect/{dataset}/{source}.log",
    benchmark:
        "benchmarks/scenes_detect/{dataset}/{source}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/scenes_detect.py"


rule phase_scenes:
    input:
        phase_scenes_output(),


rule scenes_accuracy:
    # Only for datasets whose sources carry ground truth (kind synthetic): how well the detector settings
    # recover the true cuts. A report for tuning thresholds, not an input of later phases.
    input:
        scenes=per_source(L.SCENES_JSON),
        # The ground truth is written by acquire beside the provenance record, which names it (truth_file).
        provenance=per_source(L.RAW_PROVENANCE),
    output:
        L.SCENES_ACCURACY,
    log:
        "logs/scenes_accuracy/{dataset}.log",
    benchmark:
        "benchmarks/scenes_accuracy/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/scenes_accuracy.py"
