"""StyleGAN-V-lite: a continuous-time video generator with one content code per video (spec evaluation.md §5.1).

Generator, for a video with content noise ``z`` and motion noise codes ``m_0, m_1, ...``::

    w        = mapping(z)                                   one style per video: the content never changes
    m(t)     = lerp(smooth(m)[k], smooth(m)[k + 1], u - k)  u = t / motion_z_distance, k = floor(u)
               smooth = 2 x conv1d(kernel 11, no padding): smooth(m)[k] sees raw codes k .. k + 20
    phi(t)   = [a(t) sin(omega t + p(t) + s), a(t) cos(...)]  omega: periods linearly spaced in
               [period_min, period_max]; a, p = affine(m(t)); s ~ N(0, 1) per video and dimension
    frame(t) = StyleGAN2 synthesis(const ++ phi(t), styles from w)

Every frame is a function of its own ``t`` (time kernels are 1, demodulation per frame), so any integer
(or fractional) ``t`` can be rendered alone, in any order, arbitrarily far from 0: only the ~22 motion codes
around ``t / motion_z_distance`` are needed (:func:`motion_codes` draws code ``k`` from ``(seed, k)``).

Discriminator: a per-frame 2D trunk (equalised-lr residual blocks, time kernel 1) down to ``concat_res``,
the ``K`` frames' features concatenated along channels, more 2D blocks down to 4x4, then an MLP head that
also sees a Fourier embedding of the ``K - 1`` time gaps -> one logit per video.

Scale: the ``paper`` preset follows the paper's sizes (512-d codes, 256 time features, periods 16-1024,
motion codes every 16 frames); ``tiny`` is a CPU-sized version with the same structure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.augment.diffaugment import diff_augment
from lvg.baselines.common import BaselineAlgorithm, BaselineTrainConfig, build_networks, sample_times
from lvg.config import parse_resolution
from lvg.nn.conv import EqualConv3d
from lvg.nn.layers import FullyConnected, ModulatedConv3d, bias_act
from lvg.nn.presets import PresetConfig
from lvg.nn.resample import upsample2x_space
from lvg.train.distributed import DistInfo
from lvg.train.ema import make_ema
from lvg.train.gan import adam, d_loss, g_loss, r1_loss, r1_penalty
from lvg.train.loop import BatchSource

__all__ = ["StyleGANVConfig", "StyleGANVDiscriminatorConfig", "StyleGANVGenerator", "StyleGANVDiscriminator",
           "StyleGANVGAN", "motion_codes", "content_code", "phase_shift", "build", "MOTION_KERNEL",
           "METHOD", "CONFIG", "GENERATOR", "ALGORITHM"]

METHOD = "styleganv"

MOTION_KERNEL = 11  # each smoothing conv1d; two of them, no padding
MOTION_CONTEXT = 2 * (MOTION_KERNEL - 1)  # raw codes consumed by the smoothing beyond the anchor


@dataclass(frozen=True)
class StyleGANVConfig(PresetConfig):
    height: int = 64
    width: int = 64
    z_dim: int = 64
    w_dim: int = 64
    mapping_layers: int = 2
    channel_base: int = 1024  # channels at resolution r: min(channel_max, channel_base // r)
    channel_max: int = 64
    motion_dim: int = 32
    motion_z_distance: int = 8
    time_dim: int = 32  # Fourier features (sin + cos), even
    period_min: float = 4.0
    period_max: float = 128.0
    phase_std: float = 1.0

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, channel_max=512,
                      motion_dim=512, motion_z_distance=16, time_dim=256, period_min=16.0, period_max=1024.0),
    }

    def validate(self) -> None:
        if self.time_dim % 2 or self.time_dim < 2:
            raise ValueError(f"time_dim must be even and >= 2, got {self.time_dim}")
        lo = min(self.height, self.width)
        if lo < 4 or lo & (lo - 1) or max(self.height, self.width) % lo:
            raise ValueError(f"{self.height}x{self.width}: the shorter side must be a power of 2 >= 4 dividing "
                             "the longer one")
        if self.motion_z_distance < 1:
            raise ValueError("motion_z_distance must be >= 1")

    @property
    def num_ups(self) -> int:
        return int(math.log2(min(self.height, self.width))) - 2

    def channels(self, res: int) -> int:
        return max(1, min(self.channel_max, self.channel_base // res))


# ---------------------------------------------------------------------------------------------- noise
def _seed(*words: int) -> int:
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def content_code(seed: int, z_dim: int) -> Tensor:
    """The content noise ``[z_dim]`` of video ``seed``."""
    return torch.randn(z_dim, generator=torch.Generator().manual_seed(_seed(seed, 0)))


def phase_shift(seed: int, time_dim: int, std: float = 1.0) -> Tensor:
    """The per-dimension random phase shift ``[time_dim // 2]`` of video ``seed``."""
    return torch.randn(time_dim // 2, generator=torch.Generator().manual_seed(_seed(seed, 1))) * std


def motion_codes(seed: int, start: int, stop: int, motion_dim: int) -> Tensor:
    """Raw motion codes ``start .. stop - 1`` of video ``seed``, ``[motion_dim, stop - start]``.

    Code ``k`` is a pure function of ``(seed, k)``, so a window far along the video costs no more than one
    at its start.
    """
    return torch.stack([torch.randn(motion_dim, generator=torch.Generator().manual_seed(_seed(seed, 2, k)))
                        for k in range(start, stop)], dim=1)


# ---------------------------------------------------------------------------------------------- generator
class _SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (time kernel 1: a 2D StyleGAN2 conv applied per frame) + bias + lrelu."""

    def __init__(self, c_in: int, c_out: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv3d(c_in, c_out, w_dim, (1, 3, 3))
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return bias_act(self.conv(x, w), self.bias, act="lrelu", clamp=256.0)


class _ToRGB(nn.Module):
    def __init__(self, c_in: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv3d(c_in, 3, w_dim, (1, 1, 1), demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return bias_act(self.conv(x, w), self.bias)


class StyleGANVGenerator(nn.Module):
    """See the module docstring. ``forward(content, motion, phase, times)`` -> ``[N, 3, T, H, W]`` in ~[-1, 1]."""

    def __init__(self, cfg: StyleGANVConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.mapping = nn.ModuleList(
            [FullyConnected(cfg.z_dim if i == 0 else cfg.w_dim, cfg.w_dim, lr_mul=0.01, activation="lrelu")
             for i in range(cfg.mapping_layers)])
        d = cfg.motion_dim
        self.smooth0 = nn.Parameter(torch.randn(d, d, MOTION_KERNEL))
        self.smooth0_bias = nn.Parameter(torch.zeros(d))
        self.smooth1 = nn.Parameter(torch.randn(d, d, MOTION_KERNEL))
        self.smooth1_bias = nn.Parameter(torch.zeros(d))
        half = cfg.time_dim // 2
        self.phase_affine = FullyConnected(d, half)
        self.amp_affine = FullyConnected(d, half, bias_init=1.0)
        periods = torch.linspace(cfg.period_min, cfg.period_max, half, dtype=torch.float64)
        self.register_buffer("omega", 2 * math.pi / periods, persistent=False)
        k = cfg.num_ups
        self.base_hw = (cfg.height >> k, cfg.width >> k)
        c0 = cfg.channels(4)
        self.const = nn.Parameter(torch.randn(c0, *self.base_hw))
        self.input_layer = _SynthesisLayer(c0 + cfg.time_dim, c0, cfg.w_dim)
        self.layers = nn.ModuleList()
        self.torgb = nn.ModuleList([_ToRGB(c0, cfg.w_dim)])
        c_prev = c0
        for i in range(1, k + 1):
            c = cfg.channels(4 << i)
            self.layers.append(nn.ModuleList([_SynthesisLayer(c_prev, c, cfg.w_dim),
                                              _SynthesisLayer(c, c, cfg.w_dim)]))
            self.torgb.append(_ToRGB(c, cfg.w_dim))
            c_prev = c

    # ---- content ------------------------------------------------------------------------------------
    def map_content(self, z: Tensor) -> Tensor:
        """The per-video style ``w`` ``[N, w_dim]`` from content noise ``[N, z_dim]``."""
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for layer in self.mapping:
            x = layer(x)
        return x

    # ---- motion -------------------------------------------------------------------------------------
    @staticmethod
    def codes_needed(t_min: int, t_max: int, distance: int) -> tuple[int, int]:
        """Raw code range ``[start, stop)`` that frames ``t_min .. t_max`` need."""
        return t_min // distance, t_max // distance + 2 + MOTION_CONTEXT

    def smooth_motion(self, motion: Tensor) -> Tensor:
        """``[N, D, L]`` raw codes -> ``[N, D, L - 20]`` smoothed anchors (2 conv1d, kernel 11, no padding)."""
        gain = 1.0 / math.sqrt(self.cfg.motion_dim * MOTION_KERNEL)
        x = F.conv1d(motion, (self.smooth0 * gain).to(motion.dtype), self.smooth0_bias.to(motion.dtype))
        x = F.leaky_relu(x, 0.2) * math.sqrt(2)
        return F.conv1d(x, (self.smooth1 * gain).to(x.dtype), self.smooth1_bias.to(x.dtype))

    def motion_at(self, motion: Tensor, times: Tensor, motion_offset: int | Tensor = 0) -> Tensor:
        """Smoothed motion ``[N, T, D]`` at (fractional) ``times`` ``[N, T]``; ``motion[..., 0]`` is code
        ``motion_offset`` (an int or ``[N]`` ints)."""
        smoothed = self.smooth_motion(motion)  # [N, D, A]
        u = times.double() / self.cfg.motion_z_distance
        k = u.floor()
        frac = (u - k).to(smoothed.dtype)
        off = torch.as_tensor(motion_offset, device=times.device).reshape(-1, 1) if isinstance(
            motion_offset, Tensor) else motion_offset
        idx = k.long() - off
        a = smoothed.shape[2]
        if int(idx.min()) < 0 or int(idx.max()) + 1 >= a:
            raise ValueError(f"motion codes cover anchors [0, {a}) after the offset, times need "
                             f"[{int(idx.min())}, {int(idx.max()) + 2})")
        sm = smoothed.transpose(1, 2)  # [N, A, D]
        d = sm.shape[2]
        m0 = sm.gather(1, idx[..., None].expand(-1, -1, d))
        m1 = sm.gather(1, (idx + 1)[..., None].expand(-1, -1, d))
        return torch.lerp(m0, m1, frac[..., None])

    def time_features(self, motion: Tensor, phase: Tensor, times: Tensor, motion_offset: int | Tensor = 0
                      ) -> Tensor:
        """Fourier time features ``[N, T, time_dim]`` (float64 angles, reduced mod 2 pi: exact far from 0)."""
        m = self.motion_at(motion, times, motion_offset)
        base = torch.remainder(times.double()[..., None] * self.omega, 2 * math.pi).to(m.dtype)
        angle = base + self.phase_affine(m) + phase[:, None, :].to(m.dtype)
        amp = self.amp_affine(m)
        return torch.cat([amp * torch.sin(angle), amp * torch.cos(angle)], dim=2)

    # ---- synthesis ----------------------------------------------------------------------------------
    def synthesize(self, w: Tensor, feats: Tensor) -> Tensor:
        """Frames ``[N, 3, T, H, W]`` from the per-video style ``w`` ``[N, w_dim]`` and ``feats`` ``[N, T, F]``."""
        n, t, _ = feats.shape
        ws = w[:, :, None].expand(-1, -1, t)
        h0, w0 = self.base_hw
        const = self.const.to(feats.dtype)[None, :, None].expand(n, -1, t, -1, -1)
        x = torch.cat([const, feats.transpose(1, 2)[..., None, None].expand(-1, -1, -1, h0, w0)], dim=1)
        x = self.input_layer(x, ws)
        rgb = self.torgb[0](x, ws)
        for (l0, l1), torgb in zip(self.layers, self.torgb[1:], strict=True):
            x = upsample2x_space(x)
            x = l1(l0(x, ws), ws)
            rgb = upsample2x_space(rgb) + torgb(x, ws)
        return rgb

    def forward(self, content: Tensor, motion: Tensor, phase: Tensor, times: Tensor,
                motion_offset: int | Tensor = 0) -> Tensor:
        """Render frames ``times`` ``[N, T]`` of N videos.

        Args:
            content: ``[N, z_dim]`` content noise (one per video).
            motion: ``[N, motion_dim, L]`` raw motion codes; ``motion[..., j]`` is code ``motion_offset + j``
                (code ``k`` sits at frame ``k * motion_z_distance``; see :meth:`codes_needed`).
            phase: ``[N, time_dim // 2]`` per-video phase shifts.
            times: ``[N, T]`` frame indices (integers; fractions are allowed too).
        """
        return self.synthesize(self.map_content(content), self.time_features(motion, phase, times, motion_offset))

    @torch.no_grad()
    def render(self, seed: int, times: Tensor | list[int], chunk: int = 64) -> Tensor:
        """Frames ``times`` of video ``seed`` as ``[3, T, H, W]``: any integers, in any order.

        Times are sorted and split into groups of at most ``chunk`` frames spanning at most ``chunk`` frames,
        each rendered with only the motion codes it needs (so t = 10**9 costs what t = 0 does).
        """
        cfg = self.cfg
        times = torch.as_tensor(times, dtype=torch.long).reshape(-1)
        dev = self.const.device
        z = content_code(seed, cfg.z_dim)[None].to(dev)
        ph = phase_shift(seed, cfg.time_dim, cfg.phase_std)[None].to(dev)
        order = torch.argsort(times, stable=True)
        out = torch.empty(3, len(times), cfg.height, cfg.width, device=dev)
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order) and j - i < chunk and int(times[order[j]] - times[order[i]]) < chunk:
                j += 1
            idx = order[i:j]
            tt = times[idx]
            start, stop = self.codes_needed(int(tt.min()), int(tt.max()), cfg.motion_z_distance)
            codes = motion_codes(seed, start, stop, cfg.motion_dim)[None].to(dev)
            out[:, idx.to(dev)] = self(z, codes, ph, tt[None].to(dev), motion_offset=start)[0].float()
            i = j
        return out

    def frames(self, seed: int, t0: int, num_frames: int) -> Tensor:
        """Frames ``t0 .. t0 + num_frames - 1`` of video ``seed`` (each index queried directly)."""
        return self.render(seed, list(range(t0, t0 + num_frames)))


# ---------------------------------------------------------------------------------------------- discriminator
@dataclass(frozen=True)
class StyleGANVDiscriminatorConfig(PresetConfig):
    height: int = 64
    width: int = 64
    num_frames: int = 3
    channel_base: int = 1024
    channel_max: int = 64
    concat_res: int = 16  # per-frame trunk down to this (shorter side), then frames are concatenated
    gap_dim: int = 32  # Fourier embedding of the time gaps
    max_gap: int = 32

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(channel_base=16384, channel_max=512, gap_dim=256),
    }

    def channels(self, res: int) -> int:
        return max(1, min(self.channel_max, self.channel_base // res))


class _DBlock(nn.Module):
    """Residual 2D block (time kernel 1): two 3x3 convs, the second downsampling; 1x1 linear skip."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv0 = EqualConv3d(c_in, c_in, (1, 3, 3))
        self.conv1 = EqualConv3d(c_in, c_out, (1, 3, 3), down_space=True)
        self.skip = EqualConv3d(c_in, c_out, (1, 1, 1), bias=False, act="linear", down_space=True)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv1(self.conv0(x)) + self.skip(x)) * math.sqrt(0.5)


class StyleGANVDiscriminator(nn.Module):
    """``forward(video [N, 3, K, H, W], times [N, K])`` -> logits ``[N]``."""

    def __init__(self, cfg: StyleGANVDiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        res = min(cfg.height, cfg.width)
        concat = min(cfg.concat_res, res)
        self.from_rgb = EqualConv3d(3, cfg.channels(res), (1, 1, 1))
        self.trunk = nn.ModuleList()
        while res > concat:
            self.trunk.append(_DBlock(cfg.channels(res), cfg.channels(res // 2)))
            res //= 2
        c = cfg.channels(res) * cfg.num_frames
        self.head_blocks = nn.ModuleList()
        while res > 4:
            self.head_blocks.append(_DBlock(c, cfg.channels(res // 2)))
            c, res = cfg.channels(res // 2), res // 2
        self.final_conv = EqualConv3d(c, c, (1, 3, 3))
        spatial = (cfg.height * res // min(cfg.height, cfg.width)) * (cfg.width * res // min(cfg.height, cfg.width))
        half = cfg.gap_dim // 2
        periods = torch.linspace(2.0, 4.0 * cfg.max_gap, half, dtype=torch.float32)
        self.register_buffer("gap_omega", 2 * math.pi / periods, persistent=False)
        self.gap_fc = FullyConnected(cfg.gap_dim * (cfg.num_frames - 1), cfg.gap_dim, activation="lrelu")
        self.fc = FullyConnected(c * spatial + cfg.gap_dim, c, activation="lrelu")
        self.out = FullyConnected(c, 1)

    def forward(self, video: Tensor, times: Tensor) -> Tensor:
        n, _, k, h, w = video.shape
        assert k == self.cfg.num_frames and times.shape == (n, k), (tuple(video.shape), tuple(times.shape))
        x = self.from_rgb(video)
        for block in self.trunk:
            x = block(x)
        x = x.transpose(1, 2).reshape(n, -1, 1, *x.shape[3:])  # frames concatenated along channels
        for block in self.head_blocks:
            x = block(x)
        x = self.final_conv(x).flatten(1)
        gaps = (times[:, 1:] - times[:, :-1]).to(x.dtype)
        angle = gaps[..., None] * self.gap_omega.to(x.dtype)
        emb = self.gap_fc(torch.cat([torch.sin(angle), torch.cos(angle)], dim=2).flatten(1))
        return self.out(self.fc(torch.cat([x, emb], dim=1))).reshape(n)


# ---------------------------------------------------------------------------------------------- training
def build(tc: BaselineTrainConfig) -> tuple[StyleGANVGenerator, StyleGANVDiscriminator]:
    """G and D of a ``baselines.styleganv`` section, initialised from its seed only."""
    h, w = parse_resolution(tc.resolution)
    return build_networks(tc, METHOD, lambda: (
        StyleGANVConfig.preset(tc.preset, height=h, width=w, **tc.generator),
        StyleGANVDiscriminatorConfig.preset(tc.preset, height=h, width=w, max_gap=tc.max_gap, **tc.discriminator),
    ), StyleGANVGenerator, StyleGANVDiscriminator)


class StyleGANVGAN(BaselineAlgorithm):
    """StyleGAN-V-lite training (spec evaluation.md §5.1): every real and fake video is ``K = 3`` frames at
    sorted times ``t0 < t1 < t2`` with gaps in ``[1, max_gap]``; DiffAugment draws once per video (the same
    transform on its 3 frames); non-saturating loss, lazy R1 on reals, G_ema with warm-up."""

    method = METHOD
    loss_names = ("loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake")
    num_frames = 3

    def __init__(self, tc: BaselineTrainConfig, info: DistInfo | None = None) -> None:
        super().__init__(tc, info)
        G, D = self.build(tc)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = make_ema(self.G)
        self.networks: dict[str, nn.Module] = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        self.opt_G = adam(self.G.parameters(), tc.lr_g)
        self.opt_D = adam(self.D.parameters(), tc.lr_d, tc.lazy_c)
        self.optimizers = {"G": self.opt_G, "D": self.opt_D}

    @property
    def data_max_gap(self) -> int:
        """Largest gap between the real frames of one training item."""
        return self.tc.max_gap

    @staticmethod
    def build(tc: BaselineTrainConfig) -> tuple[nn.Module, nn.Module]:
        return build(tc)

    def generate(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` fake videos of 3 frames (float32) and their times ``[n, 3]``."""
        cfg, g = self.G.cfg, self.rng["latent"]
        max_start = 4 * cfg.motion_z_distance  # fake videos start anywhere in their first few codes
        times = sample_times(n, self.num_frames, self.tc.max_gap, max_start, g)
        _, stop = self.G.codes_needed(0, max_start - 1 + (self.num_frames - 1) * self.tc.max_gap,
                                      cfg.motion_z_distance)
        z = torch.randn(n, cfg.z_dim, generator=g)
        motion = torch.randn(n, cfg.motion_dim, stop, generator=g)
        phase = torch.randn(n, cfg.time_dim // 2, generator=g) * cfg.phase_std
        dev = self.device
        with self.autocast():
            video = self.G(z.to(dev), motion.to(dev), phase.to(dev), times.to(dev))
        return video.float(), times.to(dev)

    def run_D(self, video: Tensor, times: Tensor) -> Tensor:
        if self.tc.augment:
            video = diff_augment(video, generator=self.rng["augment"])
        with self.autocast():
            return self.D(video, times).float().reshape(-1)

    def _real(self, batches: BatchSource) -> tuple[Tensor, Tensor]:
        b = batches.next()
        return b["video"].float(), b["times"]

    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        out = self.gan_round(step, self._step_G, lambda: self._step_D(batches), lambda: self._step_R1(batches))
        self.ema_step(step, self.G_ema, self.G)
        return out

    def _step_G(self) -> float:
        self.begin_update(self.opt_G, self.G, frozen=self.D)
        loss = g_loss(self.run_D(*self.generate(self.micro_batch)))
        loss.backward()
        self.end_update(self.opt_G, self.G)
        return float(loss.detach())

    def _step_D(self, batches: BatchSource) -> dict[str, float]:
        self.begin_update(self.opt_D, self.D)
        with torch.no_grad():
            fake, fake_t = self.generate(self.micro_batch)
        logits_fake = self.run_D(fake, fake_t)
        logits_real = self.run_D(*self._real(batches))
        loss = d_loss(logits_fake, logits_real)
        loss.backward()
        self.end_update(self.opt_D, self.D)
        return {"loss_D": float(loss.detach()), "logits_real": float(logits_real.detach().mean()),
                "logits_fake": float(logits_fake.detach().mean())}

    def _step_R1(self, batches: BatchSource) -> float:
        self.begin_update(self.opt_D, self.D)
        video, times = self._real(batches)
        real = video.detach().requires_grad_(True)
        penalty = r1_penalty(self.run_D(real, times), real)
        r1_loss(penalty, self.tc.r1_gamma, self.tc.r1_interval).backward()
        self.end_update(self.opt_D, self.D)
        return float(penalty.detach())


CONFIG, GENERATOR, ALGORITHM = StyleGANVConfig, StyleGANVGenerator, StyleGANVGAN
