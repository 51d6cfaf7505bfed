# Thin wrapper: Snakemake rule train_lowres -> lvg.train.lowres.run_train_lowres (also `lvg train lowres`).
import copy
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.lowres import run_train_lowres

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
cfg = copy.deepcopy(dict(smk.config))
cfg["train_lowres"]["threads"] = smk.threads  # a schedule setting: never invalidates a resume
index = Path(smk.input.index)
run_train_lowres(cfg, index.parent.parent, Path(smk.output.model).parent)
