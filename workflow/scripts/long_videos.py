# Thin wrapper: Snakemake rule long_videos -> lvg.sample_sets from t0 = 0 (paper Fig. 1).
from pathlib import Path

import torch

from lvg.logs import snakemake_job
from lvg.models import load_generator
from lvg.sample_sets import baseline_sample_set, generate_sample_set

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
fig, out_dir, method = smk.params.figures, Path(smk.params.out_dir), smk.wildcards.method
seeds, n = fig["long_video_seeds"], fig["long_video_frames"]
if method == "ours":
    hr = smk.params.samples["resolution"] == "hr"
    generate_sample_set(load_generator(smk.input.lowres, "lowres"),
                        load_generator(smk.input.superres, "superres") if hr else None,
                        len(seeds), n, seeds, out_dir, resolution="hr" if hr else "lr", t0=0,
                        max_memory=smk.params.samples.get("max_memory"))
else:
    baseline_sample_set(load_generator(smk.input.model, "baseline"), method, len(seeds), n, seeds, out_dir, t0=0)
