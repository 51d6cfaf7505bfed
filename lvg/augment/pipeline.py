"""The LR discriminator's augmentation pipeline: DiffAugment, then time stretch (spec model.md §5).

The same pipeline runs on reals, fakes and the R1 pass (inside the reference's run_D), so the
discriminator never sees an un-augmented clip. It is differentiable w.r.t. its input: R1 penalises the
gradient of D(augment(x)) w.r.t. the *pre-augmentation* real x.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lvg.augment.diffaugment import (
    DIFFAUGMENT_POLICY,
    DiffAugmentParams,
    diff_augment,
    sample_diffaugment_params,
)
from lvg.augment.time_stretch import TimeStretchParams, sample_time_stretch_params, time_stretch

__all__ = ["VideoAugmentParams", "VideoAugment"]


@dataclass
class VideoAugmentParams:
    """All draws for one batch; a stage whose params are None is skipped."""

    diff: DiffAugmentParams | None
    stretch: TimeStretchParams | None


class VideoAugment(nn.Module):
    """DiffAugment (``policy``) followed by time stretching with s = 2^U(-m, m), m = ``max_log2_scale``.

    ``policy=()`` disables DiffAugment and ``max_log2_scale=0`` disables the time stretch. The module has no
    parameters or buffers; all randomness comes from the ``generator`` passed to :meth:`forward` or
    :meth:`sample_params` (or from recorded params).
    """

    def __init__(
        self,
        policy: Sequence[str] = DIFFAUGMENT_POLICY,
        *,
        translation_ratio: float = 0.25,
        cutout_ratio: float = 0.5,
        max_log2_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.policy = tuple(policy)
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio
        self.max_log2_scale = max_log2_scale

    def sample_params(
        self, shape: Sequence[int], generator: torch.Generator | None = None
    ) -> VideoAugmentParams:
        """Draw the params for a video of ``shape`` = [N, C, T, H, W] (DiffAugment first, then stretch)."""
        n, _, t, h, w = shape
        diff = (
            sample_diffaugment_params(
                n,
                h,
                w,
                generator=generator,
                translation_ratio=self.translation_ratio,
                cutout_ratio=self.cutout_ratio,
            )
            if self.policy
            else None
        )
        stretch = (
            sample_time_stretch_params(n, t, max_log2_scale=self.max_log2_scale, generator=generator)
            if self.max_log2_scale > 0
            else None
        )
        return VideoAugmentParams(diff, stretch)

    def forward(
        self,
        video: Tensor,
        generator: torch.Generator | None = None,
        params: VideoAugmentParams | None = None,
    ) -> Tensor:
        """Augment a [N, C, T, H, W] video; same shape out. Uses ``params`` if given, else draws them."""
        assert video.ndim == 5, f"expected [N, C, T, H, W], got {tuple(video.shape)}"
        if params is None:
            params = self.sample_params(video.shape, generator)
        x = video
        if params.diff is not None:
            x = diff_augment(x, params.diff, policy=self.policy, cutout_ratio=self.cutout_ratio)
        if params.stretch is not None:
            x = time_stretch(x, params.stretch)
        assert x.shape == video.shape
        return x

    def extra_repr(self) -> str:
        return (
            f"policy={self.policy}, translation_ratio={self.translation_ratio}, "
            f"cutout_ratio={self.cutout_ratio}, max_log2_scale={self.max_log2_scale}"
        )
