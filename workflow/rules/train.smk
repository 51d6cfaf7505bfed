# Phase 5, train: the low-resolution GAN on the LR frames (GPU when there is one, CPU otherwise).
# Outputs are listed file by file (not directory()) so that a killed job's checkpoints survive: Snakemake
# deletes declared outputs before a rerun, and the trainer resumes from results/models/lowres/<ds>/checkpoints.


rule train_lowres:
    input:
        index=lambda wc: f"data/processed/{wc.dataset}/{LR_TRAIN_RES}/index.json",
    output:
        model="results/models/lowres/{dataset}/G_ema.safetensors",
        config="results/models/lowres/{dataset}/G_ema.json",
        metrics="results/models/lowres/{dataset}/metrics.csv",
    params:
        cfg=config["train_lowres"],
    threads: train_threads("train_lowres")
    resources:
        gpu=GPU,
    log:
        "logs/train_lowres/{dataset}.log",
    benchmark:
        "benchmarks/train_lowres/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_lowres.py"


rule phase_train_lowres:
    input:
        phase_train_lowres_output(),


rule train_lowres_ablation:
    # Table 2: the LR model trained with one setting changed (variant seq<L> or fp<min>-<max>).
    input:
        index=lambda wc: f"data/processed/{wc.dataset}/{LR_TRAIN_RES}/index.json",
    output:
        model="results/extra/models/lowres_ablation/{dataset}/{variant}/G_ema.safetensors",
        config="results/extra/models/lowres_ablation/{dataset}/{variant}/G_ema.json",
        metrics="results/extra/models/lowres_ablation/{dataset}/{variant}/metrics.csv",
    params:
        cfg=config["train_lowres"],
    threads: train_threads("train_lowres")
    resources:
        gpu=GPU,
    log:
        "logs/train_lowres_ablation/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/train_lowres_ablation/{dataset}/{variant}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_lowres.py"


rule train_superres:
    # The SR network trains on real LR/HR pairs only (spec model.md §8), independently of the LR GAN.
    input:
        lr_index=lambda wc: f"data/processed/{wc.dataset}/{SR_TRAIN_RES[0]}/index.json",
        hr_index=lambda wc: f"data/processed/{wc.dataset}/{SR_TRAIN_RES[1]}/index.json",
    output:
        model="results/models/superres/{dataset}/G_ema.safetensors",
        config="results/models/superres/{dataset}/G_ema.json",
        metrics="results/models/superres/{dataset}/metrics.csv",
    params:
        cfg=config["train_superres"],
    threads: train_threads("train_superres")
    resources:
        gpu=GPU,
    log:
        "logs/train_superres/{dataset}.log",
    benchmark:
        "benchmarks/train_superres/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_superres.py"


rule phase_train_superres:
    input:
        phase_train_superres_output(),
