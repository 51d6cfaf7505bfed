# Thin wrapper: Snakemake rules samples_ours / samples_ablation / samples_released ->
# lvg.sample_sets.generate_sample_set.
from pathlib import Path

import torch

from lvg.logs import snakemake_job
from lvg.models import load_generator
from lvg.sample_sets import generate_sample_set

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
s = smk.params.samples
G_sr = load_generator(smk.input.superres, "superres") if s["resolution"] == "hr" else None
generate_sample_set(load_generator(smk.input.lowres, "lowres"), G_sr, s["num_videos"], s["num_frames"], s["seed"],
                    Path(smk.params.out_dir), resolution=s["resolution"], max_memory=s.get("max_memory"))
