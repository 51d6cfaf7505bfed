# Thin wrapper: Snakemake rule train_world_detector -> lvg.train.world.run_train_world.
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.world import run_train_world

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
section = dict(smk.params.section) | {"threads": smk.threads}  # a schedule setting: never blocks a resume
corpus = Path(smk.input.corpus).parent if "corpus" in smk.input.keys() else None
objects = Path(smk.input.objects).parent if "objects" in smk.input.keys() else None
run_train_world(section, Path(smk.params.dataset_dir), smk.input.states, Path(smk.params.out_dir),
                corpus_dir=corpus, objects_dir=objects)
