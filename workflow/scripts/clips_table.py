# Thin wrapper: Snakemake rule clips_table -> lvg.data.clips.run_clips (also `lvg clips`).
from pathlib import Path

from lvg.data.clips import run_clips
from lvg.data.manifest import load_manifest
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
run_clips(load_manifest(smk.input.manifest), Path(smk.params.scenes_dir), smk.output.clips, smk.output.dropped,
          smk.params.clips["min_frames"])
