# Thin wrapper: Snakemake rules train_lowres / train_lowres_ablation -> lvg.train.launch.train (also `lvg train
# lowres`): every rank of its (Slurm) job. params.section is train_lowres, or its Table 2 variant, validated by
# the DAG.
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.launch import train

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
section = dict(smk.params.section) | {"threads": smk.threads}  # a schedule setting: never blocks a resume
train("lowres", section, Path(smk.params.dataset_dir), Path(smk.params.out_dir))
