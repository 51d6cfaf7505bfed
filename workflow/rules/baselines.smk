# Phase 5b/6b, baselines (spec evaluation.md §5): compact re-implementations of StyleGAN-V, DIGAN, MoCoGAN-HD
# and TATS trained on the same frames, then sampled by each method's own long-video mechanism. A baseline
# with baselines.<method>.samples_from set is not trained: its folder of videos is indexed and evaluated.


def baseline_train_index(wildcards):
    res = resolution_dir(*parse_resolution(config["baselines"][wildcards.baseline]["resolution"]))
    return f"data/processed/{wildcards.dataset}/{res}/index.json"


rule train_baseline:
    input:
        index=baseline_train_index,
    output:
        model="results/models/baselines/{baseline}/{dataset}/G_ema.safetensors",
        config="results/models/baselines/{baseline}/{dataset}/G_ema.json",
        metrics="results/models/baselines/{baseline}/{dataset}/metrics.csv",
    params:
        cfg=lambda wc: config["baselines"][wc.baseline],
    threads: lambda wc: config["baselines"][wc.baseline]["threads"] or workflow.cores
    resources:
        gpu=GPU,
    log:
        "logs/train_baseline/{baseline}/{dataset}.log",
    benchmark:
        "benchmarks/train_baseline/{baseline}/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_baseline.py"


def baseline_samples_input(wildcards):
    """The trained generator, or nothing when the samples come from an external folder."""
    if samples_from(wildcards.baseline):
        return {}
    return {"model": f"results/models/baselines/{wildcards.baseline}/{wildcards.dataset}/G_ema.safetensors"}


rule samples_baseline:
    input:
        unpack(baseline_samples_input),
    output:
        "results/samples/{dataset}/{baseline}/index.json",
    params:
        cfg=config["samples"],
        samples_from=lambda wc: samples_from(wc.baseline),
    threads: 1
    log:
        "logs/samples_baseline/{baseline}/{dataset}.log",
    benchmark:
        "benchmarks/samples_baseline/{baseline}/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_baseline.py"


rule phase_train_baselines:
    input:
        phase_train_baselines_output(),
