# Thin wrapper: Snakemake rules table1 / table2 -> lvg.report.tables (CSV + Markdown + LaTeX).
import os
from pathlib import Path

from lvg.io import atomic_open
from lvg.logs import snakemake_job
from lvg.report.tables import table1, table2

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
# results/metrics, and results/extra/metrics for Table 2's variants
metrics_dir = sorted({Path(r).parents[2] for r in smk.input.records})
render = table1 if smk.rule == "table1" else table2
table = render(metrics_dir, smk.input.paper_values, smk.output.csv, smk.output.md, smk.output.tex)
if smk.rule == "table1":  # Table 1 and Fig. 5 are read together: link the figure below the table
    md = Path(smk.output.md)
    link = os.path.relpath(smk.input.fig5, md.parent)
    text = md.read_text(encoding="utf-8") + f"\n![Fig. 5: colour similarity over time]({link})\n"
    with atomic_open(md, "w", encoding="utf-8") as f:
        f.write(text)
print(table.to_string())
