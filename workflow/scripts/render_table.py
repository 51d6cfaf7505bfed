# Thin wrapper: Snakemake rules table1 / table2 -> lvg.report.tables (CSV + Markdown + LaTeX).
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.report.tables import table1, table2

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
# results/metrics, and results/extra/metrics for Table 2's variants
metrics_dir = sorted({Path(r).parents[2] for r in smk.input.records})
if smk.rule == "table1":
    table = table1(metrics_dir, smk.input.paper_values, smk.output.csv, smk.output.md, smk.output.tex,
                   color_figure=smk.input.fig5)
else:
    table = table2(metrics_dir, smk.input.paper_values, smk.output.csv, smk.output.md, smk.output.tex)
print(table.to_string())
