# Phase 3, clips: keep-intervals from the manifest, split at detected cuts, short pieces dropped.


rule clips_table:
    input:
        manifest="data/manifests/{dataset}.yaml",
        scenes=scene_jsons,
    output:
        clips="data/clips/{dataset}.csv",
        dropped="data/clips/{dataset}.dropped.csv",
    params:
        min_frames=config["clips"]["min_frames"],
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
