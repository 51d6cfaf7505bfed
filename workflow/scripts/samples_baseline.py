# Thin wrapper: Snakemake rule samples_baseline -> lvg.sample_sets (a trained baseline, or an external folder).
from pathlib import Path

import torch

from lvg.baselines.train import load_baseline
from lvg.logs import snakemake_job
from lvg.sample_sets import baseline_sample_set, import_sample_set

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
cfg, method, out_dir = smk.params.cfg, smk.wildcards.baseline, Path(smk.output[0]).parent
if smk.params.samples_from:
    import_sample_set(smk.params.samples_from, out_dir, field=f"baselines.{method}.samples_from")
else:
    baseline_sample_set(load_baseline(smk.input.model), method, cfg["num_videos"], cfg["num_frames"], cfg["seed"],
                        out_dir)
