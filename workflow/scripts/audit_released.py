# Thin wrapper: Snakemake rule audit_released -> lvg.data.audit.run_audit_released (also in `lvg audit`).
from lvg.data.audit import run_audit_released
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
run_audit_released(dict(smk.params.released), ".", smk.output[0])
