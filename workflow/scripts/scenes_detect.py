# Thin wrapper: Snakemake rule scenes_detect -> lvg.data.scenes.run_scenes (also `lvg scenes`).
from lvg.data.scenes import run_scenes
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
o = snakemake.output  # noqa: F821
run_scenes(snakemake.input.video, o.json, o.csv, snakemake.params.cfg, stats_csv=o.stats)  # noqa: F821
