# Thin wrapper: Snakemake rule render_world_corpus -> lvg.data.world_corpus.write_corpus.
from pathlib import Path

from lvg.config import parse_resolution
from lvg.data.world_corpus import write_corpus
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
c = smk.params.corpus
h, w = parse_resolution(smk.params.resolution)
write_corpus(Path(smk.params.out_dir), c["shots"], c["frames"], h, w, seed=c["seed"],
             render_height=c["render_height"], progress=True)
