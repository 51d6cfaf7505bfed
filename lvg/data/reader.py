"""The training reader: random clip windows from the sharded dataset, as the reference loader samples them.

One item per clip (uniform over clips, not frames); clips shorter than the window are dropped; a window
start uniform over the valid starts; x-flip with p = 0.5 (spec/model.md §4). Super-resolution training
reads LR and HR at the same frame indices with the same flip (§8).

Randomness never comes from global state. :meth:`VideoDataset.sample` draws ``(clip, start, flip)`` from an
explicit ``torch.Generator``: a training loop that owns the generator (and checkpoints its state) resumes
exactly. For ``torch.utils.data.DataLoader`` use, ``dataset[key]`` is a pure function of
``(seed, epoch, key)``:

- ``key`` is any non-negative int: clip ``key % len(dataset)``, "round" ``key // len(dataset)``;
- the window and flip come from a generator seeded by ``numpy.random.SeedSequence([seed, epoch, key])``.

So a plain sampler over ``range(len(dataset))`` plus :meth:`set_epoch` gives fresh windows per epoch, and
:class:`ClipSampler` yields an endless stream of keys (a fresh permutation of the clips per round, round
number folded into the key) that restarts exactly from any draw count (``start=``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from lvg.config import resolution_dir
from lvg.data.shards import ShardReader
from lvg.errors import InputError


def derived_generator(*words: int) -> torch.Generator:
    """A CPU generator seeded from a tuple of non-negative ints (order matters, no collisions in practice)."""
    state = np.random.SeedSequence([int(w) for w in words]).generate_state(2, np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> float32 [3, T, H, W] in [-1, 1] (``2 * x / 255 - 1``)."""
    x = torch.from_numpy(frames).permute(3, 0, 1, 2).to(torch.float32)
    return x.mul_(2).div_(255).sub_(1)  # the reference's exact float ops: 2 * x / 255 - 1


class VideoDataset(Dataset):
    """Windows of ``seq_length`` frames from ``dataset_dir/HHHHxWWWW/*.zip``.

    Items are clips with at least ``max(min_length or 1, seq_length)`` frames, in the reference's order (by
    partition, then clip dir). ``dataset[key]`` returns ``{"video": [3, T, H, W] float in [-1, 1],
    "clip_index", "start", "flip"}`` (see the module doc for ``key``).
    """

    def __init__(self, dataset_dir: str | Path, height: int, width: int, seq_length: int, x_flip: bool = False,
                 min_length: int | None = None, seed: int = 0) -> None:
        if seq_length < 1:
            raise ValueError(f"seq_length must be >= 1, got {seq_length}")
        self.dataset_dir = Path(dataset_dir)
        self.height, self.width = height, width
        self.seq_length = seq_length
        self.x_flip = x_flip
        self.min_length = max(min_length or 1, seq_length)
        self.seed = seed
        self.epoch = 0
        self.shards = ShardReader(self.dataset_dir / resolution_dir(height, width))
        # indices into the shard reader of the clips that are long enough
        self._clips = [c for c in range(len(self.shards)) if self.shards.num_frames(c) >= self.min_length]
        if not self._clips:
            raise InputError(self.shards.res_dir, f"no clip has at least {self.min_length} frames "
                             f"({len(self.shards)} clips in the folder)")
        self._lengths = [self.shards.num_frames(c) for c in self._clips]

    @property
    def clip_ids(self) -> list[str]:
        all_ids = self.shards.clip_ids
        return [all_ids[c] for c in self._clips]

    def num_frames(self, clip_index: int) -> int:
        return self._lengths[clip_index]

    def frame_table(self) -> list[tuple[str, list[str]]]:
        """(clip id, frame names) of the kept clips, in item order."""
        return [(self.shards.clip_ids[c], self.shards.frame_names(c)) for c in self._clips]

    def __len__(self) -> int:
        return len(self._clips)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    # ---------------------------------------------------------------------------------------------- sampling
    def sample_window(self, clip_index: int, generator: torch.Generator) -> tuple[int, bool]:
        """(start, flip) for one clip: start uniform in [0, n - seq_length], flip with p = 0.5 if x_flip."""
        span = self._lengths[clip_index] - self.seq_length + 1
        start = int(torch.randint(span, (), generator=generator))
        flip = bool(self.x_flip and float(torch.rand((), generator=generator)) < 0.5)
        return start, flip

    def sample(self, generator: torch.Generator) -> tuple[int, int, bool]:
        """(clip_index, start, flip): a clip uniformly at random, then :meth:`sample_window`."""
        clip_index = int(torch.randint(len(self._clips), (), generator=generator))
        return (clip_index, *self.sample_window(clip_index, generator))

    # ---------------------------------------------------------------------------------------------- reading
    def read_frames(self, clip_index: int, start: int, length: int, flip: bool = False) -> np.ndarray:
        """uint8 [T, H, W, 3] of frames ``start .. start + length - 1`` (reads exactly those JPEGs)."""
        n = self._lengths[clip_index]
        if not (0 <= start and length >= 1 and start + length <= n):
            raise IndexError(f"window [{start}, {start + length}) outside clip {clip_index} of {n} frames")
        out = np.empty((length, self.height, self.width, 3), dtype=np.uint8)
        self.shards.read_frames(self._clips[clip_index], range(start, start + length), out=out)
        if flip:
            out = np.ascontiguousarray(out[:, :, ::-1])
        return out

    def read_window(self, clip_index: int, start: int, length: int | None = None, flip: bool = False
                    ) -> torch.Tensor:
        """FloatTensor [3, T, H, W] in [-1, 1]; ``length`` defaults to ``seq_length``."""
        return _to_tensor(self.read_frames(clip_index, start, length or self.seq_length, flip))

    def _key(self, key: int) -> tuple[int, torch.Generator]:
        key = int(key)
        if key < 0:
            raise IndexError(key)
        return key % len(self._clips), derived_generator(self.seed, self.epoch, key)

    def __getitem__(self, key: int) -> dict[str, Any]:
        clip_index, gen = self._key(key)
        start, flip = self.sample_window(clip_index, gen)
        return {"video": self.read_window(clip_index, start, flip=flip), "clip_index": clip_index,
                "start": start, "flip": flip}


class PairedVideoDataset(Dataset):
    """LR and HR windows of the same clip at the same frame indices, with the same flip (SR training).

    Both resolution folders must list identical clips with identical frame names (InputError naming both
    folders otherwise). ``dataset[key]`` returns ``{"lr_video", "hr_video", "clip_index", "start", "flip"}``.
    """

    def __init__(self, dataset_dir: str | Path, lr: tuple[int, int], hr: tuple[int, int], seq_length: int,
                 x_flip: bool = False, min_length: int | None = None, seed: int = 0) -> None:
        self.lr = VideoDataset(dataset_dir, *lr, seq_length, x_flip, min_length, seed)
        self.hr = VideoDataset(dataset_dir, *hr, seq_length, x_flip, min_length, seed)
        lr_table, hr_table = self.lr.shards.frame_table(), self.hr.shards.frame_table()
        if lr_table != hr_table:
            lr_ids, hr_ids = dict(lr_table), dict(hr_table)
            only_lr = sorted(set(lr_ids) - set(hr_ids))
            only_hr = sorted(set(hr_ids) - set(lr_ids))
            if only_lr or only_hr:
                what = (f"clips only in {self.lr.shards.res_dir}: {only_lr[:5]}; "
                        f"only in {self.hr.shards.res_dir}: {only_hr[:5]}")
            else:
                bad = next(c for c in lr_ids if lr_ids[c] != hr_ids[c])
                what = (f"clip {bad!r} has {len(lr_ids[bad])} frames in {self.lr.shards.res_dir} and "
                        f"{len(hr_ids[bad])} in {self.hr.shards.res_dir} (or different frame names)")
            raise InputError(self.lr.shards.res_dir,
                             f"LR and HR folders {self.lr.shards.res_dir} and {self.hr.shards.res_dir} must "
                             f"list identical clips and frames: {what}")

    @property
    def clip_ids(self) -> list[str]:
        return self.lr.clip_ids

    def __len__(self) -> int:
        return len(self.lr)

    def set_epoch(self, epoch: int) -> None:
        self.lr.set_epoch(epoch)
        self.hr.set_epoch(epoch)

    def sample(self, generator: torch.Generator) -> tuple[int, int, bool]:
        return self.lr.sample(generator)

    def read_window(self, clip_index: int, start: int, length: int | None = None, flip: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR [3, T, h, w], HR [3, T, H, W]) at the same frame indices, flipped together."""
        return (self.lr.read_window(clip_index, start, length, flip),
                self.hr.read_window(clip_index, start, length, flip))

    def __getitem__(self, key: int) -> dict[str, Any]:
        clip_index, gen = self.lr._key(key)
        start, flip = self.lr.sample_window(clip_index, gen)
        lr, hr = self.read_window(clip_index, start, flip=flip)
        return {"lr_video": lr, "hr_video": hr, "clip_index": clip_index, "start": start, "flip": flip}


class ClipSampler(Sampler[int]):
    """Endless keys for ``VideoDataset``/``PairedVideoDataset``: each round a fresh permutation of the clips.

    Draw ``n`` is key ``r * num_clips + perm_r[j]`` with ``r, j = divmod(n, num_clips)`` and ``perm_r`` from a
    generator seeded by ``(seed, r)``; so every clip is drawn once per round (uniform over clips), and
    ``ClipSampler(num_clips, seed, start=n)`` continues exactly where a run that consumed ``n`` draws stopped.
    """

    def __init__(self, num_clips: int, seed: int = 0, start: int = 0) -> None:
        if num_clips < 1:
            raise ValueError("num_clips must be >= 1")
        self.num_clips, self.seed, self.start = num_clips, seed, start

    def __iter__(self) -> Iterator[int]:
        n = self.start
        r, j = divmod(n, self.num_clips)
        while True:
            perm = torch.randperm(self.num_clips, generator=derived_generator(self.seed, r)).tolist()
            for jj in range(j, self.num_clips):
                yield r * self.num_clips + perm[jj]
            r, j = r + 1, 0
