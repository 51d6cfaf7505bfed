# Phase 6, generate: the sample sets the metrics read (N videos of L frames per method), and the paper's
# Fig. 6(c) control: super-resolution applied to REAL low-res clips.


rule samples_ours:
    input:
        lowres="results/models/lowres/{dataset}/G_ema.safetensors",
        superres="results/models/superres/{dataset}/G_ema.safetensors",
    output:
        "results/samples/{dataset}/ours/index.json",
    params:
        cfg=config["samples"],
    threads: workflow.cores
    log:
        "logs/samples_ours/{dataset}.log",
    benchmark:
        "benchmarks/samples_ours/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_ours.py"


rule samples_sr_real_lr:
    input:
        superres="results/models/superres/{dataset}/G_ema.safetensors",
        lr_index=lambda wc: f"data/processed/{wc.dataset}/{SR_TRAIN_RES[0]}/index.json",
    output:
        "results/samples/{dataset}/ours_sr_real_lr/index.json",
    params:
        cfg=config["samples"],
    threads: workflow.cores
    log:
        "logs/samples_sr_real_lr/{dataset}.log",
    benchmark:
        "benchmarks/samples_sr_real_lr/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_sr_real_lr.py"


rule phase_generate:
    input:
        phase_generate_output(),
