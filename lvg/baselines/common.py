"""What every baseline shares, and nothing method-specific (this module imports no method):

* :class:`BaselineTrainConfig`: a ``baselines.<method>`` config section (keys: the schema's
  ``$defs/baseline``, which adds ``max_gap``, ``samples_from``, ``stage_split``, ... to the shared training
  keys);
* :class:`FrameTupleDataset`: ``K`` sorted real frames of one clip with random gaps (StyleGAN-V's and
  DIGAN's sparse training frames; ``K`` consecutive frames with ``max_gap = 1``);
* :func:`build_networks`: G and D from a section (preset + overrides, config errors named, weights
  initialised from the section's seed only);
* :class:`BaselineAlgorithm`: the :class:`lvg.train.gan.GANAlgorithm` base with the per-method error label,
  fixed-seed sample videos and export;
* :func:`generate_frames`: frames ``t0 .. t0 + n - 1`` of a video by the method's own long-video mechanism
  (every baseline generator has ``frames(seed, t0, num_frames)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from lvg.config import section_class
from lvg.data.reader import VideoDataset
from lvg.errors import InputError
from lvg.models import save_generator
from lvg.train.distributed import DistInfo
from lvg.train.gan import GANAlgorithm, seeded
from lvg.train.loop import video_grid
from lvg.train.section import TrainSection

SECTION = "baselines"
SAMPLE_CLIPS, SAMPLE_FRAMES = 4, 32  # the training sample videos: seeds 0..3 from frame 0


class BaselineTrainConfig(section_class(f"{SECTION}.*", "BaselineTrainConfig", TrainSection)):
    """One ``baselines.<method>`` section (keys, defaults and meanings: the schema and params.yaml)."""

    SECTION: ClassVar[str] = SECTION

    @classmethod
    def from_dict(cls, section: dict[str, Any], method: str = "") -> BaselineTrainConfig:
        return super().from_dict(section, f"{SECTION}.{method}")


# ---------------------------------------------------------------------------------------------- data
class FrameTupleDataset(Dataset):
    """``K`` sorted frames of one clip with gaps in ``[1, max_gap]`` (capped so they fit the clip).

    Wraps :class:`VideoDataset` (its clip list, key -> (clip, generator) rule and flip): item ``key`` is a
    pure function of ``(seed, epoch, key)`` like the base dataset's, so :class:`BatchSource` resumes exactly.
    Items: ``{"video": [3, K, H, W] in [-1, 1], "times": [K] int64 (first = 0), "clip_index", "start", "flip"}``:
    frame ``j`` is clip frame ``start + times[j]``.
    Only the ``K`` frames are decoded.
    """

    def __init__(self, base: VideoDataset, num_frames: int = 3, max_gap: int = 32) -> None:
        self.base, self.num_frames, self.max_gap = base, num_frames, max_gap

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __getitem__(self, key: int) -> dict[str, Any]:
        clip_index, gen = self.base._key(key)
        n = self.base.num_frames(clip_index)
        k = self.num_frames
        cap = max(1, min(self.max_gap, (n - 1) // (k - 1)))
        gaps = torch.randint(1, cap + 1, (k - 1,), generator=gen)
        span = int(gaps.sum())
        start = int(torch.randint(n - span, (), generator=gen))
        flip = bool(self.base.x_flip and float(torch.rand((), generator=gen)) < 0.5)
        times = torch.cat([torch.zeros(1, dtype=torch.long), gaps.cumsum(0)])
        frames = np.empty((k, self.base.height, self.base.width, 3), dtype=np.uint8)
        self.base.shards.read_frames(self.base._clips[clip_index], (start + times).tolist(), out=frames)
        if flip:
            frames = np.ascontiguousarray(frames[:, :, ::-1])
        video = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1
        return {"video": video, "times": times, "clip_index": clip_index, "start": start, "flip": flip}


def sample_times(n: int, num_frames: int, max_gap: int, max_start: int, generator: torch.Generator) -> Tensor:
    """``[n, K]`` sorted fake-frame times: start uniform in ``[0, max_start)``, gaps uniform in ``[1, max_gap]``."""
    start = torch.randint(max_start, (n, 1), generator=generator)
    gaps = torch.randint(1, max_gap + 1, (n, num_frames - 1), generator=generator)
    return torch.cat([start, start + gaps.cumsum(1)], dim=1)


# ---------------------------------------------------------------------------------------------- networks
def build_networks(tc: BaselineTrainConfig, method: str, configs: Callable[[], tuple[Any, Any]],
                   G_cls: type[nn.Module], D_cls: type[nn.Module]) -> tuple[nn.Module, nn.Module]:
    """``G_cls(g), D_cls(d)`` for ``(g, d) = configs()``, initialised from ``tc.seed`` only (global RNG forked
    and restored: identical on every rank); a bad preset or override is an error naming the section."""
    try:
        g, d = configs()
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.{method}: {e}") from None
    return seeded(tc.seed, lambda: G_cls(g), lambda: D_cls(d))


# ---------------------------------------------------------------------------------------------- algorithm
class BaselineAlgorithm(GANAlgorithm):
    """A baseline's :class:`lvg.train.loop.Algorithm` base: errors labelled ``baselines.<method>``, sample
    videos of ``G_ema`` by :func:`generate_frames`, export with the section and the method's extras.

    Subclasses set ``method``, ``num_frames`` (real frames per item) and ``data_max_gap`` (largest gap
    between them), build ``G``, ``D``, ``G_ema``, ``networks``, ``optimizers`` and define ``train_step``.
    """

    method: ClassVar[str]
    G_ema: nn.Module

    def __init__(self, tc: BaselineTrainConfig, info: DistInfo | None = None) -> None:
        super().__init__(tc, info, f"{SECTION}.{self.method}")

    @torch.no_grad()
    def sample_video(self) -> np.ndarray | None:
        videos = torch.stack([generate_frames(self.G_ema, s, 0, SAMPLE_FRAMES) for s in range(SAMPLE_CLIPS)])
        return video_grid(videos)

    def export_extra(self) -> dict[str, Any]:
        """What the exported ``G_ema.json`` records beyond the step and the section (e.g. a stage)."""
        return {}

    def export(self, run_dir: Path, step: int) -> Path:
        return save_generator(self.G_ema, Path(run_dir) / "G_ema.safetensors",
                              {"step": step, "kimg": step * self.clips_per_step / 1000, **self.export_extra(),
                               "train": dataclasses.asdict(self.tc)})


@torch.no_grad()
def generate_videos(G: nn.Module, seeds: list[int], t0s: list[int], num_frames: int) -> list[Tensor]:
    """:func:`generate_frames` of several videos; a generator with ``frames_batch`` (TATS: autoregressive
    sampling, where a batch costs little more than one video) renders them together."""
    if hasattr(G, "frames_batch"):
        return [v.clamp(-1, 1) for v in G.frames_batch(seeds, t0s, num_frames)]
    return [generate_frames(G, s, t, num_frames) for s, t in zip(seeds, t0s, strict=True)]


@torch.no_grad()
def generate_frames(G: nn.Module, seed: int, t0: int, num_frames: int) -> Tensor:
    """Frames ``t0 .. t0 + num_frames - 1`` of video ``seed``, ``[3, T, H, W]`` in [-1, 1], any length, by the
    generator's own long-video mechanism (``G.frames``: query each t, extend t, unroll a recurrence, slide a
    window)."""
    return G.frames(seed, t0, num_frames).clamp(-1, 1)
