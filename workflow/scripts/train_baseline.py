# Thin wrapper: Snakemake rule train_baseline -> lvg.train.launch.train (also `lvg train <method>`): every rank of
# its (Slurm) job.
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.launch import train

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
section = dict(smk.params.section) | {"threads": smk.threads}  # a schedule setting: never blocks a resume
train(smk.wildcards.baseline, section, Path(smk.params.dataset_dir), Path(smk.params.out_dir))
