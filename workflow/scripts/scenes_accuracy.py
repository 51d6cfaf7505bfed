# Thin wrapper: Snakemake rule scenes_accuracy -> lvg.data.scenes.run_scene_accuracy.
from pathlib import Path

from lvg.data.scenes import run_scene_accuracy
from lvg.io import read_json
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
truths = [Path(p).with_name(read_json(p)["truth_file"]) for p in smk.input.provenance]
table = run_scene_accuracy(smk.input.scenes, truths, smk.output[0])
print(table.to_string(index=False), file=__import__("sys").stderr)
