# Thin wrapper: Snakemake rule import_released -> lvg.reference.import_reference (`lvg import-reference`).
from lvg.logs import snakemake_job
from lvg.reference import import_reference

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
import_reference(smk.input.pkl, smk.params.out_dir, kind=smk.wildcards.stage)
