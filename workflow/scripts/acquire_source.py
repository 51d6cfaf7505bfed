# Thin wrapper: Snakemake rule acquire_source -> lvg.data.acquire (the same entry point as `lvg acquire`).
from pathlib import Path

from lvg.data.acquire import acquire_source
from lvg.data.manifest import load_manifest
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
w = snakemake.wildcards  # noqa: F821
acquire_source(load_manifest(f"data/manifests/{w.dataset}.yaml"), w.source,
               Path(snakemake.output.video).parent, snakemake.params.cfg)  # noqa: F821
