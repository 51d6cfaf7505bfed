"""Random time stretching of clips before the LR discriminator (spec model.md §5).

Why: resampling a clip in time by s = 2^u, u ~ U(-1, 1), changes its apparent speed by 1/s (s > 1 is
slow motion: the clip gets longer and every output frame advances 1/s input frames). The discriminator
sees reals and fakes at the same random speeds, which regularises it against overfitting on motion speed.

Per sample (output length = input length T):

1. Linear resampling along time, exactly as ``F.interpolate(..., scale_factor=s, align_corners=False,
   recompute_scale_factor=False)``: the output has ``floor(T * s)`` frames and output frame j reads the
   source coordinate ``(j + 0.5) / s - 0.5`` (1/s, not T/T_out), clamped to the valid range.
2. If shorter than T: zero frames (mid-grey for [-1, 1] video) are split randomly, ``p0`` before and
   ``T - T_s - p0`` after.
3. If longer than T: a random T-frame window starting at ``i0`` is kept.

Randomness is explicit: :func:`sample_time_stretch_params` draws a :class:`TimeStretchParams` from a
``torch.Generator``; :func:`time_stretch` applies given (e.g. recorded) params or draws fresh ones.
Everything is differentiable w.r.t. the video (interpolation, padding and slicing), as R1 needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "TimeStretchParams",
    "stretched_length",
    "sample_time_stretch_params",
    "stretch_clip",
    "time_stretch",
]


def stretched_length(length: int, scale: float) -> int:
    """Frames after resampling ``length`` frames by ``scale``: floor(length * scale) in float64,

    with ``scale`` the float32 factor widened to double (what F.interpolate computes).
    """
    return math.floor(float(length) * float(scale))


@dataclass
class TimeStretchParams:
    """Per-sample time-stretch draw.

    Attributes:
        scale: [N] float32 factors s = 2^u.
        pad_before: [N] int64 zero frames inserted before the stretched clip (0 unless it is shorter than T).
        crop_start: [N] int64 first kept frame of the (padded) stretched clip (0 unless it is longer than T).
    """

    scale: Tensor
    pad_before: Tensor
    crop_start: Tensor

    def __post_init__(self) -> None:
        n = self.scale.shape[0]
        assert self.scale.shape == (n,) and self.scale.dtype == torch.float32, "scale must be float32 [N]"
        for name in ("pad_before", "crop_start"):
            value = getattr(self, name)
            assert value.shape == (n,) and not value.is_floating_point(), f"{name} must be an int [N]"

    def to(self, device: torch.device | str) -> TimeStretchParams:
        return TimeStretchParams(
            self.scale.to(device), self.pad_before.to(device), self.crop_start.to(device)
        )


def sample_time_stretch_params(
    batch: int,
    length: int,
    *,
    max_log2_scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> TimeStretchParams:
    """Draw s = 2^U(-m, m) and the pad split / crop start per sample (global RNG when generator is None).

    The offsets are uniform integers over their valid ranges: p0 in [0, max(0, T - T_s)] and
    i0 in [0, max(0, T_s - T)]. Draw order (all u, then all p0, then all i0) differs from the reference's
    global-RNG order; the distributions are the same.
    """
    device = generator.device if generator is not None else torch.device("cpu")
    u = (torch.rand(batch, generator=generator, device=device) * 2.0 - 1.0) * max_log2_scale
    scale = torch.exp2(u).float()
    lengths = torch.tensor([stretched_length(length, s) for s in scale.tolist()], device=device)
    pad_room = (length - lengths).clamp(min=0)
    crop_room = (lengths - length).clamp(min=0)
    # floor(U[0,1) * (room + 1)) is uniform on {0, ..., room}; clamp guards the float edge case.
    pad_before = (
        (torch.rand(batch, generator=generator, device=device) * (pad_room + 1)).long().clamp(max=pad_room)
    )
    crop_start = (torch.rand(batch, generator=generator, device=device) * (crop_room + 1)).long()
    crop_start = crop_start.clamp(max=crop_room)
    return TimeStretchParams(scale.cpu(), pad_before.cpu(), crop_start.cpu())


def stretch_clip(clip: Tensor, scale: float) -> Tensor:
    """Linearly resample one [C, T, H, W] clip along time by ``scale`` -> [C, floor(T*scale), H, W]."""
    c, t, h, w = clip.shape
    t_out = stretched_length(t, scale)
    if t_out < 1:
        raise ValueError(f"stretching {t} frames by {scale} leaves no frames")
    seq = clip.permute(0, 2, 3, 1).reshape(1, c * h * w, t)  # time last for 1-D interpolation
    out = F.interpolate(
        seq, scale_factor=float(scale), mode="linear", align_corners=False, recompute_scale_factor=False
    )
    assert out.shape == (1, c * h * w, t_out), f"unexpected interpolation output {tuple(out.shape)}"
    return out.reshape(c, h, w, t_out).permute(0, 3, 1, 2)


def time_stretch(
    video: Tensor,
    params: TimeStretchParams | None = None,
    *,
    generator: torch.Generator | None = None,
    max_log2_scale: float = 1.0,
) -> Tensor:
    """Time-stretch each clip of a [N, C, T, H, W] video and bring it back to T frames (pad or crop)."""
    assert video.ndim == 5, f"expected [N, C, T, H, W], got {tuple(video.shape)}"
    n, _, t, _, _ = video.shape
    if params is None:
        params = sample_time_stretch_params(n, t, max_log2_scale=max_log2_scale, generator=generator)
    assert params.scale.shape == (n,), f"params for {params.scale.shape[0]} clips, video has {n}"
    out = []
    for i, (s, p0, i0) in enumerate(
        zip(params.scale.tolist(), params.pad_before.tolist(), params.crop_start.tolist(), strict=True)
    ):
        clip = stretch_clip(video[i], s)
        t_s = clip.shape[1]
        if t_s < t:
            if not 0 <= p0 <= t - t_s:
                raise ValueError(f"sample {i}: pad_before {p0} outside [0, {t - t_s}]")
            clip = F.pad(clip, (0, 0, 0, 0, p0, t - t_s - p0))
        if not 0 <= i0 <= clip.shape[1] - t:
            raise ValueError(f"sample {i}: crop_start {i0} outside [0, {clip.shape[1] - t}]")
        out.append(clip[:, i0 : i0 + t])
    result = torch.stack(out)
    assert result.shape == video.shape
    return result
