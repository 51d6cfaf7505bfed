# Thin wrapper: Snakemake rule samples_sr_real_lr -> lvg.generate.superres_from_real (paper Fig. 6(c)).
from pathlib import Path

import torch

from lvg.data.reader import VideoDataset
from lvg.generate import load_superres, superres_from_real
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
cfg = smk.params.cfg
lr_dir = Path(smk.input.lr_index).parent
h, w = (int(x) for x in lr_dir.name.split("x"))
reader = VideoDataset(lr_dir.parent, h, w, seq_length=cfg["num_frames"] + 8)
superres_from_real(load_superres(smk.input.superres), reader, cfg["num_videos"], cfg["num_frames"],
                   Path(smk.output[0]).parent, seeds=cfg["seed"])
