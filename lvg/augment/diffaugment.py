"""DiffAugment for videos: colour, integer translation and cutout, one draw per clip (spec model.md §5).

Why per clip: the discriminator judges motion, so an augmentation that differed from frame to frame would
itself look like (fake) motion. Every random parameter is therefore drawn once per clip and applied to all
of its frames and channels.

Ops, in the reference order (colour -> translation -> cutout), for a [N, C, T, H, W] video:

- brightness: ``x + b``, b ~ U(-0.5, 0.5)
- saturation: ``(x - mean_c) * s + mean_c``, s ~ U(0, 2), mean over the colour channels of each pixel
- contrast:   ``(x - mean) * k + mean``,   k ~ U(0.5, 1.5), mean over the whole clip (C, T, H, W)
- translation: integer shift in [-r, r] on each axis, r = round(0.25 * max(H, W)), zero fill
  (the original DiffAugment uses 0.125 per axis; LongVideoGAN uses 0.25 of the longer side on both)
- cutout: a zeroed box of size (int(H/2 + 0.5), int(W/2 + 0.5)) at a random centre

Randomness is separated from the transform: :func:`sample_diffaugment_params` draws a
:class:`DiffAugmentParams` from an explicit ``torch.Generator`` (reproducible, resumable), and
:func:`diff_augment` applies given params (recorded draws, e.g. the reference fixtures) or draws them.
All ops are differentiable w.r.t. the video (needed for R1 on augmented reals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "DIFFAUGMENT_POLICY",
    "DiffAugmentParams",
    "sample_diffaugment_params",
    "diff_augment",
    "adjust_brightness",
    "adjust_saturation",
    "adjust_contrast",
    "translate",
    "cutout",
    "translation_range",
    "cutout_size",
]

DIFFAUGMENT_POLICY: tuple[str, ...] = ("color", "translation", "cutout")
_KNOWN_OPS = frozenset(DIFFAUGMENT_POLICY)


def translation_range(height: int, width: int, ratio: float = 0.25) -> int:
    """Largest shift r (pixels, both axes): round(ratio * max(H, W)); 16 for 36x64 and 64x64."""
    return round(ratio * max(height, width))


def cutout_size(height: int, width: int, ratio: float = 0.5) -> tuple[int, int]:
    """Cutout box (rows, cols): int(ratio * side + 0.5) per axis; (18, 32) for 36x64."""
    return int(height * ratio + 0.5), int(width * ratio + 0.5)


@dataclass
class DiffAugmentParams:
    """One clip-level draw per sample.

    Attributes:
        brightness: [N] additive offset, U(-0.5, 0.5).
        saturation: [N] factor, U(0, 2).
        contrast: [N] factor, U(0.5, 1.5).
        translation: [N, 2] int64 (shift_rows, shift_cols) in [-r, r]; ``out[i, j] = in[i + dy, j + dx]``.
        cutout_offset: [N, 2] int64 box centre (row, col); rows ``[row - h//2, row - h//2 + h)`` are zeroed
            (clipped to the image), likewise columns.
    """

    brightness: Tensor
    saturation: Tensor
    contrast: Tensor
    translation: Tensor
    cutout_offset: Tensor

    def to(self, device: torch.device | str) -> DiffAugmentParams:
        return DiffAugmentParams(**{k: v.to(device) for k, v in vars(self).items()})

    def __post_init__(self) -> None:
        n = self.brightness.shape[0]
        for name in ("brightness", "saturation", "contrast"):
            assert getattr(self, name).shape == (n,), f"{name} must be [N]"
        for name in ("translation", "cutout_offset"):
            value = getattr(self, name)
            assert value.shape == (n, 2) and not value.is_floating_point(), f"{name} must be an int [N, 2]"


def sample_diffaugment_params(
    batch: int,
    height: int,
    width: int,
    *,
    generator: torch.Generator | None = None,
    translation_ratio: float = 0.25,
    cutout_ratio: float = 0.5,
) -> DiffAugmentParams:
    """Draw one parameter set per clip from ``generator`` (the global RNG when None).

    Draws happen on the generator's device (CPU by default) in a fixed order, so a saved generator state
    reproduces the exact augmentation after a resume. The draw order is not the reference's (which uses
    the global RNG), but the distributions are the same.
    """
    device = generator.device if generator is not None else torch.device("cpu")

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator, device=device)

    def integers(low: int, high: int) -> Tensor:  # [N, 2] ints in [low, high)
        return torch.randint(low, high, (batch, 2), generator=generator, device=device)

    brightness = uniform(batch) - 0.5
    saturation = uniform(batch) * 2.0
    contrast = uniform(batch) + 0.5
    r = translation_range(height, width, translation_ratio)
    translation = integers(-r, r + 1)
    ch, cw = cutout_size(height, width, cutout_ratio)
    # Centres in [0, side + 1 - size % 2): the box may stick out of the image but always overlaps it.
    rows = torch.randint(0, height + 1 - ch % 2, (batch,), generator=generator, device=device)
    cols = torch.randint(0, width + 1 - cw % 2, (batch,), generator=generator, device=device)
    return DiffAugmentParams(brightness, saturation, contrast, translation, torch.stack([rows, cols], dim=1))


def _per_sample(v: Tensor, x: Tensor) -> Tensor:
    """[N] -> [N, 1, 1, 1, 1] in x's dtype/device, for broadcasting over a [N, C, T, H, W] video."""
    assert v.shape == (x.shape[0],), f"expected [{x.shape[0]}] parameters, got {tuple(v.shape)}"
    return v.to(device=x.device, dtype=x.dtype).reshape(-1, 1, 1, 1, 1)


def adjust_brightness(x: Tensor, offset: Tensor) -> Tensor:
    """x + offset[n]."""
    return x + _per_sample(offset, x)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Scale each pixel's deviation from its colour-channel mean by factor[n]."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _per_sample(factor, x) + mean


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Scale the deviation from the clip mean (over C, T, H, W) by factor[n]."""
    mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
    return (x - mean) * _per_sample(factor, x) + mean


def translate(x: Tensor, shift: Tensor) -> Tensor:
    """Integer translation with zero fill: ``out[n, :, :, i, j] = x[n, :, :, i + dy[n], j + dx[n]]``.

    Implemented as two gathers plus a validity mask, so it is vectorised over the batch and differentiable.
    """
    n, c, t, h, w = x.shape
    assert shift.shape == (n, 2), f"expected [N, 2] shifts, got {tuple(shift.shape)}"
    shift = shift.to(x.device)
    rows = torch.arange(h, device=x.device)[None, :] + shift[:, :1]  # [N, H]
    cols = torch.arange(w, device=x.device)[None, :] + shift[:, 1:]  # [N, W]
    x = x.gather(3, rows.clamp(0, h - 1)[:, None, None, :, None].expand(n, c, t, h, w))
    x = x.gather(4, cols.clamp(0, w - 1)[:, None, None, None, :].expand(n, c, t, h, w))
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # [N, H, W]
    return x * valid[:, None, None].to(x.dtype)


def cutout(x: Tensor, centre: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a (int(H*ratio+0.5), int(W*ratio+0.5)) box starting at ``centre - size // 2`` in every frame."""
    n, _, _, h, w = x.shape
    assert centre.shape == (n, 2), f"expected [N, 2] centres, got {tuple(centre.shape)}"
    ch, cw = cutout_size(h, w, ratio)
    start = centre.to(x.device) - torch.tensor([ch // 2, cw // 2], device=x.device)
    rows = torch.arange(h, device=x.device)[None, :] - start[:, :1]  # offset inside the box
    cols = torch.arange(w, device=x.device)[None, :] - start[:, 1:]
    inside = ((rows >= 0) & (rows < ch))[:, :, None] & ((cols >= 0) & (cols < cw))[:, None, :]  # [N, H, W]
    return x * (~inside)[:, None, None].to(x.dtype)


def diff_augment(
    video: Tensor,
    params: DiffAugmentParams | None = None,
    *,
    generator: torch.Generator | None = None,
    policy: Sequence[str] = DIFFAUGMENT_POLICY,
    translation_ratio: float = 0.25,
    cutout_ratio: float = 0.5,
) -> Tensor:
    """Apply DiffAugment to a [N, C, T, H, W] video, with ``params`` if given, else freshly drawn ones."""
    assert video.ndim == 5, f"expected [N, C, T, H, W], got {tuple(video.shape)}"
    unknown = set(policy) - _KNOWN_OPS
    if unknown:
        raise ValueError(f"unknown DiffAugment ops {sorted(unknown)}; known: {sorted(_KNOWN_OPS)}")
    n, _, _, h, w = video.shape
    if params is None:
        params = sample_diffaugment_params(
            n, h, w, generator=generator, translation_ratio=translation_ratio, cutout_ratio=cutout_ratio
        )
    x = video
    for op in policy:
        if op == "color":
            x = adjust_brightness(x, params.brightness)
            x = adjust_saturation(x, params.saturation)
            x = adjust_contrast(x, params.contrast)
        elif op == "translation":
            x = translate(x, params.translation)
        elif op == "cutout":
            x = cutout(x, params.cutout_offset, cutout_ratio)
    assert x.shape == video.shape
    return x
