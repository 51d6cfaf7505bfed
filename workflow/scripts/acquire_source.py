# Thin wrapper: Snakemake rule acquire_source -> lvg.data.acquire.acquire_source (also `lvg acquire`).
from pathlib import Path

from lvg.data.acquire import acquire_source
from lvg.data.manifest import load_manifest
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
acquire_source(load_manifest(smk.params.manifest), smk.wildcards.source, Path(smk.params.raw_dir),
               smk.params.acquire)
