# Thin wrapper: Snakemake rule scenes_detect -> lvg.data.scenes.run_scenes (also `lvg scenes`).
from lvg.data.scenes import run_scenes
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
o = smk.output
run_scenes(smk.input.video, o.json, o.csv, smk.params.scenes, stats_csv=o.stats)
