# Phase 3, clips: keep-intervals from the manifest, split at detected cuts, short pieces dropped.


rule clips_table:
    input:
        manifest=L.MANIFEST,
        scenes=per_source(L.SCENES_JSON),
    output:
        clips=L.CLIPS,
        dropped=L.CLIPS_DROPPED,
    params:
        clips=config["clips"],
        scenes_dir=lambda wc: L.SCENES_DIR.format(dataset=wc.dataset),
    log:
        "logs/clips_table/{dataset}.log",
    benchmark:
        "benchmarks/clips_table/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/clips_table.py"


rule phase_clips:
    input:
        phase_clips_output(),
