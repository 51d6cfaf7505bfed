# Thin wrapper: Snakemake rule train_superres -> lvg.train.superres.run_train_superres.
import copy
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.launch import train

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
cfg = copy.deepcopy(dict(smk.config))
cfg["train_superres"]["threads"] = smk.threads  # a schedule setting: never invalidates a resume
train("superres", cfg, Path(smk.input.lr_index).parent.parent, Path(smk.output.model).parent)  # every rank
