"""Adaptive discriminator augmentation (ADA) for the super-resolution discriminator (spec model.md §8).

Two parts:

* :class:`AdaptiveP`, the probability controller: ``p`` starts at 0; every ``interval`` steps the mean sign
  of D's real logits since the last adjustment, ``r_t``, is compared with ``target`` (0.6) and ``p`` moves by
  ``+adjust`` (D overconfident on reals, ``r_t > target``) or ``-adjust`` (otherwise), clipped to
  ``[0, max_p]`` (the reference: 0.0005 every 4 steps, capped at 0.5). Its whole state (``p``, the sign sum
  and count of the open interval) is plain floats, saved with the algorithm's rank state for exact resume.
* :func:`ada_augment`, the "bgc" pipeline of StyleGAN2-ADA in pure torch: geometric ops (xflip, rotate90,
  xint, scale, rotate, aniso, rotate, xfrac) composed into one inverse homogeneous matrix per clip, then
  colour ops (brightness, contrast, lumaflip, hue, saturation) composed into one 4x4 colour matrix per clip.
  Every op is enabled per clip with probability ``p`` (the two rotations with ``1 - sqrt(1 - p)`` each, as in
  ADA). The video is ``[N, C, T, H, W]``; frames are folded into channels for the warp, so **one transform
  hits every frame** of a clip — the SR discriminator's input holds the upsampled LR half and the HR half
  along time, so both halves get the same transform.

The geometric warp is bilinear with reflection at the borders, written with ``gather`` (no
``grid_sample``) so it is twice differentiable w.r.t. the video: R1 is taken through the augmentation.
Deviation from ADA: no wavelet up/down-sampling around the warp (the anti-aliasing), which matters little
at the small ``p`` this model reaches. All randomness comes from an explicit ``torch.Generator`` (CPU);
:func:`sample_geometric` / :func:`sample_color` return the drawn matrices so they can be inspected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "AdaptiveP",
    "ada_augment",
    "apply_color",
    "identity",
    "sample_color",
    "sample_geometric",
    "warp",
]

# StyleGAN2-ADA defaults for the "bgc" ops
XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0
_LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)  # luma axis of the colour space


# ---------------------------------------------------------------------------------------------- controller
@dataclass
class AdaptiveP:
    """ADA's probability: adjusted every ``interval`` steps by ``±adjust`` towards a real-logit sign of
    ``target``, within ``[0, max_p]``. ``interval = 0`` freezes ``p``."""

    target: float = 0.6
    interval: int = 4
    adjust: float = 0.0005
    max_p: float = 0.5
    p: float = 0.0
    sign_sum: float = 0.0
    count: float = 0.0

    def accumulate(self, real_logits: Tensor) -> None:
        """Add the signs of one batch of real logits to the open interval."""
        s = real_logits.detach().float().sign()
        self.sign_sum += float(s.sum())
        self.count += float(s.numel())

    def maybe_update(self, step: int, reduce=None) -> bool:
        """After 0-based ``step``: adjust ``p`` when ``step + 1`` is a multiple of ``interval``.

        ``reduce`` maps ``{"sign_sum": ., "count": .}`` to its mean over ranks (None on one process).
        Returns True when ``p`` was adjusted.
        """
        if self.interval <= 0 or (step + 1) % self.interval:
            return False
        acc = {"sign_sum": self.sign_sum, "count": self.count}
        if reduce is not None:
            acc = reduce(acc)
        self.sign_sum = self.count = 0.0
        if acc["count"] <= 0:
            return False
        rt = acc["sign_sum"] / acc["count"]
        step_p = self.adjust if rt > self.target else -self.adjust
        self.p = float(min(max(self.p + step_p, 0.0), self.max_p))
        return True

    def state(self) -> dict[str, float]:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count}

    def load_state(self, s: dict[str, float]) -> None:
        self.p, self.sign_sum, self.count = float(s["p"]), float(s["sign_sum"]), float(s["count"])


# ---------------------------------------------------------------------------------------------- matrices
def identity(n: int, k: int = 3) -> Tensor:
    return torch.eye(k, dtype=torch.float64).expand(n, k, k).clone()


def _translate(tx: Tensor, ty: Tensor) -> Tensor:
    m = identity(tx.shape[0])
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale(sx: Tensor, sy: Tensor) -> Tensor:
    m = identity(sx.shape[0])
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: Tensor) -> Tensor:
    m = identity(theta.shape[0])
    c, s = theta.cos(), theta.sin()
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _gate(x: Tensor, neutral: float, prob: float, g: torch.Generator) -> Tensor:
    """``x`` where a per-clip coin with probability ``prob`` says so, else ``neutral`` (one draw per clip)."""
    on = torch.rand(x.shape[0], generator=g, dtype=torch.float64) < prob
    return torch.where(on, x, torch.full_like(x, neutral))


def _u(n: int, g: torch.Generator) -> Tensor:
    return torch.rand(n, generator=g, dtype=torch.float64)


def _n(n: int, g: torch.Generator) -> Tensor:
    return torch.randn(n, generator=g, dtype=torch.float64)


def sample_geometric(n: int, height: int, width: int, p: float, generator: torch.Generator, *,
                     xflip: float = 1.0, rotate90: float = 1.0, xint: float = 1.0, scale: float = 1.0,
                     rotate: float = 1.0, aniso: float = 1.0, xfrac: float = 1.0,
                     xint_max: float = XINT_MAX, scale_std: float = SCALE_STD, rotate_max: float = ROTATE_MAX,
                     aniso_std: float = ANISO_STD, xfrac_std: float = XFRAC_STD) -> Tensor:
    """Inverse geometric transforms ``[n, 3, 3]`` (float64, pixel units about the image centre): output pixel
    ``(x, y, 1)`` samples the input at ``G_inv @ (x, y, 1)``. An op weight of 0 disables it (its draws are still
    made, so the stream does not depend on which ops are on)."""
    g, H, W = generator, height, width
    G = identity(n)
    i = torch.floor(_u(n, g) * 2)  # xflip
    G = G @ _scale(_gate(1 - 2 * i, 1.0, p * xflip, g), torch.ones(n, dtype=torch.float64))
    i = torch.floor(_u(n, g) * 4)  # rotate90
    G = G @ _rotate(_gate(-math.pi / 2 * i, 0.0, p * rotate90, g))
    t = (_u(n, g) * 2 - 1) * xint_max  # integer translation
    on = _gate(torch.ones(n, dtype=torch.float64), 0.0, p * xint, g)
    G = G @ _translate(torch.round(t * W) * on, torch.round((_u(n, g) * 2 - 1) * xint_max * H) * on)
    s = torch.exp2(_n(n, g) * scale_std)  # isotropic scale
    s = _gate(s, 1.0, p * scale, g)
    G = G @ _scale(s, s)
    p_rot = 1 - math.sqrt(max(0.0, 1 - min(1.0, p * rotate)))
    G = G @ _rotate(_gate((_u(n, g) * 2 - 1) * math.pi * rotate_max, 0.0, p_rot, g))  # pre-rotation
    s = _gate(torch.exp2(_n(n, g) * aniso_std), 1.0, p * aniso, g)  # anisotropic scale
    G = G @ _scale(s, 1 / s)
    G = G @ _rotate(_gate((_u(n, g) * 2 - 1) * math.pi * rotate_max, 0.0, p_rot, g))  # post-rotation
    on = _gate(torch.ones(n, dtype=torch.float64), 0.0, p * xfrac, g)  # fractional translation
    G = G @ _translate(_n(n, g) * xfrac_std * W * on, _n(n, g) * xfrac_std * H * on)
    return G


def sample_color(n: int, p: float, generator: torch.Generator) -> Tensor:
    """Colour transforms ``[n, 4, 4]`` (float64) acting on ``(r, g, b, 1)``: brightness, contrast, lumaflip, hue,
    saturation, each on with probability ``p`` per clip (ADA's "c" ops)."""
    g = generator
    C = identity(n, 4)
    b = _gate(_n(n, g) * BRIGHTNESS_STD, 0.0, p, g)
    T = identity(n, 4)
    T[:, :3, 3] = b[:, None]
    C = T @ C
    c = _gate(torch.exp2(_n(n, g) * CONTRAST_STD), 1.0, p, g)
    S = identity(n, 4)
    S[:, 0, 0] = S[:, 1, 1] = S[:, 2, 2] = c
    C = S @ C
    v = _LUMA.double()
    vv = torch.outer(v, v)
    i = _gate(torch.floor(_u(n, g) * 2), 0.0, p, g)
    C = (identity(n, 4) - 2 * vv * i[:, None, None]) @ C  # Householder reflection of the luma axis
    theta = _gate((_u(n, g) * 2 - 1) * math.pi * HUE_MAX, 0.0, p, g)
    C = _rotate3d(v[:3], theta) @ C
    s = _gate(torch.exp2(_n(n, g) * SATURATION_STD), 1.0, p, g)
    C = (vv + (identity(n, 4) - vv) * s[:, None, None]) @ C
    return C


def _rotate3d(axis: Tensor, theta: Tensor) -> Tensor:
    """Rotations ``[n, 4, 4]`` by ``theta`` about the unit ``axis`` (Rodrigues)."""
    x, y, z = axis.tolist()
    K = torch.tensor([[0, -z, y], [z, 0, -x], [-y, x, 0]], dtype=torch.float64)
    R = identity(theta.shape[0], 4)
    R[:, :3, :3] = (torch.eye(3, dtype=torch.float64) + theta.sin()[:, None, None] * K
                    + (1 - theta.cos())[:, None, None] * (K @ K))
    return R


# ---------------------------------------------------------------------------------------------- application
def _reflect(i: Tensor, size: int) -> Tensor:
    """Integer indices reflected into ``[0, size)`` (symmetric: ... 1 0 | 0 1 ... size-1 | size-1 ...)."""
    period = 2 * size
    i = torch.remainder(i, period)
    return torch.where(i >= size, period - 1 - i, i)


def warp(video: Tensor, G_inv: Tensor) -> Tensor:
    """Warp every frame of clip ``k`` of ``video [N, C, T, H, W]`` by ``G_inv[k]`` (bilinear, reflected borders).

    Differentiable (to any order) w.r.t. ``video``; the sampling grid carries no gradient.
    """
    n, c, t, h, w = video.shape
    with torch.no_grad():
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64) - (h - 1) / 2,
                                torch.arange(w, dtype=torch.float64) - (w - 1) / 2, indexing="ij")
        pts = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones(h * w, dtype=torch.float64)])  # [3, HW]
        src = G_inv.double() @ pts  # [N, 3, HW]
        sx, sy = src[:, 0] + (w - 1) / 2, src[:, 1] + (h - 1) / 2
        x0, y0 = sx.floor(), sy.floor()
        fx, fy = (sx - x0), (sy - y0)
        x0, y0 = x0.long(), y0.long()
        idx, wts = [], []
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                idx.append(_reflect(y0 + dy, h) * w + _reflect(x0 + dx, w))
                wts.append(wy * wx)
        idx_t = torch.stack(idx, 1).to(video.device)  # [N, 4, HW]
        wts_t = torch.stack(wts, 1).to(device=video.device, dtype=video.dtype)
    flat = video.reshape(n, c * t, h * w)
    out = torch.zeros_like(flat)
    for k in range(4):
        gathered = torch.gather(flat, 2, idx_t[:, k:k + 1].expand(n, c * t, h * w))
        out = out + gathered * wts_t[:, k:k + 1]
    return out.reshape(n, c, t, h, w)


def apply_color(video: Tensor, C: Tensor) -> Tensor:
    """``video [N, 3, T, H, W]`` times the per-clip colour matrices ``C [N, 4, 4]`` (same for every frame)."""
    C = C.to(device=video.device, dtype=video.dtype)
    return torch.einsum("nij,njthw->nithw", C[:, :3, :3], video) + C[:, :3, 3, None, None, None]


def ada_augment(video: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """The "bgc" pipeline on ``video [N, 3, T, H, W]`` with probability ``p``, one transform per clip.

    ``p = 0`` returns ``video`` itself (no draws). Draws always happen in the same order and number for a
    given batch size, whatever the coins say.
    """
    if p <= 0:
        return video
    n, _, _, h, w = video.shape
    G_inv = sample_geometric(n, h, w, p, generator)
    C = sample_color(n, p, generator)
    return apply_color(warp(video, G_inv), C)
