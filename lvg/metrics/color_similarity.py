"""Colour similarity (LongVideoGAN, Brooks et al. 2022, Fig. 5; NVlabs/long-video-gan:plot_color_similarity.py).

H(x, i) is a 3-D RGB histogram with 20 bins per channel; S(x, t) = sum_i min(H(x_0, i), H(x_t, i)) / (H W),
the histogram intersection of frame t with frame 0 as a fraction of the pixels, so S(x, 0) = 1. The paper
plots the mean and the unbiased (n - 1) standard deviation of S(., t) over 1000 random 129-frame clips.

Quantisation exactly as the reference: a value v in [-1, 1] maps to x = (v / 2 + 0.5) * 19, rounded to the
nearest integer by floor(x + 0.5) (halves go up), clamped to [0, 19]. The bins are therefore *centred* on
0, 1/19, ..., 1 in [0, 1] units, and the two end bins are half as wide as the others. Bin index
(r * 20 + g) * 20 + b.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

NUM_LEVELS = 20
NUM_BINS = NUM_LEVELS ** 3


def quantize(frames: torch.Tensor) -> torch.Tensor:
    """Per-channel level in [0, 19] (int64) of values in [-1, 1], computed in the input's float dtype."""
    x = frames if frames.is_floating_point() else frames.float()
    q = torch.floor((x / 2 + 0.5) * (NUM_LEVELS - 1) + 0.5)
    return q.clamp_(0, NUM_LEVELS - 1).to(torch.int64)


def bin_index(frames: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] in [-1, 1] -> [..., H, W] histogram bin indices in [0, 8000)."""
    if frames.ndim < 3 or frames.shape[-3] != 3:
        raise ValueError(f"expected frames of shape [..., 3, H, W], got {tuple(frames.shape)}")
    q = quantize(frames)
    r, g, b = q.unbind(-3)
    return (r * NUM_LEVELS + g) * NUM_LEVELS + b


def color_histogram(frames: torch.Tensor) -> torch.Tensor:
    """Counts over the 8000 colour bins: [..., 3, H, W] in [-1, 1] -> [..., 8000] (int64, exact)."""
    idx = bin_index(frames)
    batch = idx.shape[:-2]
    flat = idx.reshape(-1, idx.shape[-2] * idx.shape[-1])
    offsets = torch.arange(flat.shape[0], device=flat.device).unsqueeze(1) * NUM_BINS
    counts = torch.bincount((flat + offsets).reshape(-1), minlength=flat.shape[0] * NUM_BINS)
    return counts.reshape(*batch, NUM_BINS)


def color_similarity(video: torch.Tensor) -> torch.Tensor:
    """Colour similarity of every frame with frame 0: [N, 3, T, H, W] in [-1, 1] -> [N, T] (float32).

    S(x, t) = sum_i min(H(x_0, i), H(x_t, i)) / (H * W); S(x, 0) = 1. Videos are processed one at a time,
    so memory is O(T * 8000) whatever N.
    """
    if video.ndim != 5 or video.shape[1] != 3:
        raise ValueError(f"expected a video batch of shape [N, 3, T, H, W], got {tuple(video.shape)}")
    n, _, t, h, w = video.shape
    out = torch.empty(n, t, dtype=torch.float32)
    for i in range(n):
        hist = color_histogram(video[i].transpose(0, 1))  # [T, 8000]
        inter = torch.minimum(hist[:1], hist).sum(dim=1)
        out[i] = (inter.to(torch.float64) / (h * w)).to(torch.float32)
    return out


def similarity_curve(videos: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Streaming mean and unbiased (n - 1) std of S(., t) over clips: ``(mean[T], std[T], n)`` (float64).

    Each item is one clip [3, T, H, W] or a batch [N, 3, T, H, W] in [-1, 1]; all clips must have the same
    T. Welford's update keeps memory constant in the number of clips. With one clip the std is NaN, as
    ``torch.std`` gives.
    """
    count = 0
    mean: torch.Tensor | None = None
    m2: torch.Tensor | None = None
    for item in videos:
        batch = item.unsqueeze(0) if item.ndim == 4 else item
        sims = color_similarity(batch).to(torch.float64)
        for s in sims:
            if mean is None:
                mean, m2 = torch.zeros_like(s), torch.zeros_like(s)
            elif s.shape != mean.shape:
                raise ValueError(f"all clips must have the same number of frames: got {s.shape[0]} after "
                                 f"{mean.shape[0]}")
            count += 1
            delta = s - mean
            mean += delta / count
            m2 += delta * (s - mean)
    if mean is None or m2 is None:
        raise ValueError("similarity_curve needs at least one clip")
    std = (m2 / (count - 1)).sqrt() if count > 1 else torch.full_like(mean, float("nan"))
    return mean, std, count


class FrameChange:
    """Mean absolute change of a pixel from one frame to the next (values in [-1, 1]), accumulated over clips
    passing through :meth:`watch`: the flicker a colour curve's first step hides in its histogram bins.
    Real ride videos move about 0.03 per frame; a generator that redraws its colours every frame, ~0.1."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def watch(self, clips: Iterable[torch.Tensor]) -> Iterable[torch.Tensor]:
        for clip in clips:
            x = clip.to(torch.float64)
            d = (x[..., 1:, :, :] - x[..., :-1, :, :]).abs()
            self.total += float(d.sum())
            self.count += d.numel()
            yield clip

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None
