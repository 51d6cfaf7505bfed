# Phase 7, evaluate (spec evaluation.md §2-4): FVD16/FVD128 (mean ± std over seeds) and colour similarity of
# every sample set against the real clips at the comparison resolution EVAL_RES. The real side is computed
# once per dataset into a cache that the per-method jobs only read.


rule evaluate_real:
    input:
        index=lambda wc: f"data/processed/{wc.dataset}/{EVAL_RES_DIR}/index.json",
        # the provenance audit (every clip traced to its source, every checksum verified) gates the metrics
        audit="data/processed/{dataset}/provenance.csv",
    output:
        stats="results/metrics/{dataset}/real/fvd_stats.json",
        color="results/metrics/{dataset}/real/color_similarity.json",
    params:
        cfg=config["metrics"],
        resolution=EVAL_RES,
    threads: config["metrics"]["threads"] or workflow.cores
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
        index=lambda wc: f"data/processed/{wc.dataset}/{EVAL_RES_DIR}/index.json",
        real="results/metrics/{dataset}/real/fvd_stats.json",
        samples="results/samples/{dataset}/{method}/index.json",
    output:
        fvd16="results/metrics/{dataset}/{method}/fvd16.json",
        fvd128="results/metrics/{dataset}/{method}/fvd128.json",
        color="results/metrics/{dataset}/{method}/color_similarity.json",
    params:
        cfg=config["metrics"],
        resolution=EVAL_RES,
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
        index=lambda wc: f"data/processed/{wc.dataset}/{EVAL_RES_DIR}/index.json",
        real="results/metrics/{dataset}/real/fvd_stats.json",
        samples="results/extra/samples/{dataset}/{method}/index.json",
    output:
        fvd16="results/extra/metrics/{dataset}/{method}/fvd16.json",
        fvd128="results/extra/metrics/{dataset}/{method}/fvd128.json",
        color="results/extra/metrics/{dataset}/{method}/color_similarity.json",
    log:
        "logs/evaluate_extra/{dataset}/{method}.log",
    benchmark:
        "benchmarks/evaluate_extra/{dataset}/{method}.tsv"


rule phase_evaluate:
    input:
        phase_evaluate_output(),
