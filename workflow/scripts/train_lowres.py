# Thin wrapper: Snakemake rule train_lowres -> lvg.train.lowres.run_train_lowres (also `lvg train lowres`).
import copy
from pathlib import Path

from lvg.logs import snakemake_job
from lvg.train.launch import train
from lvg.train.lowres import ablation_override

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
cfg = copy.deepcopy(dict(smk.config))
cfg["train_lowres"]["threads"] = smk.threads  # a schedule setting: never invalidates a resume
variant = getattr(smk.wildcards, "variant", None)  # Table 2 ablation: seq<L> or fp<min>-<max>
if variant is not None:
    cfg["train_lowres"].update(ablation_override(variant))
index = Path(smk.input.index)
train("lowres", cfg, index.parent.parent, Path(smk.output.model).parent)  # every rank of its (Slurm) job
