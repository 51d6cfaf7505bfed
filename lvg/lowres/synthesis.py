"""LR synthesis network parts: the space-time residual block, ToRGB, length bookkeeping and the w schedule.

Time layout (paper Sec. 3.1, reference ``VideoGenerator``): the synthesis network starts at 1/32 of the frame
rate and doubles it in five of its temporal blocks. Every level carries ``temporal_padding`` (8) extra frames
on each side: zero-padded convolutions and upsampling only corrupt a few frames at the edges, and each block
crops 8 frames per side after upsampling, so the corruption never reaches the output. With sample ``k`` of a
level at scale ``s`` covering frames ``[(k - 8) s, (k - 7) s)`` of the output, all levels share one time axis.

Each block has its own w sequence at its *input* frame rate (styles are per input frame): full-rate w is
low-passed and decimated by 2 (Kaiser) before every block that upsamples time, and centre-cropped to the
block's input length (:func:`latent_schedule`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.nn.layers import SQRT_HALF, MagnitudeEMA, ModulatedConv3d, bias_act, can_overwrite
from lvg.nn.resample import (
    center_crop,
    center_crop_space,
    kaiser_downsample2x,
    upsample2x_space,
    upsample2x_time,
)


class SynthesisBlock(nn.Module):
    """Residual block with per-frame modulated 3D convs and optional x2 time / space upsampling.

    The reference's ``Synthesis3dResBlock``. In order: input gain (magnitude EMA) -> modulated conv0
    (in -> in) + bias + lrelu -> input gain -> modulated conv1 (in -> out) -> plus an unmodulated 1x1x1 skip
    of the gained input, times sqrt(0.5) -> [linear x2 in time] -> centre-crop time to ``out_frames`` ->
    [bilinear x2 in space] -> centre-crop space to ``out_size`` -> bias + lrelu (clamped).
    Spatial-only blocks use ``temporal_ksize=1``. ``style_norm="clip"`` is the reference's exact arithmetic,
    ``"none"`` the window-independent variant (see :func:`lvg.nn.layers.modulated_conv3d`).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, temporal_ksize: int = 3,
                 spatial_ksize: int = 3, temporal_up: bool = False, spatial_up: bool = False,
                 out_size: tuple[int, int] | None = None, clamp: float = 256.0,
                 style_norm: str = "none") -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.temporal_up, self.spatial_up, self.clamp = temporal_up, spatial_up, clamp
        self.out_size = tuple(out_size) if out_size is not None else None
        kernel = (temporal_ksize, spatial_ksize, spatial_ksize)
        self.gain0 = MagnitudeEMA()
        self.conv0 = ModulatedConv3d(in_channels, in_channels, w_dim, kernel, style_norm=style_norm)
        self.bias0 = nn.Parameter(torch.zeros(in_channels))
        self.gain1 = MagnitudeEMA()
        self.conv1 = ModulatedConv3d(in_channels, out_channels, w_dim, kernel, style_norm=style_norm)
        self.skip_weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1, 1))
        self.bias1 = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, *, out_frames: int | None = None,
                update_ema: bool = False) -> Tensor:
        """``x [N, C_in, T, H, W]``, ``w [N, w_dim, T]`` -> ``[N, C_out, T', H', W']``."""
        assert x.ndim == 5 and x.shape[1] == self.in_channels, (tuple(x.shape), self.in_channels)
        x = self.gain0(x, update_ema)
        h = bias_act(self.conv0(x, w), self.bias0, act="lrelu", clamp=self.clamp, inplace=True)
        h = self.conv1(self.gain1(h, update_ema), w)
        skip = F.conv3d(x, (self.skip_weight / math.sqrt(self.in_channels)).to(x.dtype))
        y = h.add_(skip).mul_(SQRT_HALF) if can_overwrite(h) else (h + skip) * SQRT_HALF
        if self.temporal_up:
            y = upsample2x_time(y)
        if out_frames is not None:
            y = center_crop(y, out_frames, dim=2)
        if self.spatial_up:
            y = upsample2x_space(y)
        if self.out_size is not None:
            y = center_crop_space(y, *self.out_size)
        # a cropped view is copied out contiguous (the next conv wants that); otherwise overwrite our own y
        return bias_act(y, self.bias1, act="lrelu", clamp=self.clamp, inplace=y.is_contiguous())

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, temporal_up={self.temporal_up}, "
                f"spatial_up={self.spatial_up}, out_size={self.out_size}")


class ToRGB(nn.Module):
    """Per-frame modulated 1x1x1 conv to RGB, no demodulation, plus bias (clamped); input gain as above."""

    def __init__(self, in_channels: int, w_dim: int, *, out_channels: int = 3, clamp: float = 256.0) -> None:
        super().__init__()
        self.clamp = clamp
        self.gain = MagnitudeEMA()
        self.conv = ModulatedConv3d(in_channels, out_channels, w_dim, (1, 1, 1), demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, *, update_ema: bool = False) -> Tensor:
        return bias_act(self.conv(self.gain(x, update_ema), w), self.bias, clamp=self.clamp, inplace=True)


@dataclass(frozen=True)
class SeqLengths:
    """Frame counts of every temporal level for one requested output length (the reference's bookkeeping).

    Attributes:
        num_frames: requested output frames ``T``.
        input_length: frames of the synthesis input at the lowest rate (1/32 in the paper).
        block_out_lengths: ``out_frames`` of each temporal block, forward order (the last is ``T``).
        block_in_lengths: input frames of each temporal block (= length of its w sequence).
        emb_length: temporal-embedding frames at the full rate (``input_length * total_temporal_scale``).
        noise_length: white-noise samples fed to the filter bank (``emb_length + kernel_size - 1``).
    """

    num_frames: int
    input_length: int
    block_out_lengths: tuple[int, ...]
    block_in_lengths: tuple[int, ...]
    emb_length: int
    noise_length: int

    def latent_lengths(self, num_spatial_blocks: int) -> list[int]:
        """Lengths of all w sequences: [temporal input, temporal blocks..., spatial blocks..., to_rgb]."""
        return [self.input_length, *self.block_in_lengths] + [self.num_frames] * (num_spatial_blocks + 1)


def compute_seq_lengths(num_frames: int, temporal_up: Sequence[bool], temporal_padding: int = 8,
                        kernel_size: int = 5000) -> SeqLengths:
    """Walk the temporal blocks from last to first: the scale doubles at each upsampling block, and the
    length a block needs from the one below is ``ceil(T / scale) + 2 * temporal_padding``."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    out_lengths: list[int] = []
    needed, scale = num_frames, 1
    for up in reversed(temporal_up):
        out_lengths.append(needed)
        scale *= 2 if up else 1
        needed = math.ceil(num_frames / scale) + 2 * temporal_padding
    out_lengths.reverse()
    in_lengths = (needed, *out_lengths[:-1])
    emb_length = needed * scale
    return SeqLengths(num_frames, needed, tuple(out_lengths), in_lengths, emb_length,
                      emb_length + kernel_size - 1)


@dataclass
class LatentSchedule:
    """Per-block w sequences ``[N, w_dim, len]``: temporal input, temporal blocks, and the full-rate crop
    shared by the spatial blocks and ToRGB."""

    temporal_input: Tensor
    temporal: list[Tensor]
    spatial: Tensor


def latent_schedule(w: Tensor, lengths: SeqLengths, temporal_up: Sequence[bool], taps: Tensor) -> LatentSchedule:
    """Split full-rate w ``[N, w_dim, L]`` into the per-block sequences (reference ``compute_latent_ws``).

    Walking the temporal blocks from last to first, the running full-length w is Kaiser-decimated by 2 at
    each upsampling block and a centre crop of it (the block's input length) is that block's w. ``L`` may
    exceed ``lengths.emb_length`` by a margin on each side (multiples of the total temporal scale keep every
    crop aligned): the zero-padded borders of the decimations then fall outside every crop.
    """
    assert w.ndim == 3, tuple(w.shape)
    temporal: list[Tensor] = [w] * len(temporal_up)
    cur = w
    for i in reversed(range(len(temporal_up))):
        if temporal_up[i]:
            cur = kaiser_downsample2x(cur, taps, dim=2)
        temporal[i] = center_crop(cur, lengths.block_in_lengths[i], dim=2)
    spatial = center_crop(w, lengths.num_frames, dim=2)
    return LatentSchedule(temporal_input=temporal[0], temporal=temporal, spatial=spatial)
