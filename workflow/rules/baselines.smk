# Phase 5b/6b, baselines (spec evaluation.md §5): compact re-implementations of StyleGAN-V, DIGAN, MoCoGAN-HD
# and TATS trained on the same frames, then sampled by each method's own long-video mechanism. A baseline
# with baselines.<method>.samples_from set is not trained: its folder of videos is indexed and evaluated.


rule train_baseline:
    input:
        index=baseline_train_index,
    output:
        model=f"{L.MODEL_BASELINE}/G_ema.safetensors",
        config=f"{L.MODEL_BASELINE}/G_ema.json",
        metrics=f"{L.MODEL_BASELINE}/metrics.csv",
        stats=f"{L.MODEL_BASELINE}/train_stats.json",
    params:
        section=baseline_section,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        out_dir=lambda wc: L.MODEL_BASELINE.format(baseline=wc.baseline, dataset=wc.dataset),
    threads: baseline_threads
    resources:
        gpu=GPU,
    priority: TRAIN_PRIORITY
    log:
        "logs/train_baseline/{baseline}/{dataset}.log",
    benchmark:
        "benchmarks/train_baseline/{baseline}/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_baseline.py"


rule samples_baseline:
    input:
        unpack(baseline_samples_input),
    output:
        f"{L.SAMPLES_ROOT}/{{dataset}}/{{baseline}}/index.json",
    params:
        samples=config["samples"],
        samples_from=lambda wc: samples_from(wc.baseline),
        out_dir=lambda wc: L.samples(wc.dataset, wc.baseline),
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
