# Thin wrapper: Snakemake rule train_baseline -> lvg.baselines.train.run_train_baseline (`lvg train <method>`).
from pathlib import Path

from lvg.baselines.train import run_train_baseline
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
section = dict(smk.params.section) | {"threads": smk.threads}  # a schedule setting: never blocks a resume
run_train_baseline(smk.wildcards.baseline, section, Path(smk.params.dataset_dir), Path(smk.params.out_dir))
