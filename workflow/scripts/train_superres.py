# Thin wrapper: Snakemake rule train_superres -> lvg.train.superres.run_train_superres (also `lvg train superres`).
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.superres import run_train_superres

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
section = dict(smk.params.section) | {"threads": smk.threads}  # a schedule setting: never blocks a resume
run_train_superres(section, Path(smk.params.dataset_dir), Path(smk.params.out_dir))
