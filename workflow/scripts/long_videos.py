# Thin wrapper: Snakemake rule long_videos -> lvg.generate / lvg.sample_sets from t0 = 0 (paper Fig. 1).
from pathlib import Path

import torch

from lvg.baselines.train import load_baseline
from lvg.generate import generate_sample_set, load_lowres, load_superres
from lvg.logs import snakemake_job
from lvg.sample_sets import baseline_sample_set

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
fig, out_dir, method = smk.params.cfg, Path(smk.output[0]).parent, smk.wildcards.method
seeds, n = fig["long_video_seeds"], fig["long_video_frames"]
if method == "ours":
    hr = smk.params.samples["resolution"] == "hr"
    generate_sample_set(load_lowres(smk.input.lowres), load_superres(smk.input.superres) if hr else None,
                        len(seeds), n, seeds, out_dir, resolution="hr" if hr else "lr", t0=0)
else:
    baseline_sample_set(load_baseline(smk.input.model), method, len(seeds), n, seeds, out_dir, t0=0)
