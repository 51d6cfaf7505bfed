# Thin wrapper: Snakemake rule samples_sr_real_lr -> lvg.sample_sets.superres_from_real (paper Fig. 6(c)).
from pathlib import Path

import torch

from lvg.config import parse_resolution
from lvg.data.reader import VideoDataset
from lvg.logs import snakemake_job
from lvg.models import load_generator
from lvg.sample_sets import superres_from_real

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
s = smk.params.samples
h, w = parse_resolution(smk.params.lr_resolution)
reader = VideoDataset(Path(smk.params.dataset_dir), h, w, seq_length=s["num_frames"] + 8)
superres_from_real(load_generator(smk.input.superres, "superres"), reader, s["num_videos"], s["num_frames"],
                   Path(smk.params.out_dir), seeds=s["seed"])
