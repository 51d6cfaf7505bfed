"""The train-baselines phase: ``run_train_baseline(method, section, dataset_dir, out_dir)`` (Snakemake rule
``train_baseline``, ``lvg train <method>``, ``python -m lvg.train <method>`` under torchrun).

It trains ``lvg.baselines.<method>.ALGORITHM`` on ``dataset_dir/<HHHHxWWWW>/`` through the shared loop and
writes ``out_dir/G_ema.safetensors`` + ``G_ema.json`` (``{"model": "baselines.<method>", "generator": ...}``,
loaded back by :func:`lvg.models.load_generator` without the training code).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from lvg.baselines import baseline
from lvg.baselines.common import SECTION, BaselineTrainConfig, FrameTupleDataset
from lvg.config import parse_resolution, resolution_dir, validate_section
from lvg.data.reader import VideoDataset
from lvg.errors import LvgError
from lvg.train import distributed as dist
from lvg.train.gan import DATA, rank_seed
from lvg.train.loop import BatchSource, resume_key, train

log = logging.getLogger(__name__)


def run_train_baseline(method: str, section: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
                       resume: bool = True) -> Path:
    """Train baseline ``method`` on ``dataset_dir/<HHHHxWWWW>/`` into ``out_dir``; return the exported
    ``out_dir/G_ema.safetensors``. ``section`` is its ``baselines.<method>`` section (validated here)."""
    module = baseline(method)
    section = validate_section(f"{SECTION}.{method}", section)
    tc = BaselineTrainConfig.from_dict(section, method)
    if tc.samples_from is not None:
        raise LvgError(f"{SECTION}.{method}.samples_from is set ({tc.samples_from}): nothing to train")
    info = dist.setup_process(tc.device, tc.threads)
    h, w = parse_resolution(tc.resolution)
    data_seed = rank_seed(tc.seed, info.rank, DATA)
    algo = module.ALGORITHM(tc, info)
    base = VideoDataset(dataset_dir, h, w, 1, x_flip=tc.x_flip, min_length=max(3, algo.num_frames), seed=data_seed)
    dataset = FrameTupleDataset(base, algo.num_frames, algo.data_max_gap)
    batches = BatchSource(dataset, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    extra = {"method": method, "generator": algo.G.cfg.to_dict(),
             "discriminator": dataclasses.asdict(algo.D.cfg), "world_size": info.world_size,
             "device": str(info.device), "dataset_dir": str(dataset_dir), "torch": torch.__version__}
    key = resume_key(section, [Path(dataset_dir) / resolution_dir(h, w) / "index.json"])
    if info.is_main:
        log.info("train baseline %s: %s, batch %d, %d clips in %s", method, tc.resolution, tc.batch, len(dataset),
                 dataset_dir)
    return train(algo, batches, tc.loop_config(), out_dir, {SECTION: {method: section}}, info=info, resume=resume,
                 resolved_extra=extra, resume_key=key)
