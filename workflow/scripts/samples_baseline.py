# Thin wrapper: Snakemake rule samples_baseline -> lvg.sample_sets (a trained baseline, or an external folder).
from pathlib import Path

import torch

from lvg.logs import snakemake_job
from lvg.models import load_generator
from lvg.sample_sets import baseline_sample_set, import_sample_set

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
s, method, out_dir = smk.params.samples, smk.wildcards.baseline, Path(smk.params.out_dir)
if smk.params.samples_from:
    import_sample_set(smk.params.samples_from, out_dir, field=f"baselines.{method}.samples_from")
else:
    baseline_sample_set(load_generator(smk.input.model, "baseline"), method, s["num_videos"], s["num_frames"],
                        s["seed"], out_dir)
