"""The SR model's input degradation ("in_augment", spec model.md §8).

The SR generator only ever sees real, downsampled LR frames in training; at inference it gets generated LR
frames. The bridge is this fixed-probability augmentation of the LR input (G, D and R1 steps alike): a
mild AugmentPipe with ``p = 0.5`` whose ops are, each on per clip with probability ``p``:

* isotropic scale ``2 ** N(0, 0.08)``;
* rotation uniform in ``±0.016`` of a full turn (twice, before and after the anisotropic scale, each with
  probability ``1 - sqrt(1 - p)``, as ADA does);
* anisotropic scale ``2 ** N(0, 0.08)`` on x, its inverse on y;
* fractional translation ``N(0, 0.016)`` of the width / height;
* additive Gaussian noise with per-clip std ``|N(0, 0.08)|``.

One draw per clip, the same for all its frames (:func:`lvg.augment.ada.warp`). Shapes are unchanged. In
the D step the real and the fake LR are the same clip degraded independently (two calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lvg.augment.ada import identity, sample_geometric, warp

__all__ = ["DegradeParams", "degrade", "sample_degrade_params"]

SCALE_STD, ROTATE_MAX_TURN, ANISO_STD, XFRAC_STD, NOISE_STD = 0.08, 0.016, 0.08, 0.016, 0.08


@dataclass
class DegradeParams:
    """One draw per clip: the inverse warp ``[N, 3, 3]`` and the noise std ``[N]`` (0 where noise is off)."""

    G_inv: Tensor
    noise_std: Tensor

    @property
    def changed(self) -> Tensor:
        """Bool ``[N]``: clips that any op touches."""
        geo = (self.G_inv - identity(self.G_inv.shape[0])).abs().amax(dim=(1, 2)) > 0
        return geo | (self.noise_std > 0)


def sample_degrade_params(n: int, height: int, width: int, p: float, generator: torch.Generator
                          ) -> DegradeParams:
    g = generator
    G_inv = sample_geometric(n, height, width, p, g, xflip=0, rotate90=0, xint=0,
                             scale_std=SCALE_STD, rotate_max=ROTATE_MAX_TURN * 2, aniso_std=ANISO_STD,
                             xfrac_std=XFRAC_STD)
    sigma = torch.randn(n, generator=g, dtype=torch.float64).abs() * NOISE_STD
    on = torch.rand(n, generator=g, dtype=torch.float64) < p
    return DegradeParams(G_inv, torch.where(on, sigma, torch.zeros_like(sigma)))


def degrade(video: Tensor, p: float, generator: torch.Generator, params: DegradeParams | None = None
            ) -> Tensor:
    """Degrade ``video [N, C, T, h, w]`` (one transform per clip); ``p = 0`` returns it unchanged."""
    if p <= 0 and params is None:
        return video
    n, c, t, h, w = video.shape
    if params is None:
        params = sample_degrade_params(n, h, w, p, generator)
    geo = (params.G_inv - identity(n)).abs().amax(dim=(1, 2)) > 0
    out = video
    if bool(geo.any()):  # clips without a geometric op stay bit-identical (no resampling round-off)
        out = torch.where(geo.to(video.device).reshape(n, 1, 1, 1, 1), warp(video, params.G_inv), video)
    if bool((params.noise_std > 0).any()):
        noise = torch.randn(video.shape, generator=generator, dtype=torch.float32).to(video.device, video.dtype)
        out = out + noise * params.noise_std.to(video.device, video.dtype).reshape(n, 1, 1, 1, 1)
    return out

