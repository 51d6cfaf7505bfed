# Thin wrapper: Snakemake rule preprocess_audit -> lvg.data.audit (also `lvg audit`).
from lvg.data.audit import run_audit
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
run_audit(snakemake.wildcards.dataset, out_csv=snakemake.output[0])  # noqa: F821
