"""The super-resolution discriminator (spec model.md §7): a StyleGAN2 residual image discriminator that sees
a short clip of LR and HR frames with time folded into channels.

Input: 4 LR frames, bilinearly upsampled to the HR size, and 4 HR frames, concatenated along time into a
``[N, 3, 8, H, W]`` video (:meth:`SRDiscriminator.build_input`; augmentations that must hit both halves
alike act on this video). Inside :meth:`SRDiscriminator.forward`:

1. **LR conditioning dropout**: per sample the LR half is set to exactly zero, except with probability
   ``lr_cond_prob`` (0.1), drawn from an explicit ``torch.Generator`` when one is given. On by default in
   training mode, off in eval mode (override with ``drop_lr=``).
2. Time is folded into channels, channel-major: channel ``c * 8 + t`` (R of frames 0..7, then G, then B),
   the same ordering as the SR generator's conditioning (the reference's ordering here is not covered by a
   fixture).
3. Zero-padded to a square (16:9 frames: centred vertically, extra row at the bottom).
4. Residual blocks from resolution ``R`` down to 8, then an epilogue at 4x4.

Blocks (StyleGAN2 "resnet" architecture): the first block starts with a 1x1 fromRGB (lrelu). Each block:
``skip = conv1x1(down(x)) * sqrt(.5)`` (linear, no bias), ``main = conv3x3_down(conv3x3(x)) * sqrt(.5)``,
output ``skip + main``. Down-sampling convs low-pass with separable ``[1, 3, 3, 1] / 8`` *first*
(zero padding 2) and then convolve with stride 2; the 1x1 skip low-pass-decimates first (padding 1). The
``sqrt(.5)`` is folded into the activation gain and the clamp (``256 * sqrt(.5)``). Channels per resolution:
``min(channel_base / res, channel_max)`` (64, 128, 256, 512, 512, 512, 512 for 256 .. 4). No minibatch std.
Epilogue: 3x3 conv (lrelu) -> flatten -> FC(C * 16 -> C, lrelu) -> FC(C -> 1). Equalised learning rate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.lowres.discriminator import pad_to_square
from lvg.nn.filtered import upfirdn2d
from lvg.nn.layers import FullyConnected, bias_act
from lvg.nn.resample import BINOMIAL4

__all__ = ["SRDiscriminator", "SRDiscriminatorConfig", "SRDiscBlock", "SRDiscEpilogue", "Conv2dLayer"]

SQRT_HALF = math.sqrt(0.5)


@dataclass(frozen=True)
class SRDiscriminatorConfig:
    """Hyperparameters of :class:`SRDiscriminator` (sizes ``(height, width)``)."""

    lr_height: int = 36
    lr_width: int = 64
    hr_height: int = 144
    hr_width: int = 256
    num_frames: int = 4  # frames per half (LR and HR)
    img_channels: int = 3
    channel_base: int = 16384
    channel_max: int = 512
    conv_clamp: float | None = 256.0
    lr_cond_prob: float = 0.1  # probability that a sample keeps its LR half
    num_fp16_res: int = 4  # informational: the reference runs the 4 highest resolutions in fp16 on GPUs

    def __post_init__(self) -> None:
        r = self.resolution
        if r & (r - 1) or r < 8:
            raise ValueError(f"max(hr_height, hr_width) must be a power of two >= 8, got {r}")
        if not 0.0 <= self.lr_cond_prob <= 1.0:
            raise ValueError(f"lr_cond_prob must be in [0, 1], got {self.lr_cond_prob}")

    @property
    def resolution(self) -> int:
        return max(self.hr_height, self.hr_width)

    @property
    def in_channels(self) -> int:
        return 2 * self.num_frames * self.img_channels

    def channels_at(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @classmethod
    def paper(cls, square: bool = False, **overrides) -> SRDiscriminatorConfig:
        """The reference SR discriminator (23,997,825 parameters for either size)."""
        base = dict(lr_height=64, hr_height=256) if square else {}
        return cls(**(base | overrides))

    @classmethod
    def tiny(cls, square: bool = True, **overrides) -> SRDiscriminatorConfig:
        """Few channels: 16x16 / 32x32 (``square=False``: 18x32 / 36x64), matching ``SRGeneratorConfig.tiny``."""
        size = dict(lr_height=16, lr_width=16, hr_height=32, hr_width=32) if square else dict(
            lr_height=18, lr_width=32, hr_height=36, hr_width=64)
        return cls(**(size | dict(channel_base=256, channel_max=32) | overrides))

    @classmethod
    def preset(cls, name: str, **overrides) -> SRDiscriminatorConfig:
        presets = {"paper": cls.paper, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown SR discriminator preset {name!r} (choose from {sorted(presets)})")
        return presets[name](**overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SRDiscriminatorConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown SRDiscriminatorConfig keys: {sorted(unknown)}")
        return cls(**d)


class Conv2dLayer(nn.Module):
    """Equalised-lr 2D conv with optional [1,3,3,1] down-sampling, then bias, activation and clamp.

    ``forward(x, gain)`` scales the activation gain and the clamp by ``gain`` (how the residual blocks fold in
    their ``sqrt(0.5)``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 activation: str = "linear", down: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        if down not in (1, 2):
            raise ValueError("down must be 1 or 2")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.activation, self.down, self.conv_clamp = activation, down, conv_clamp
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.register_buffer("resample_filter", torch.tensor(BINOMIAL4), persistent=False)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        k = self.kernel_size
        if self.down == 1:
            x = F.conv2d(x, w, padding=k // 2)
        elif k == 1:  # decimate first, then the 1x1 conv
            x = F.conv2d(upfirdn2d(x, self.resample_filter, down=2, padding=1), w)
        else:  # low-pass first (padding k//2 + 1), then a strided conv
            x = F.conv2d(upfirdn2d(x, self.resample_filter, padding=k // 2 + 1), w, stride=2)
        x = bias_act(x, self.bias, act=self.activation)  # lrelu carries its sqrt(2) gain
        if gain != 1.0:
            x = x * gain
        return x.clamp(-self.conv_clamp * gain, self.conv_clamp * gain) if self.conv_clamp is not None else x

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel={self.kernel_size}, act={self.activation}, "
                f"down={self.down}, bias={self.bias is not None}, clamp={self.conv_clamp}")


class SRDiscBlock(nn.Module):
    """Residual block at one resolution: ``tmp_channels`` -> ``out_channels``, halving H and W."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, *, img_channels: int,
                 conv_clamp: float | None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.fromrgb = (Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
                        if in_channels == 0 else None)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2, conv_clamp=conv_clamp)

    def forward(self, x: Tensor) -> Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        y = self.skip(x, gain=SQRT_HALF)
        x = self.conv1(self.conv0(x), gain=SQRT_HALF)
        return y + x


class SRDiscEpilogue(nn.Module):
    """4x4 head: 3x3 conv (lrelu) -> flatten -> FC(C*16 -> C, lrelu) -> FC(C -> 1)."""

    def __init__(self, channels: int, resolution: int = 4, *, conv_clamp: float | None) -> None:
        super().__init__()
        self.resolution = resolution
        self.conv = Conv2dLayer(channels, channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnected(channels * resolution ** 2, channels, activation="lrelu")
        self.out = FullyConnected(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        assert x.shape[-2:] == (self.resolution, self.resolution), tuple(x.shape)
        x = self.conv(x)
        return self.out(self.fc(x.flatten(1)))


class SRDiscriminator(nn.Module):
    """``D(video [N, 3, 8, H, W])`` -> logits ``[N, 1]``; frames 0..3 are the upsampled LR, 4..7 the HR."""

    def __init__(self, cfg: SRDiscriminatorConfig | None = None) -> None:
        super().__init__()
        cfg = cfg if cfg is not None else SRDiscriminatorConfig.paper()
        self.cfg = cfg
        r = cfg.resolution
        self.block_resolutions = [2 ** i for i in range(int(math.log2(r)), 2, -1)]
        blocks = []
        for res in self.block_resolutions:
            in_ch = cfg.channels_at(res) if res < r else 0
            blocks.append(SRDiscBlock(in_ch, cfg.channels_at(res), cfg.channels_at(res // 2),
                                      img_channels=cfg.in_channels, conv_clamp=cfg.conv_clamp))
        self.blocks = nn.ModuleList(blocks)
        self.epilogue = SRDiscEpilogue(cfg.channels_at(4), 4, conv_clamp=cfg.conv_clamp)

    def build_input(self, lr_frames: Tensor, hr_frames: Tensor) -> Tensor:
        """LR ``[N, 3, F, h, w]`` (bilinearly resized to ``H x W``) and HR ``[N, 3, F, H, W]`` -> ``[N, 3, 2F, H, W]``."""
        cfg = self.cfg
        n, c, f, h, w = lr_frames.shape
        assert (c, f, h, w) == (cfg.img_channels, cfg.num_frames, cfg.lr_height, cfg.lr_width), tuple(lr_frames.shape)
        assert hr_frames.shape == (n, c, f, cfg.hr_height, cfg.hr_width), tuple(hr_frames.shape)
        up = F.interpolate(lr_frames.transpose(1, 2).reshape(n * f, c, h, w), size=(cfg.hr_height, cfg.hr_width),
                           mode="bilinear", align_corners=False)
        up = up.reshape(n, f, c, cfg.hr_height, cfg.hr_width).transpose(1, 2)
        return torch.cat([up.to(hr_frames.dtype), hr_frames], dim=2)

    def lr_keep_mask(self, batch_size: int, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> Tensor:
        """Bool ``[N]``: True where a sample keeps its LR half (probability ``lr_cond_prob``).

        One uniform draw per sample, from ``generator`` (on its device) or the global RNG.
        """
        draw_device = generator.device if generator is not None else device
        u = torch.rand(batch_size, generator=generator, device=draw_device)
        keep = u < self.cfg.lr_cond_prob
        return keep.to(device) if device is not None else keep

    def drop_lr_half(self, video: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Zero the LR half (frames ``0 .. F-1``) of every sample that does not keep it."""
        f = self.cfg.num_frames
        keep = self.lr_keep_mask(video.shape[0], generator, video.device).reshape(-1, 1, 1, 1, 1)
        lr = torch.where(keep, video[:, :, :f], torch.zeros((), dtype=video.dtype, device=video.device))
        return torch.cat([lr, video[:, :, f:]], dim=2)

    def forward(self, video: Tensor, *, generator: torch.Generator | None = None,
                drop_lr: bool | None = None) -> Tensor:
        cfg = self.cfg
        n, c, t, h, w = video.shape
        assert (c, t, h, w) == (cfg.img_channels, 2 * cfg.num_frames, cfg.hr_height, cfg.hr_width), (
            f"expected [N, {cfg.img_channels}, {2 * cfg.num_frames}, {cfg.hr_height}, {cfg.hr_width}], "
            f"got {tuple(video.shape)}")
        if self.training if drop_lr is None else drop_lr:
            video = self.drop_lr_half(video, generator)
        x = pad_to_square(video.reshape(n, c * t, h, w), cfg.resolution)  # channel c * 2F + t
        for block in self.blocks:
            x = block(x)
        return self.epilogue(x)

    def score(self, lr_frames: Tensor, hr_frames: Tensor, **kwargs) -> Tensor:
        """``forward(build_input(lr_frames, hr_frames), **kwargs)``."""
        return self(self.build_input(lr_frames, hr_frames), **kwargs)
