# Thin wrapper: Snakemake rules evaluate_real / evaluate -> lvg.evaluate.run_real / run_method (`lvg evaluate`).
from pathlib import Path

from lvg.evaluate import run_method, run_real
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
cfg = dict(smk.config)
cfg["metrics"] = {**cfg["metrics"], "threads": smk.threads}
dataset = smk.wildcards.dataset
dataset_dir = Path(smk.input.index).parent.parent
metrics_dir = Path(smk.output[0]).parents[2]  # results/metrics or results/extra/metrics
if smk.rule == "evaluate_real":
    run_real(dataset, dataset_dir, smk.params.resolution, metrics_dir, cfg)
else:  # the real statistics come from the cache next to the real records (read only)
    cache_dir = Path(smk.input.real).parents[1] / "cache" / dataset
    run_method(dataset, smk.wildcards.method, dataset_dir, smk.params.resolution, Path(smk.input.samples).parent,
               metrics_dir, cfg, cache_dir=cache_dir)
