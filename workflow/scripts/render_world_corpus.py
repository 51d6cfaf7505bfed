# Thin wrapper: Snakemake rules render_world_corpus, render_world_objects -> lvg.data.world_corpus.write_corpus.
from pathlib import Path

from lvg.config import parse_resolution
from lvg.data.world_corpus import write_corpus
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
p = smk.params
h, w = parse_resolution(p.resolution)
write_corpus(Path(p.out_dir), p.shots, p.frames, h, w, seed=p.seed, render_height=p.render_height, progress=True)
