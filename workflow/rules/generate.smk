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
    threads: config["samples"]["threads"]
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
        "results/extra/samples/{dataset}/ours_sr_real_lr/index.json",
    params:
        cfg=config["samples"],
    threads: config["samples"]["threads"]
    log:
        "logs/samples_sr_real_lr/{dataset}.log",
    benchmark:
        "benchmarks/samples_sr_real_lr/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_sr_real_lr.py"


rule samples_untrained:
    # Table 1's control row: the same networks at their initialisation (same presets and seeds).
    output:
        "results/samples/{dataset}/ours_untrained/index.json",
    params:
        cfg=config["samples"],
    threads: config["samples"]["threads"]
    log:
        "logs/samples_untrained/{dataset}.log",
    benchmark:
        "benchmarks/samples_untrained/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_untrained.py"


rule samples_ablation:
    # Table 2: an ablated LR model through the same super-resolution network as ours.
    input:
        lowres="results/extra/models/lowres_ablation/{dataset}/{variant}/G_ema.safetensors",
        superres="results/models/superres/{dataset}/G_ema.safetensors",
    output:
        "results/extra/samples/{dataset}/ours_{variant}/index.json",
    params:
        cfg=config["samples"],
    threads: config["samples"]["threads"]
    log:
        "logs/samples_ablation/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/samples_ablation/{dataset}/{variant}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_ours.py"


def long_video_inputs(wildcards):
    if wildcards.method == "ours":
        return {
            "lowres": f"results/models/lowres/{wildcards.dataset}/G_ema.safetensors",
            "superres": f"results/models/superres/{wildcards.dataset}/G_ema.safetensors",
        }
    if wildcards.method in BASELINES and not samples_from(wildcards.method):
        return {"model": f"results/models/baselines/{wildcards.method}/{wildcards.dataset}/G_ema.safetensors"}
    raise ValueError(f"no long videos for method {wildcards.method!r}")


rule long_videos:
    # Fig. 1: a few long videos per method from t0 = 0, for strips of frames at widely spaced times.
    input:
        unpack(long_video_inputs),
    output:
        "results/extra/long_videos/{dataset}/{method}/index.json",
    params:
        cfg=config["figures"],
        samples=config["samples"],
    threads: config["samples"]["threads"]
    log:
        "logs/long_videos/{dataset}/{method}.log",
    benchmark:
        "benchmarks/long_videos/{dataset}/{method}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/long_videos.py"


rule phase_generate:
    input:
        phase_generate_output(),
