# Thin wrapper: Snakemake rule train_baseline -> lvg.baselines.train.run_train_baseline (`lvg train <method>`).
import copy
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.launch import train

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
cfg = copy.deepcopy(dict(smk.config))
cfg["baselines"][smk.wildcards.baseline]["threads"] = smk.threads  # a schedule setting: never blocks a resume
index = Path(smk.input.index)
train(smk.wildcards.baseline, cfg, index.parent.parent, Path(smk.output.model).parent)  # every rank of its job
