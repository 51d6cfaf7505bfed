# Thin wrapper: Snakemake rule samples_ours -> lvg.generate.generate_sample_set.
from pathlib import Path

import torch

from lvg.generate import generate_sample_set, load_lowres, load_superres
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
cfg = smk.params.cfg
G_sr = load_superres(smk.input.superres) if cfg["resolution"] == "hr" else None
generate_sample_set(load_lowres(smk.input.lowres), G_sr, cfg["num_videos"], cfg["num_frames"], cfg["seed"],
                    Path(smk.output[0]).parent, resolution=cfg["resolution"])
