# Thin wrapper: Snakemake rule preprocess_world -> lvg.data.world.write_clip_states.
from pathlib import Path

from lvg.data.world import write_clip_states
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
write_clip_states(smk.input.clips, Path(smk.params.raw_dir), smk.output[0])
