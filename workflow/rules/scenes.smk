# Phase 2, scenes: PySceneDetect on every raw video; cut list + settings (JSON), scene list and stats (CSV).


rule scenes_detect:
    input:
        video="data/raw/{dataset}/{source}.mp4",
    output:
        json="data/scenes/{dataset}/{source}.json",
        csv="data/scenes/{dataset}/{source}.scenes.csv",
        stats="data/scenes/{dataset}/{source}.stats.csv",
    params:
        cfg=config["scenes"],
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
        scenes=scene_jsons,
        # The ground truth is written by acquire beside the provenance record, which names it (truth_file).
        provenance=lambda wc: expand(
            "data/raw/{{dataset}}/{source}.provenance.json", source=sources(wc.dataset)
        ),
    output:
        "data/scenes/{dataset}/accuracy.csv",
    log:
        "logs/scenes_accuracy/{dataset}.log",
    benchmark:
        "benchmarks/scenes_accuracy/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/scenes_accuracy.py"
