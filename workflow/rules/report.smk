# Phase 8, render: the paper's tables and figures from the metric records, and the HTML report
# (`snakemake --report report.html` collects every output wrapped in report() with its caption).


def table1_inputs(wildcards):
    recs = [r for ds in MANIFESTS for m in TABLE1_METHODS for r in records(ds, m)]
    return recs + [f"results/metrics/{ds}/real/color_similarity.json" for ds in MANIFESTS]


rule table1:
    input:
        records=table1_inputs,
        paper_values="workflow/paper_values.csv",
        # the paper's main comparison is Table 1 beside Fig. 5: the Markdown table links the figure
        fig5="paper_figures/fig5_color_similarity.png",
    output:
        csv=report("results/table1.csv", caption="../report/table1.rst", category="Tables"),
        md="results/table1.md",
        tex="results/table1.tex",
    log:
        "logs/table1.log",
    benchmark:
        "benchmarks/table1.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_table.py"


rule table2:
    input:
        records=[r for ds in MANIFESTS for r in records(ds, "ours")]
        + [r for ds in MANIFESTS for v in ABLATIONS for r in records(ds, f"ours_{v}", "results/extra")],
        paper_values="workflow/paper_values.csv",
    output:
        csv=report("results/table2.csv", caption="../report/table2.rst", category="Tables"),
        md="results/table2.md",
        tex="results/table2.tex",
    log:
        "logs/table2.log",
    benchmark:
        "benchmarks/table2.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_table.py"


rule fig5_color_similarity:
    input:
        table1_inputs,
    output:
        png=report("paper_figures/fig5_color_similarity.png", caption="../report/fig5.rst", category="Figures"),
        pdf="paper_figures/fig5_color_similarity.pdf",
    log:
        "logs/fig5_color_similarity.log",
    benchmark:
        "benchmarks/fig5_color_similarity.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_figure.py"


rule fig6_superres:
    input:
        [r for ds in MANIFESTS for r in records(ds, "ours") + records(ds, "ours_sr_real_lr", "results/extra")],
    output:
        png=report("paper_figures/fig6_superres.png", caption="../report/fig6.rst", category="Figures"),
        pdf="paper_figures/fig6_superres.pdf",
    log:
        "logs/fig6_superres.log",
    benchmark:
        "benchmarks/fig6_superres.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_figure.py"


rule fig1_long_videos:
    input:
        [f"results/extra/long_videos/{ds}/{m}/index.json" for ds in MANIFESTS
         for m in ["ours", *[b for b in BASELINES if not samples_from(b)]]],
    output:
        png=report("paper_figures/fig1_long_videos.png", caption="../report/fig1.rst", category="Figures"),
        pdf="paper_figures/fig1_long_videos.pdf",
    params:
        cfg=config["figures"],
    log:
        "logs/fig1_long_videos.log",
    benchmark:
        "benchmarks/fig1_long_videos.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_figure.py"


rule report_videos:
    # A few sample videos per method, re-encoded as browser-playable H.264 for the HTML report.
    input:
        "results/samples/{dataset}/{method}/index.json",
    output:
        report(
            directory("results/extra/report_videos/{dataset}/{method}"),
            patterns=["{name}.mp4"],
            caption="../report/videos.rst",
            category="Sample videos",
            subcategory="{dataset}: {method}",
        ),
    params:
        num_videos=config["figures"]["report_videos"],
    log:
        "logs/report_videos/{dataset}/{method}.log",
    benchmark:
        "benchmarks/report_videos/{dataset}/{method}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/report_videos.py"


rule paper_figures:
    input:
        FIGURES,
        "results/table1.csv",
        "results/table2.csv",
        [f"results/extra/report_videos/{ds}/{m}" for ds in MANIFESTS for m in TABLE1_METHODS],


rule phase_render:
    input:
        phase_render_output(),
