# Thin wrapper: Snakemake rules table1 / table2 -> lvg.report.tables.
from lvg.logs import snakemake_job
from lvg.report.tables import table1, table2

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
roots, o = list(smk.params.metrics_roots), smk.output
if smk.rule == "table1":
    table = table1(roots, smk.input.paper_values, o.csv, o.md, o.tex, color_figure=smk.input.fig5,
                   semantic_figure=smk.input.fig5b, sanity=smk.params.sanity,
                   released_audit=smk.input.released, training=smk.params.training)
else:
    table = table2(roots, smk.input.paper_values, o.csv, o.md, o.tex)
print(table.to_string())
