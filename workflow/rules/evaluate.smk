# Phase 7, evaluate (spec evaluation.md §2-4): FVD16/FVD128 (mean ± std over seeds) and colour similarity of
# every sample set against the real clips at the comparison resolution EVAL_RES. The real side is computed
# once per dataset into a cache that the per-method jobs only read.


rule evaluate_real:
    input:
        unpack(world_detector),
        index=processed_index(EVAL_RES_DIR),
        # the provenance audit (every clip traced to its source, every checksum verified) gates the metrics
        audit=L.PROVENANCE,
    output:
        stats=L.record("{dataset}", "real", "fvd_stats"),
        color=L.record("{dataset}", "real", "color_similarity"),
        semantic=L.record("{dataset}", "real", "semantic_change"),
    params:
        metrics=metrics_section,
        world_detector=world_detector_path,
        color_frames=COLOR_FRAMES,
        resolution=EVAL_RES,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        metrics_root=lambda wc: L.METRICS_ROOT,
        cache_dir=lambda wc: L.metrics_cache(wc.dataset),
    threads: config["metrics"]["threads"] or workflow.cores
    priority: DETECTOR_PRIORITY
    log:
        "logs/evaluate_real/{dataset}.log",
    benchmark:
        "benchmarks/evaluate_real/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/evaluate.py"


rule evaluate:
    input:
        unpack(world_detector),
        index=processed_index(EVAL_RES_DIR),
        real=L.record("{dataset}", "real", "fvd_stats"),
        samples=f"{L.SAMPLES_ROOT}/{{dataset}}/{{method}}/index.json",
    output:
        fvd16=L.record("{dataset}", "{method}", "fvd16"),
        fvd128=L.record("{dataset}", "{method}", "fvd128"),
        color=L.record("{dataset}", "{method}", "color_similarity"),
        semantic=L.record("{dataset}", "{method}", "semantic_change"),
    params:
        metrics=metrics_section,
        world_detector=world_detector_path,
        color_frames=COLOR_FRAMES,
        resolution=EVAL_RES,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        samples_dir=lambda wc: L.samples(wc.dataset, wc.method),
        metrics_root=lambda wc: L.METRICS_ROOT,
        # the real statistics: the cache next to the real records (read only)
        cache_dir=lambda wc: L.metrics_cache(wc.dataset),
    threads: config["metrics"]["threads"] or workflow.cores
    log:
        "logs/evaluate/{dataset}/{method}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{method}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/evaluate.py"


use rule evaluate as evaluate_extra with:
    # Table 2 variants and the Fig. 6(c) control (paper_figures target): the same evaluation, written under
    # results/extra/ so that the Table 1 artifacts (DVC outs) never change when the extras are built.
    input:
        unpack(world_detector),
        index=processed_index(EVAL_RES_DIR),
        real=L.record("{dataset}", "real", "fvd_stats"),
        samples=f"{L.EXTRA_SAMPLES_ROOT}/{{dataset}}/{{method}}/index.json",
    output:
        fvd16=L.record("{dataset}", "{method}", "fvd16", L.EXTRA_METRICS_ROOT),
        fvd128=L.record("{dataset}", "{method}", "fvd128", L.EXTRA_METRICS_ROOT),
        color=L.record("{dataset}", "{method}", "color_similarity", L.EXTRA_METRICS_ROOT),
        semantic=L.record("{dataset}", "{method}", "semantic_change", L.EXTRA_METRICS_ROOT),
    params:
        metrics=metrics_section,
        world_detector=world_detector_path,
        color_frames=COLOR_FRAMES,
        resolution=EVAL_RES,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        samples_dir=lambda wc: L.samples(wc.dataset, wc.method, extra=True),
        metrics_root=lambda wc: L.EXTRA_METRICS_ROOT,
        cache_dir=lambda wc: L.metrics_cache(wc.dataset),
    log:
        "logs/evaluate_extra/{dataset}/{method}.log",
    benchmark:
        "benchmarks/evaluate_extra/{dataset}/{method}.tsv"


rule evaluate_sanity:
    # Does the detector measure realism? Held-out real clips against the real statistics (Table 1's real
    # row) and four degradations of them (shuffled, frozen, blurred, colour blobs): lvg.metrics.sanity.
    input:
        unpack(world_detector),
        index=processed_index(EVAL_RES_DIR),
        real=L.record("{dataset}", "real", "fvd_stats"),
    output:
        fvd16=L.record("{dataset}", "real", "fvd16"),
        fvd128=L.record("{dataset}", "real", "fvd128"),
        sanity=L.SANITY.format(metrics_root=L.METRICS_ROOT, dataset="{dataset}"),
    params:
        metrics=metrics_section,
        world_detector=world_detector_path,
        resolution=EVAL_RES,
        holdout=config["world_detector"]["holdout"],
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        metrics_root=lambda wc: L.METRICS_ROOT,
        cache_dir=lambda wc: L.metrics_cache(wc.dataset),
    threads: config["metrics"]["threads"] or workflow.cores
    priority: DETECTOR_PRIORITY
    log:
        "logs/evaluate_sanity/{dataset}.log",
    benchmark:
        "benchmarks/evaluate_sanity/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/evaluate.py"


rule evaluate_lr_stage:
    # The LR model before super-resolution, against the real clips at the LR size: colour curve and frame
    # change (Table 1's notes), when the sample sets are HR.
    input:
        index=processed_index(resolution_dir(*parse_resolution(LR_RES))),
        samples=f"{L.SAMPLES_ROOT}/{{dataset}}/ours_lr/index.json",
    output:
        ours=L.record("{dataset}", "ours_lr", "color_similarity"),
        real=L.record("{dataset}", "real_lr", "color_similarity"),
    params:
        metrics=metrics_section,
        color_frames=COLOR_FRAMES,
        resolution=LR_RES,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        samples_dir=lambda wc: L.samples(wc.dataset, "ours_lr"),
        metrics_root=lambda wc: L.METRICS_ROOT,
    threads: config["metrics"]["threads"] or workflow.cores
    log:
        "logs/evaluate_lr_stage/{dataset}.log",
    benchmark:
        "benchmarks/evaluate_lr_stage/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/evaluate.py"


rule phase_evaluate:
    input:
        phase_evaluate_output(),
