# Thin wrapper: Snakemake rule acquire_provenance_table -> lvg.data.acquire.write_provenance_table.
from pathlib import Path

from lvg.data.acquire import write_provenance_table
from lvg.data.manifest import load_manifest
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
write_provenance_table(load_manifest(smk.params.manifest), Path(smk.params.raw_dir), Path(smk.output[0]))
