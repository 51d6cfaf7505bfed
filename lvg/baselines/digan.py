"""DIGAN-lite: an implicit neural representation over (x, y, t) (spec evaluation.md §5.2).

Generator: a coordinate MLP. Each pixel's input is ``[fourier(x, y), fourier_t(t)]``: fixed sin/cos features
of the pixel position (x, y in [-1, 1], pixel centres) and sin/cos features of ``t`` whose frequencies and
phases are set by the motion code. Every hidden layer's weight is modulated by the video's latent
(content ++ motion, through a small mapping) with factorised multiplicative modulation (rank ``rank``)::

    W_eff = W * (1 + U V^T / sqrt(rank)),   U = A_u(s) [out, rank],  V = A_v(s) [in, rank]

Time: a training clip is ``t in [0, 1]`` = ``train_frames`` frames (frame ``k`` at ``t = k / (train_frames -
1)``); longer videos continue ``t`` beyond 1 at the same spacing (DIGAN's extrapolation, whose periodic
time features repeat patterns: the failure mode the paper shows). Any real (x, y, t) can be queried.

Discriminators (:class:`DIGANDiscriminator`): an image D on each frame of a pair, and a motion D (the
StyleGAN-V-lite two-frame discriminator) on the pair plus its time gap. Their logits are returned together.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lvg.baselines.common import BaselineTrainConfig, build_networks
from lvg.baselines.styleganv import (
    StyleGANVDiscriminator,
    StyleGANVDiscriminatorConfig,
    StyleGANVGAN,
    _DBlock,
    _seed,
)
from lvg.config import parse_resolution
from lvg.nn.conv import EqualConv3d
from lvg.nn.layers import FullyConnected, lrelu
from lvg.nn.presets import PresetConfig

__all__ = ["DIGANConfig", "DIGANGenerator", "DIGANDiscriminator", "DIGANGAN", "pixel_coords", "build",
           "METHOD", "CONFIG", "GENERATOR", "ALGORITHM"]

METHOD = "digan"


@dataclass(frozen=True)
class DIGANConfig(PresetConfig):
    height: int = 64
    width: int = 64
    z_dim: int = 64  # content
    motion_dim: int = 64
    w_dim: int = 64
    hidden: int = 64
    layers: int = 4
    rank: int = 10
    space_freqs: int = 16  # per axis (sin + cos each)
    time_freqs: int = 8
    max_space_freq: float = 8.0  # cycles over the image side
    train_frames: int = 16  # frames spanned by t in [0, 1]

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(z_dim=512, motion_dim=512, w_dim=512, hidden=512, layers=8, space_freqs=64,
                      time_freqs=32, max_space_freq=32.0),
    }


def pixel_coords(height: int, width: int) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates in [-1, 1]: ``y [H]``, ``x [W]``."""
    return ((torch.arange(height) + 0.5) / height * 2 - 1, (torch.arange(width) + 0.5) / width * 2 - 1)


class _FMMLayer(nn.Module):
    def __init__(self, c_in: int, c_out: int, w_dim: int, rank: int) -> None:
        super().__init__()
        self.c_in, self.c_out, self.rank = c_in, c_out, rank
        self.weight = nn.Parameter(torch.randn(c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.to_u = FullyConnected(w_dim, c_out * rank)
        self.to_v = FullyConnected(w_dim, c_in * rank)

    def forward(self, h: Tensor, s: Tensor) -> Tensor:
        """``h [N, P, in]``, style ``s [N, w_dim]`` -> ``[N, P, out]`` (linear)."""
        n = s.shape[0]
        u = self.to_u(s).reshape(n, self.c_out, self.rank)
        v = self.to_v(s).reshape(n, self.c_in, self.rank)
        w = self.weight[None] * (1 + u @ v.transpose(1, 2) / math.sqrt(self.rank)) / math.sqrt(self.c_in)
        return torch.einsum("npi,noi->npo", h, w.to(h.dtype)) + self.bias.to(h.dtype)


class DIGANGenerator(nn.Module):
    """``forward(content, motion, coords [N, P, 3] = (x, y, t))`` -> RGB ``[N, P, 3]``."""

    def __init__(self, cfg: DIGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mapping = nn.ModuleList([FullyConnected(cfg.z_dim + cfg.motion_dim, cfg.w_dim, activation="lrelu",
                                                     lr_mul=0.01),
                                      FullyConnected(cfg.w_dim, cfg.w_dim, activation="lrelu", lr_mul=0.01)])
        freqs = torch.linspace(1.0, cfg.max_space_freq, cfg.space_freqs) * math.pi / 2
        self.register_buffer("space_omega", freqs, persistent=False)
        self.time_freq = FullyConnected(cfg.motion_dim, cfg.time_freqs, bias_init=1.0)
        self.time_phase = FullyConnected(cfg.motion_dim, cfg.time_freqs)
        base_t = torch.linspace(1.0, cfg.time_freqs, cfg.time_freqs) * math.pi
        self.register_buffer("time_omega", base_t, persistent=False)
        c_in = 4 * cfg.space_freqs + 2 * cfg.time_freqs
        self.body = nn.ModuleList([_FMMLayer(c_in if i == 0 else cfg.hidden, cfg.hidden, cfg.w_dim, cfg.rank)
                                   for i in range(cfg.layers)])
        self.to_rgb = FullyConnected(cfg.hidden, 3)

    def style(self, content: Tensor, motion: Tensor) -> Tensor:
        x = torch.cat([content, motion], dim=1)
        x = x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for layer in self.mapping:
            x = layer(x)
        return x

    def features(self, motion: Tensor, coords: Tensor) -> Tensor:
        x, y, t = coords.unbind(-1)
        sx, sy = x[..., None] * self.space_omega, y[..., None] * self.space_omega
        omega_t = self.time_omega * self.time_freq(motion)  # [N, F] motion sets the time frequencies
        at = t[..., None] * omega_t[:, None] + self.time_phase(motion)[:, None]
        return torch.cat([sx.sin(), sx.cos(), sy.sin(), sy.cos(), at.sin(), at.cos()], dim=-1)

    def forward(self, content: Tensor, motion: Tensor, coords: Tensor) -> Tensor:
        s = self.style(content, motion)
        h = self.features(motion, coords)
        for layer in self.body:
            h = lrelu(layer(h, s))
        return self.to_rgb(h)

    def render(self, content: Tensor, motion: Tensor, t: Tensor) -> Tensor:
        """Frames at (real) times ``t [N, T]`` on the pixel grid -> ``[N, 3, T, H, W]``."""
        cfg = self.cfg
        n, nt = t.shape
        yy, xx = pixel_coords(cfg.height, cfg.width)
        yy, xx = yy.to(t.device), xx.to(t.device)
        grid = torch.stack(torch.meshgrid(xx, yy, indexing="xy"), dim=-1).reshape(1, 1, -1, 2)
        grid = grid.expand(n, nt, -1, -1)
        coords = torch.cat([grid, t[:, :, None, None].expand(-1, -1, grid.shape[2], 1).to(grid.dtype)], dim=-1)
        rgb = self(content, motion, coords.reshape(n, -1, 3))
        return rgb.reshape(n, nt, cfg.height, cfg.width, 3).permute(0, 4, 1, 2, 3)

    @torch.no_grad()
    def render_frames(self, seed: int, frames: list[int] | Tensor, chunk: int = 32) -> Tensor:
        """Frames (integer indices, any, t = k / (train_frames - 1)) of video ``seed`` -> ``[3, T, H, W]``."""
        cfg = self.cfg
        g = torch.Generator().manual_seed(_seed(seed, 3))
        dev = self.to_rgb.weight.device
        zc = torch.randn(1, cfg.z_dim, generator=g).to(dev)
        zm = torch.randn(1, cfg.motion_dim, generator=g).to(dev)
        k = torch.as_tensor(frames, dtype=torch.float64).reshape(-1)
        t = (k / (cfg.train_frames - 1)).float().to(dev)
        return torch.cat([self.render(zc, zm, t[i:i + chunk][None])[0] for i in range(0, len(t), chunk)], dim=1)

    def frames(self, seed: int, t0: int, num_frames: int) -> Tensor:
        """Frames ``t0 .. t0 + num_frames - 1``: ``t = k / (train_frames - 1)``, continuing past 1 (DIGAN's
        extrapolation)."""
        return self.render_frames(seed, list(range(t0, t0 + num_frames)))


class _ImageD(nn.Module):
    def __init__(self, cfg: StyleGANVDiscriminatorConfig) -> None:
        super().__init__()
        res = min(cfg.height, cfg.width)
        self.from_rgb = EqualConv3d(3, cfg.channels(res), (1, 1, 1))
        self.blocks = nn.ModuleList()
        while res > 4:
            self.blocks.append(_DBlock(cfg.channels(res), cfg.channels(res // 2)))
            res //= 2
        c = cfg.channels(res)
        self.fc = FullyConnected(c * (cfg.height * res // min(cfg.height, cfg.width))
                                 * (cfg.width * res // min(cfg.height, cfg.width)), c, activation="lrelu")
        self.out = FullyConnected(c, 1)

    def forward(self, video: Tensor) -> Tensor:
        """``[N, 3, K, H, W]`` -> ``[N, K]`` per-frame logits."""
        n, _, k = video.shape[:3]
        x = self.from_rgb(video.transpose(1, 2).reshape(n * k, 3, 1, *video.shape[3:]))
        for b in self.blocks:
            x = b(x)
        return self.out(self.fc(x.flatten(1))).reshape(n, k)


class DIGANDiscriminator(nn.Module):
    """``forward(pair [N, 3, 2, H, W], times [N, 2] in frames)`` -> ``[N, 3]``: image logits of both frames,
    then the motion logit of the pair and its gap."""

    def __init__(self, cfg: StyleGANVDiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = dataclasses.replace(cfg, num_frames=2)
        self.image = _ImageD(self.cfg)
        self.motion = StyleGANVDiscriminator(self.cfg)

    def forward(self, video: Tensor, times: Tensor) -> Tensor:
        return torch.cat([self.image(video), self.motion(video, times)[:, None]], dim=1)


# ---------------------------------------------------------------------------------------------- training
def build(tc: BaselineTrainConfig) -> tuple[DIGANGenerator, DIGANDiscriminator]:
    """DIGAN-lite G and D of a ``baselines.digan`` section, initialised from its seed only."""
    h, w = parse_resolution(tc.resolution)
    return build_networks(tc, METHOD, lambda: (
        DIGANConfig.preset(tc.preset, height=h, width=w, **tc.generator),
        StyleGANVDiscriminatorConfig.preset(tc.preset, height=h, width=w, max_gap=tc.max_gap, **tc.discriminator),
    ), DIGANGenerator, DIGANDiscriminator)


class DIGANGAN(StyleGANVGAN):
    """DIGAN-lite training (spec evaluation.md §5.2): the StyleGAN-V-lite step with frame pairs: fake
    ``t1 < t2`` on the ``[0, 1]`` clip grid (``train_frames`` frames), gaps in ``[1, min(max_gap,
    train_frames - 1)]`` frames; D = image D on both frames + motion D on the pair and its gap (all logits
    enter the loss, R1 on their sum)."""

    method = METHOD
    num_frames = 2

    @property
    def data_max_gap(self) -> int:
        return max(1, min(self.tc.max_gap, self.G.cfg.train_frames - 1))

    @staticmethod
    def build(tc: BaselineTrainConfig) -> tuple[nn.Module, nn.Module]:
        return build(tc)

    def generate(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` fake frame pairs at ``t1 < t2`` on the ``[0, 1]`` grid, and their frame indices ``[n, 2]``."""
        cfg, g = self.G.cfg, self.rng["latent"]
        span = self.data_max_gap
        gap = torch.randint(1, span + 1, (n,), generator=g)
        k1 = (torch.rand(n, generator=g) * (cfg.train_frames - gap)).long()
        frames = torch.stack([k1, k1 + gap], dim=1)
        zc = torch.randn(n, cfg.z_dim, generator=g)
        zm = torch.randn(n, cfg.motion_dim, generator=g)
        dev = self.device
        t = (frames.double() / (cfg.train_frames - 1)).float()
        with self.autocast():
            video = self.G.render(zc.to(dev), zm.to(dev), t.to(dev))
        return video.float(), frames.to(dev)


CONFIG, GENERATOR, ALGORITHM = DIGANConfig, DIGANGenerator, DIGANGAN
