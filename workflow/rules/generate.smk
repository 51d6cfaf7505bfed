# Phase 6, generate: the sample sets the metrics read (N videos of L frames per method), and the paper's
# Fig. 6(c) control: super-resolution applied to REAL low-res clips.


rule samples_ours:
    input:
        unpack(ours_models),
    output:
        f"{L.SAMPLES_ROOT}/{{dataset}}/ours/index.json",
    params:
        samples=config["samples"],
        out_dir=lambda wc: L.samples(wc.dataset, "ours"),
    threads: config["samples"]["threads"]
    log:
        "logs/samples_ours/{dataset}.log",
    benchmark:
        "benchmarks/samples_ours/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_ours.py"


use rule samples_ours as samples_ours_lr with:
    # the LR stage alone: the same seeds and t0s as ours, before super-resolution (evaluate_lr_stage)
    input:
        lowres=model(L.MODEL_LOWRES, dataset="{dataset}"),
    output:
        f"{L.SAMPLES_ROOT}/{{dataset}}/ours_lr/index.json",
    params:
        samples=config["samples"] | {"resolution": "lr"},
        out_dir=lambda wc: L.samples(wc.dataset, "ours_lr"),
    log:
        "logs/samples_ours_lr/{dataset}.log",
    benchmark:
        "benchmarks/samples_ours_lr/{dataset}.tsv"


use rule samples_ours as samples_ablation with:
    # Table 2: an ablated LR model through the same super-resolution network as ours.
    input:
        unpack(ours_models),
    output:
        f"{L.EXTRA_SAMPLES_ROOT}/{{dataset}}/ours_{{variant}}/index.json",
    params:
        samples=config["samples"],
        out_dir=lambda wc: L.samples(wc.dataset, f"ours_{wc.variant}", extra=True),
    log:
        "logs/samples_ablation/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/samples_ablation/{dataset}/{variant}.tsv"


rule samples_sr_real_lr:
    input:
        superres=model(L.MODEL_SUPERRES, dataset="{dataset}"),
        lr_index=processed_index(SR_TRAIN_RES[0]),
    output:
        f"{L.EXTRA_SAMPLES_ROOT}/{{dataset}}/ours_sr_real_lr/index.json",
    params:
        samples=config["samples"],
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        lr_resolution=config["train_superres"]["lr_resolution"],
        out_dir=lambda wc: L.samples(wc.dataset, "ours_sr_real_lr", extra=True),
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
        f"{L.SAMPLES_ROOT}/{{dataset}}/ours_untrained/index.json",
    params:
        lowres=network_keys("train_lowres", plan.LOWRES_NETWORK_KEYS),
        superres=network_keys("train_superres", plan.SUPERRES_NETWORK_KEYS),
        samples=config["samples"],
        out_dir=lambda wc: L.samples(wc.dataset, "ours_untrained"),
    threads: config["samples"]["threads"]
    log:
        "logs/samples_untrained/{dataset}.log",
    benchmark:
        "benchmarks/samples_untrained/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_untrained.py"


rule long_videos:
    # Fig. 1: a few long videos per method from t0 = 0, for strips of frames at widely spaced times.
    input:
        unpack(long_video_inputs),
    output:
        f"{L.LONG_VIDEOS}/index.json",
    params:
        figures=config["figures"],
        samples=config["samples"],
        out_dir=lambda wc: L.LONG_VIDEOS.format(dataset=wc.dataset, method=wc.method),
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
