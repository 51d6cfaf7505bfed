"""Low-resolution space-time discriminator (spec model.md §3).

The discriminator sees a whole clip at once: a [N, 3, T, H, W] video in [-1, 1] becomes one logit per clip.

Architecture (paper preset, T = 128, 64x64 after padding)::

    B0  spatial only : fromRGB 1x1x1 3->32, conv 3x3 32->32, conv 3x3 32->64 + down(space)   64^2x128 -> 32^2x128
    B1  3x3x5 convs  : 64->128,  down(space, time)                                          32^2x128 -> 16^2x64
    B2  3x3x5 convs  : 128->256, down(space, time)                                          16^2x64  -> 8^2x32
    B3  3x3x5 convs  : 256->512, down(space, time)                                          8^2x32   -> 4^2x16
    epilogue         : fold to [N, 512*4*4, 16] -> conv1d k1 -> 3x conv1d k3 -> flatten -> FC 1024 -> FC 1

Each residual block: ``y = (conv1(conv0(x)) + skip(x)) * sqrt(0.5)``; the skip is a bias-free linear 1x1x1
conv. Downsampling is a fixed separable [1,3,3,1]/8 filter applied *after* the conv and *before*
bias/activation (so the conv runs at full rate and the bias is added at the low rate). All weights use
equalised learning rate (stored N(0,1), scaled by 1/sqrt(fan_in) at run time) so Adam sees every layer at
the same scale. There is no minibatch-std layer.

Non-square inputs (the released 36x64 models) are zero-padded to ``max_edge x max_edge``, centred
(top = (S-H)//2, bottom = the rest), the same centring convention the reference uses for the SR
conditioning. The reference's exact vertical split for the LR discriminator is not covered by a fixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from lvg.nn.conv import EqualConv1d, EqualConv3d, EqualLinear

__all__ = [
    "DiscriminatorConfig",
    "LowResDiscriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "pad_to_square",
]


def pad_to_square(video: Tensor, size: int) -> Tensor:
    """Zero-pad [N, C, T, H, W] spatially to [N, C, T, size, size], centred (extra row/col at bottom/right)."""
    h, w = video.shape[-2:]
    if h > size or w > size:
        raise ValueError(f"video {h}x{w} is larger than the discriminator's max_edge {size}")
    if h == size and w == size:
        return video
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(video, (left, size - w - left, top, size - h - top))


# --------------------------------------------------------------------------------------------------------------
# Blocks.
# --------------------------------------------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """Residual block: ``(conv1(conv0(x)) + skip(x)) * sqrt(0.5)``, downsampling in conv1 and skip.

    With ``vid_channels`` set, the block first maps RGB to ``in_channels`` with a 1x1x1 lrelu conv
    (``from_rgb``) whose output feeds both paths (the first block, B0). conv0 keeps the channel count
    (in -> in); conv1 changes it (in -> out). The skip is linear and bias-free but still clamped.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        vid_channels: int | None = None,
        spatial_ksize: int = 3,
        temporal_ksize: int = 5,
        spatial_down: bool = True,
        temporal_down: bool = True,
        conv_clamp: float | None = 256.0,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.spatial_down = spatial_down
        self.temporal_down = temporal_down
        k = (temporal_ksize, spatial_ksize, spatial_ksize)
        self.from_rgb = (
            EqualConv3d(vid_channels, in_channels, (1, 1, 1), clamp=conv_clamp)
            if vid_channels is not None
            else None
        )
        self.conv0 = EqualConv3d(in_channels, in_channels, k, clamp=conv_clamp)
        self.conv1 = EqualConv3d(
            in_channels, out_channels, k, clamp=conv_clamp, down_space=spatial_down, down_time=temporal_down
        )
        self.skip = EqualConv3d(
            in_channels,
            out_channels,
            (1, 1, 1),
            bias=False,
            act="linear",
            clamp=conv_clamp,
            down_space=spatial_down,
            down_time=temporal_down,
        )

    def forward(self, x: Tensor, *, intermediates: dict[str, Tensor] | None = None) -> Tensor:
        """``intermediates``, if given, receives each sub-layer's output (for fixture debugging)."""
        if self.from_rgb is not None:
            x = self.from_rgb(x)
            if intermediates is not None:
                intermediates["from_rgb"] = x
        n, c, t, h, w = x.shape
        assert c == self.in_channels, f"expected {self.in_channels} channels, got {c}"
        y = self.conv0(x)
        y1 = self.conv1(y)
        s = self.skip(x)
        if intermediates is not None:
            intermediates.update(conv0=y, conv1=y1, skip=s)
        out = (y1 + s) * math.sqrt(0.5)
        t_out = t // 2 if self.temporal_down else t
        h_out, w_out = (h // 2, w // 2) if self.spatial_down else (h, w)
        assert out.shape == (n, self.out_channels, t_out, h_out, w_out), (
            f"bad block output {tuple(out.shape)}"
        )
        return out


class DiscriminatorEpilogue(nn.Module):
    """Temporal head: fold space into channels, run 1-D convs over time, flatten time, two FC layers.

    [N, C, T, H, W] -> [N, C*H*W, T] (channel index c*H*W + h*W + w) -> conv1d k=1 -> (num_conv1d-1) x
    conv1d k=temporal_ksize, all lrelu, no clamp, no downsampling -> [N, channels*T] (index c*T + t)
    -> FC channels (lrelu) -> FC 1 (linear).
    """

    def __init__(
        self,
        in_channels: int,
        in_size: int,
        in_length: int,
        channels: int,
        *,
        temporal_ksize: int = 3,
        num_conv1d: int = 4,
    ) -> None:
        super().__init__()
        assert num_conv1d >= 1
        self.in_channels = in_channels
        self.in_size = in_size
        self.in_length = in_length
        folded = in_channels * in_size * in_size
        convs = [EqualConv1d(folded, channels, 1)]
        convs += [EqualConv1d(channels, channels, temporal_ksize) for _ in range(num_conv1d - 1)]
        self.convs = nn.ModuleList(convs)
        self.fc = EqualLinear(channels * in_length, channels, act="lrelu")
        self.out = EqualLinear(channels, 1, act="linear")

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        expected = (n, self.in_channels, self.in_length, self.in_size, self.in_size)
        assert tuple(x.shape) == expected, f"epilogue expects {expected}, got {tuple(x.shape)}"
        x = x.permute(0, 1, 3, 4, 2).reshape(n, -1, self.in_length)  # [N, C*H*W, T]
        for conv in self.convs:
            x = conv(x)
        x = self.out(self.fc(x.flatten(1)))
        assert x.shape == (n, 1)
        return x


# --------------------------------------------------------------------------------------------------------------
# Full network.
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Hyper-parameters of :class:`LowResDiscriminator`.

    ``channels[0]`` is the width after fromRGB; ``channels[i+1]`` is block i's output width, so there are
    ``len(channels) - 1`` blocks, each halving space. ``temporal_down[i]`` says whether block i also halves
    time (block 0 is spatial-only and never does: its kernels are 3x3x1). The final spatial size is
    ``max_edge / 2**num_blocks`` and the final length ``seq_length / 2**sum(temporal_down)``; the epilogue's
    FC input size depends on both, so the network only accepts clips of exactly ``seq_length`` frames.
    """

    seq_length: int = 128
    max_edge: int = 64
    vid_channels: int = 3
    channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    temporal_down: tuple[bool, ...] = (False, True, True, True)
    spatial_ksize: int = 3
    temporal_ksize: int = 5
    epilogue_channels: int = 1024
    epilogue_temporal_ksize: int = 3
    epilogue_num_conv1d: int = 4
    conv_clamp: float | None = 256.0

    @property
    def num_blocks(self) -> int:
        return len(self.channels) - 1

    @property
    def final_size(self) -> int:
        return self.max_edge >> self.num_blocks

    @property
    def final_length(self) -> int:
        return self.seq_length >> sum(self.temporal_down)

    def validate(self) -> None:
        """Raise ValueError for inconsistent settings (checked before any weight is allocated)."""
        if len(self.temporal_down) != self.num_blocks:
            raise ValueError(f"temporal_down needs {self.num_blocks} entries, got {len(self.temporal_down)}")
        if self.num_blocks < 1:
            raise ValueError("need at least one block")
        if self.temporal_down[0]:
            raise ValueError("block 0 is spatial-only (temporal kernel 1) and cannot downsample time")
        if self.max_edge % (1 << self.num_blocks) or self.final_size < 1:
            raise ValueError(f"max_edge {self.max_edge} not divisible by 2**{self.num_blocks}")
        if self.seq_length % (1 << sum(self.temporal_down)) or self.final_length < 1:
            raise ValueError(f"seq_length {self.seq_length} not divisible by 2**{sum(self.temporal_down)}")

    @classmethod
    def paper(cls) -> DiscriminatorConfig:
        """The reference LR discriminator: T = 128, 64x64 (36x64 padded); 46,424,609 parameters."""
        return cls()

    @classmethod
    def tiny(cls) -> DiscriminatorConfig:
        """A few-channel 32x32, 16-frame variant for CPU tests and smoke runs."""
        return cls(
            seq_length=16,
            max_edge=32,
            channels=(8, 16, 16, 32),
            temporal_down=(False, True, True),
            epilogue_channels=32,
        )

    @classmethod
    def preset(cls, name: str) -> DiscriminatorConfig:
        presets = {"paper": cls.paper, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown discriminator preset {name!r}; choose from {sorted(presets)}")
        return presets[name]()


class LowResDiscriminator(nn.Module):
    """LongVideoGAN's low-resolution video discriminator: [N, 3, T, H, W] in [-1, 1] -> logits [N, 1]."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else DiscriminatorConfig.paper()
        cfg.validate()
        self.config = cfg
        blocks = []
        for i in range(cfg.num_blocks):
            first = i == 0
            blocks.append(
                DiscriminatorBlock(
                    cfg.channels[i],
                    cfg.channels[i + 1],
                    vid_channels=cfg.vid_channels if first else None,
                    spatial_ksize=cfg.spatial_ksize,
                    temporal_ksize=1 if first else cfg.temporal_ksize,
                    spatial_down=True,
                    temporal_down=cfg.temporal_down[i],
                    conv_clamp=cfg.conv_clamp,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.epilogue = DiscriminatorEpilogue(
            cfg.channels[-1],
            cfg.final_size,
            cfg.final_length,
            cfg.epilogue_channels,
            temporal_ksize=cfg.epilogue_temporal_ksize,
            num_conv1d=cfg.epilogue_num_conv1d,
        )

    def forward(self, video: Tensor) -> Tensor:
        cfg = self.config
        assert video.ndim == 5, f"expected [N, C, T, H, W], got {tuple(video.shape)}"
        n, c, t, _, _ = video.shape
        assert c == cfg.vid_channels, f"expected {cfg.vid_channels} colour channels, got {c}"
        assert t == cfg.seq_length, f"discriminator built for {cfg.seq_length} frames, got {t}"
        x = pad_to_square(video, cfg.max_edge)
        for block in self.blocks:
            x = block(x)
        return self.epilogue(x)
