# Thin wrapper: Snakemake rule acquire_provenance_table -> lvg.data.acquire.write_provenance_table.
from pathlib import Path

from lvg.data.acquire import write_provenance_table
from lvg.data.manifest import load_manifest
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
out = Path(snakemake.output[0])  # noqa: F821
write_provenance_table(load_manifest(f"data/manifests/{snakemake.wildcards.dataset}.yaml"), out.parent, out)  # noqa: F821
