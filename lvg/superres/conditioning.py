"""Conditioning path of the super-resolution generator (spec model.md §6): LR frames -> per-layer inputs.

Every HR frame ``t`` is synthesised from the 9-frame LR window ``t - 4 .. t + 4`` (``temporal_context`` 4),
stacked channel-major into 27 channels (``R0..R8, G0..G8, B0..B8``: channel = ``colour * 9 + s``). Before each
synthesis layer (ToRGB included) the window is brought to that layer's input grid:

1. replicate-pad the LR image to a square of side ``max(h, w)`` plus ``margin`` pixels on every side
   (left/top get ``(S - n) // 2 + margin``, right/bottom ``(S - n + 1) // 2 + margin``);
2. resample it by ``scale = layer input sampling rate / max(h, w)``, a power of two: Kaiser low-pass
   decimation for ``scale < 1``, Kaiser interpolation for ``scale > 1``, the identity for 1. For an integer
   factor ``s`` the filter is ``firwin(6 s taps, cutoff 1, width 6, fs 4 s)`` and borders are replicated
   (``s`` pixels before decimating, 1 pixel before interpolating);
3. centre-crop (start ``floor((n - size) / 2)``) or replicate-pad (``floor(d / 2)`` before, ``ceil(d / 2)``
   after) to the layer's input size, after which the generator concatenates it after the layer's features.

All of this is per channel and per frame (spatial only), so :meth:`SRConditioning.forward_video` resamples
each LR frame once (:meth:`~SRConditioning.resample_video`) and only then unfolds the 9-frame windows
(:meth:`~SRConditioning.windows`, also for just a few output frames at a time); :meth:`SRConditioning.forward` takes
already-stacked windows. Both compute the same function. Layers that share a scale and an input size get
the same tensor object.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import torch.nn.functional as F
from torch import Tensor, nn

from lvg.nn.filtered import design_lowpass_filter, upfirdn2d

__all__ = [
    "KaiserDownsample",
    "KaiserUpsample",
    "SRConditioning",
    "crop_or_pad",
    "pad_square_replicate",
    "resampler_key",
    "stack_windows",
]

FILTER_SIZE = 6  # taps per unit of scale
CUTOFF = 1.0
WIDTH = 6.0
SAMPLING_RATE = 4.0  # fs = scale * 4


def kaiser_resample_taps(scale: int) -> Tensor:
    """``firwin(6 * scale, cutoff=1, width=6, fs=4 * scale)`` as float32."""
    taps = design_lowpass_filter(FILTER_SIZE * scale, CUTOFF, WIDTH, SAMPLING_RATE * scale)
    assert taps is not None
    return taps


class KaiserDownsample(nn.Module):
    """Decimate ``[N, C, H, W]`` by an integer ``scale`` with a Kaiser low-pass; output ``H / s x W / s``.

    Replicate-pad ``s`` pixels per side, filter (true convolution) with zero padding
    ``(taps - s + 1) // 2 - s`` before and ``(taps - s) // 2 - s`` after, keep samples ``0, s, 2s, ...``.
    """

    def __init__(self, scale: int) -> None:
        super().__init__()
        if scale < 2:
            raise ValueError(f"downsampling scale must be >= 2, got {scale}")
        self.scale = scale
        self.register_buffer("filter", kaiser_resample_taps(scale), persistent=False)
        taps = FILTER_SIZE * scale
        self.pad0 = (taps - scale + 1) // 2 - scale
        self.pad1 = (taps - scale) // 2 - scale

    def forward(self, x: Tensor) -> Tensor:
        s = self.scale
        x = F.pad(x, [s, s, s, s], mode="replicate")
        return upfirdn2d(x, self.filter, down=s, padding=(self.pad0, self.pad1, self.pad0, self.pad1))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class KaiserUpsample(nn.Module):
    """Interpolate ``[N, C, H, W]`` by an integer ``scale`` with a Kaiser low-pass; output ``H s x W s``.

    Replicate-pad 1 pixel per side, zero-insert, filter (gain ``s`` per axis) with zero padding
    ``(taps + s - 1) // 2 - s`` before and ``(taps - s) // 2 - s`` after.
    """

    def __init__(self, scale: int) -> None:
        super().__init__()
        if scale < 2:
            raise ValueError(f"upsampling scale must be >= 2, got {scale}")
        self.scale = scale
        self.register_buffer("filter", kaiser_resample_taps(scale), persistent=False)
        taps = FILTER_SIZE * scale
        self.pad0 = (taps + scale - 1) // 2 - scale
        self.pad1 = (taps - scale) // 2 - scale

    def forward(self, x: Tensor) -> Tensor:
        s = self.scale
        x = F.pad(x, [1, 1, 1, 1], mode="replicate")
        return upfirdn2d(x, self.filter, up=s, padding=(self.pad0, self.pad1, self.pad0, self.pad1), gain=s * s)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def resampler_key(scale: Fraction) -> str:
    """``'down4'``, ``'down2'``, ``'identity'``, ``'up2'``, ... for a power-of-two ``scale``."""
    if scale == 1:
        return "identity"
    if scale < 1:
        inv = 1 / scale
        if inv.denominator != 1 or inv.numerator & (inv.numerator - 1):
            raise ValueError(f"conditioning scale {scale} is not a power of two")
        return f"down{inv.numerator}"
    if scale.denominator != 1 or scale.numerator & (scale.numerator - 1):
        raise ValueError(f"conditioning scale {scale} is not a power of two")
    return f"up{scale.numerator}"


def _make_resampler(key: str) -> nn.Module:
    if key == "identity":
        return nn.Identity()
    if key.startswith("down"):
        return KaiserDownsample(int(key[4:]))
    return KaiserUpsample(int(key[2:]))


def pad_square_replicate(x: Tensor, margin: int) -> Tensor:
    """Replicate-pad ``[..., h, w]`` to ``(S + 2 margin)^2`` with ``S = max(h, w)`` (extra pixel right/bottom)."""
    h, w = x.shape[-2:]
    s = max(h, w)
    pads = [(s - w) // 2 + margin, (s - w + 1) // 2 + margin, (s - h) // 2 + margin, (s - h + 1) // 2 + margin]
    if x.ndim == 4:
        return F.pad(x, pads, mode="replicate")
    lead = x.shape[:-2]
    return F.pad(x.reshape(-1, 1, h, w), pads, mode="replicate").reshape(*lead, h + pads[2] + pads[3],
                                                                         w + pads[0] + pads[1])


def crop_or_pad(x: Tensor, height: int, width: int) -> Tensor:
    """Centre-crop ``[N, C, H, W]`` to at most ``height x width`` (start ``floor((n - size) / 2)``), then
    replicate-pad what is missing (``floor(d / 2)`` before, ``ceil(d / 2)`` after)."""
    h, w = x.shape[-2:]
    top, left = max(0, (h - height) // 2), max(0, (w - width) // 2)
    x = x[:, :, top:top + height, left:left + width]
    dh, dw = height - x.shape[-2], width - x.shape[-1]
    if dh or dw:
        x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2], mode="replicate")
    return x


def stack_windows(lr_video: Tensor, temporal_context: int = 4) -> Tensor:
    """``[N, C, T + 2k, H, W]`` -> ``[N * T, C * (2k + 1), H, W]``: one channel-major window per output frame.

    Row ``n * T + t`` holds frames ``t .. t + 2k`` (input indexing), channel ``c * (2k + 1) + s``.
    """
    n, c, t_in, h, w = lr_video.shape
    span = 2 * temporal_context + 1
    t = t_in - 2 * temporal_context
    if t < 1:
        raise ValueError(f"need at least {span} LR frames, got {t_in}")
    win = lr_video.unfold(2, span, 1)  # [N, C, T, H, W, span]
    return win.permute(0, 2, 1, 5, 3, 4).reshape(n * t, c * span, h, w)


class SRConditioning(nn.Module):
    """LR window -> one conditioning tensor per synthesis layer (no learnable parameters).

    Args:
        lr_size: ``(h, w)`` of the LR frames.
        layer_rates: input sampling rate of every synthesis layer (ToRGB included).
        layer_sizes: input ``(height, width)`` of every synthesis layer.
        temporal_context: LR frames on each side of the output frame (window ``2k + 1``).
        margin: extra replicated pixels around the squared LR image.
        img_channels: colour channels per LR frame.
    """

    def __init__(self, lr_size: tuple[int, int], layer_rates: Sequence[int], layer_sizes: Sequence[tuple[int, int]],
                 *, temporal_context: int = 4, margin: int = 10, img_channels: int = 3) -> None:
        super().__init__()
        if len(layer_rates) != len(layer_sizes):
            raise ValueError("layer_rates and layer_sizes must have equal lengths")
        self.lr_size = (int(lr_size[0]), int(lr_size[1]))
        self.temporal_context = temporal_context
        self.margin = margin
        self.window = 2 * temporal_context + 1
        self.channels = img_channels * self.window
        edge = max(self.lr_size)
        self.layer_keys = [resampler_key(Fraction(int(r), edge)) for r in layer_rates]
        self.layer_sizes = [(int(h), int(w)) for h, w in layer_sizes]
        self.resamplers = nn.ModuleDict({k: _make_resampler(k) for k in dict.fromkeys(self.layer_keys)})

    def resample(self, x: Tensor, key: str) -> Tensor:
        """Resampler ``key`` (see :func:`resampler_key`) applied to a squared, margin-padded ``[B, C, S, S]``."""
        return self.resamplers[key](x)

    def _per_layer(self, x: Tensor) -> list[Tensor]:
        x = pad_square_replicate(x, self.margin)
        resampled: dict[str, Tensor] = {}
        out: dict[tuple[str, tuple[int, int]], Tensor] = {}
        result = []
        for key, size in zip(self.layer_keys, self.layer_sizes, strict=True):
            if (key, size) not in out:
                if key not in resampled:
                    resampled[key] = self.resample(x, key)
                out[key, size] = crop_or_pad(resampled[key], *size)
            result.append(out[key, size])
        return result

    def forward(self, windows: Tensor) -> list[Tensor]:
        """Stacked windows ``[M, C * (2k + 1), h, w]`` -> per-layer ``[M, C * (2k + 1), H_i, W_i]``."""
        assert windows.ndim == 4 and windows.shape[1] == self.channels, tuple(windows.shape)
        assert tuple(windows.shape[-2:]) == self.lr_size, (tuple(windows.shape), self.lr_size)
        return self._per_layer(windows)

    def forward_video(self, lr_video: Tensor) -> list[Tensor]:
        """LR clip ``[N, C, T + 2k, h, w]`` -> per-layer ``[N * T, C * (2k + 1), H_i, W_i]`` (row ``n * T + t``).

        Resamples every frame once, then unfolds the windows: the same function as
        ``forward(stack_windows(lr_video))`` at a ninth of the filtering cost.
        """
        return self.windows(self.resample_video(lr_video), 0, lr_video.shape[2] - 2 * self.temporal_context)

    def resample_video(self, lr_video: Tensor) -> list[Tensor]:
        """LR clip ``[N, C, T_in, h, w]`` -> per-layer resampled clips ``[N, C, T_in, H_i, W_i]``, not yet
        stacked into windows (so 9x smaller than the conditioning); layers may share one object."""
        assert lr_video.ndim == 5 and tuple(lr_video.shape[-2:]) == self.lr_size, tuple(lr_video.shape)
        n, c, t_in, h, w = lr_video.shape
        per_layer = self._per_layer(lr_video.transpose(1, 2).reshape(n * t_in, c, h, w))
        clips = {id(x): x.reshape(n, t_in, c, *x.shape[-2:]).transpose(1, 2) for x in per_layer}
        return [clips[id(x)] for x in per_layer]

    def windows(self, clips: list[Tensor], t0: int, t1: int) -> list[Tensor]:
        """Per-layer windows of output frames ``t0 .. t1 - 1`` from :meth:`resample_video`'s clips:
        ``[N * (t1 - t0), C * (2k + 1), H_i, W_i]`` (row ``n * (t1 - t0) + t - t0``)."""
        span = 2 * self.temporal_context
        stacked = {id(v): stack_windows(v[:, :, t0:t1 + span], self.temporal_context) for v in clips}
        return [stacked[id(v)] for v in clips]

    def extra_repr(self) -> str:
        return f"lr_size={self.lr_size}, window={self.window}, margin={self.margin}, layers={self.layer_keys}"
