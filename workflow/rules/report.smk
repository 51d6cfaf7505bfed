# Phase 8, render: the paper's tables and figures from the metric records, and the HTML report
# (`snakemake --report report.html` collects every output wrapped in report() with its caption).


rule table1:
    input:
        records=table1_inputs,
        paper_values="workflow/paper_values.csv",
        # the paper's main comparison is Table 1 beside Fig. 5: the Markdown table links the figures
        fig5=figure("fig5_color_similarity", "png"),
        fig5b=figure("fig5b_semantic_change", "png"),
        # the released models' provenance (names their source files; header only when there are none)
        released=L.RELEASED_AUDIT,
        # equal compute: every compared method's training steps and CPU-seconds
        training=[f for stages in training_stats().values() for f in stages.values()],
        # every earlier DVC stage complete (the acquisition table, the scene detector's accuracy, ...)
        stages=stage_outputs_before_render(),
    output:
        csv=report(L.TABLE.format(table="table1", ext="csv"), caption="../report/table1.rst", category="Tables"),
        md=L.TABLE.format(table="table1", ext="md"),
        tex=L.TABLE.format(table="table1", ext="tex"),
    params:
        metrics_roots=[L.METRICS_ROOT],
        sanity=[sanity(ds) for ds in MANIFESTS],
        training=training_stats(),
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
        records=table2_inputs,
        paper_values="workflow/paper_values.csv",
    output:
        csv=report(L.TABLE.format(table="table2", ext="csv"), caption="../report/table2.rst", category="Tables"),
        md=L.TABLE.format(table="table2", ext="md"),
        tex=L.TABLE.format(table="table2", ext="tex"),
    params:
        metrics_roots=[L.EXTRA_METRICS_ROOT, L.METRICS_ROOT],
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
        png=report(figure("fig5_color_similarity", "png"), caption="../report/fig5.rst", category="Figures"),
        pdf=figure("fig5_color_similarity", "pdf"),
    params:
        metrics_roots=[L.METRICS_ROOT],
        methods=[[ds, m] for ds in MANIFESTS for m in ["real", *table1_methods(ds)]],
    log:
        "logs/fig5_color_similarity.log",
    benchmark:
        "benchmarks/fig5_color_similarity.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_figure.py"


rule fig5b_semantic_change:
    input:
        table1_inputs,
    output:
        png=report(figure("fig5b_semantic_change", "png"), caption="../report/fig5b.rst", category="Figures"),
        pdf=figure("fig5b_semantic_change", "pdf"),
    params:
        metrics_roots=[L.METRICS_ROOT],
        methods=[[ds, m] for ds in MANIFESTS for m in ["real", *TABLE1_METHODS]],
    log:
        "logs/fig5b_semantic_change.log",
    benchmark:
        "benchmarks/fig5b_semantic_change.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_figure.py"


rule fig6_superres:
    input:
        fig6_inputs,
    output:
        png=report(figure("fig6_superres", "png"), caption="../report/fig6.rst", category="Figures"),
        pdf=figure("fig6_superres", "pdf"),
    params:
        metrics_roots=[L.EXTRA_METRICS_ROOT, L.METRICS_ROOT],
        methods=[[ds, m] for ds in MANIFESTS for m in ("ours", "ours_sr_real_lr")],
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
        fig1_inputs,
    output:
        png=report(figure("fig1_long_videos", "png"), caption="../report/fig1.rst", category="Figures"),
        pdf=figure("fig1_long_videos", "pdf"),
    params:
        figures=config["figures"],
        videos=fig1_videos,
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
        f"{L.SAMPLES_ROOT}/{{dataset}}/{{method}}/index.json",
    output:
        report(
            directory(L.REPORT_VIDEOS),
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
        table_outputs("table1")[0],
        table_outputs("table2")[0],
        [L.REPORT_VIDEOS.format(dataset=ds, method=m) for ds in MANIFESTS for m in table1_methods(ds)],


rule phase_render:
    input:
        phase_render_output(),
