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
