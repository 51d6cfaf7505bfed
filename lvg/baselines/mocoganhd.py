"""MoCoGAN-HD-lite: a frozen image generator driven by a recurrent motion generator (spec evaluation.md §5.3).

Written from the paper's description (no upstream code). Two stages in one run of the shared loop, switched
by the step number so that checkpoints and exact resume work across the switch::

    stage 1 (step < round(stage_split * steps)):  image GAN on single real frames
        w = mapping(z), frame = StyleGAN2 synthesis(w)          (:class:`StyleGANVGenerator` with no motion)
        image D, non-saturating loss, lazy R1, DiffAugment, EMA

    first stage-2 step: the image generator of G_ema is copied into G and frozen; the PCA of its W space
        (top ``pca_dim`` components of ``pca_samples`` mapped z's from a fixed seed) is stored as buffers
        ``pca_mean``, ``pca_basis`` (orthonormal rows), ``pca_std`` (checkpointed and exported)

    stage 2: the motion generator, for a video with first-frame noise z_0 and per-step noise e_1, e_2, ...
        (h_0, c_0) = init(z_0)
        (h_t, c_t) = LSTM(e_t, (h_{t-1}, c_{t-1}))                t >= 1
        w_0 = mapping(z_0),  w_t = w_{t-1} + w_residual * ((A h_t) * pca_std) @ pca_basis  (w_residual 0.2)
        (the default ``cumulative: true``, our reading of MoCoGAN-HD's residual trajectory, under which errors
        accumulate along the video as the spec describes; ``cumulative: false`` anchors every step at w_0)
        frame_t = synthesis(w_t)
      trained against the image D (one random frame per video) and a 3D-conv video D on ``clip_frames``
      consecutive frames (tiny 8, paper 16), with lazy R1 on the sum of both real logits.

So ``w_t - w_0`` always lies in the span of the PCA basis, and a long video is the recurrence unrolled for
as many steps as wanted (:meth:`MoCoGANHDGenerator.frames`): deterministic given the seed (z_0 and the noise
of step ``t`` are pure functions of ``(seed, t)``), any window equal to the same slice of a longer call,
rendered chunk by chunk (memory bounded by the chunk, not the length).

Omitted at lite scale: the contrastive (MoCo) loss of the image discriminator (queue 4096, temperature
0.07) is not implemented; the stage-2 image D is the stage-1 image D trained on.

Scale: ``paper`` follows the paper's sizes (512-d codes, 384 PCA components, 16-frame video D); ``tiny`` is
a CPU-sized version with the same structure.
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
from lvg.baselines.common import BaselineAlgorithm, BaselineTrainConfig, build_networks
from lvg.baselines.styleganv import StyleGANVConfig, StyleGANVGenerator, content_code
from lvg.config import parse_resolution
from lvg.lowres.discriminator import DiscriminatorConfig, LowResDiscriminator
from lvg.nn.layers import FullyConnected
from lvg.nn.presets import PresetConfig
from lvg.train import distributed as dist
from lvg.train.distributed import DistInfo
from lvg.train.ema import ema_beta, make_ema, update_ema
from lvg.train.gan import adam, d_loss, g_loss, r1_loss, r1_penalty
from lvg.train.loop import BatchSource

__all__ = ["MoCoGANHDConfig", "MoCoGANHDDiscriminatorConfig", "MoCoGANHDGenerator", "MoCoGANHDDiscriminator",
           "MotionLSTM", "MoCoGANHD", "step_noise", "build", "METHOD", "ALGORITHM", "GENERATOR", "CONFIG"]

METHOD = "mocoganhd"
NOISE_CHUNK = 64  # step noise is drawn in blocks of this many steps, block k from (seed, k)
PCA_SEED = 0x5CA  # the z's whose mapped w's define the PCA basis


# ---------------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class MoCoGANHDConfig(PresetConfig):
    """Generator: image G (mapping + synthesis), PCA size, motion LSTM, training clip length."""

    height: int = 64
    width: int = 64
    z_dim: int = 64
    w_dim: int = 64
    mapping_layers: int = 2
    channel_base: int = 1024  # image G channels at resolution r: min(channel_max, channel_base // r)
    channel_max: int = 64
    pca_dim: int = 32  # top PCA components of W the motion moves in (paper: 384 of 512)
    pca_samples: int = 4096  # mapped z's the PCA is computed from
    hidden_dim: int = 64  # LSTM state size
    noise_dim: int = 16  # per-step noise input of the LSTM
    w_residual: float = 0.2
    cumulative: bool = True  # w_t = w_{t-1} + residual_t (errors accumulate); False: w_0 + residual_t
    clip_frames: int = 8  # frames of the fake/real clips the video D sees (paper n_frames_G: 16)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, channel_max=512,
                      pca_dim=384, pca_samples=100_000, hidden_dim=1024, noise_dim=512, clip_frames=16),
    }

    def validate(self) -> None:
        self.image_config().validate()
        if not 1 <= self.pca_dim <= self.w_dim:
            raise ValueError(f"pca_dim must be in [1, w_dim = {self.w_dim}], got {self.pca_dim}")
        if self.pca_samples <= self.pca_dim:
            raise ValueError(f"pca_samples ({self.pca_samples}) must exceed pca_dim ({self.pca_dim})")
        if self.clip_frames < 2:
            raise ValueError(f"clip_frames must be >= 2, got {self.clip_frames}")
        if min(self.hidden_dim, self.noise_dim) < 1:
            raise ValueError("hidden_dim and noise_dim must be >= 1")

    def image_config(self) -> StyleGANVConfig:
        """The StyleGAN-V-lite generator used as a plain image generator (no motion, 2 constant time
        features)."""
        return StyleGANVConfig(height=self.height, width=self.width, z_dim=self.z_dim, w_dim=self.w_dim,
                               mapping_layers=self.mapping_layers, channel_base=self.channel_base,
                               channel_max=self.channel_max, motion_dim=1, time_dim=2)


@dataclass(frozen=True)
class MoCoGANHDDiscriminatorConfig(PresetConfig):
    """Image D (2D: temporal kernels 1) and video D (3D convs over ``num_frames`` frames)."""

    height: int = 64
    width: int = 64
    num_frames: int = 8
    channel_base: int = 1024  # channels at resolution r: min(channel_max, channel_base // r)
    channel_max: int = 64
    epilogue_channels: int = 64
    video_channel_base: int = 512  # video D channels at resolution r: min(video_channel_max, base // r)
    video_channel_max: int = 64
    video_temporal_ksize: int = 3
    video_downsample: int = 2  # the video D sees clips average-pooled by this factor in space (1 = full res)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(channel_base=16384, channel_max=512, epilogue_channels=512, video_channel_base=16384,
                      video_channel_max=512, video_downsample=1),
    }

    def validate(self) -> None:
        f = self.video_downsample
        if f < 1 or self.height % f or self.width % f or min(self.height, self.width) // f < 4:
            raise ValueError(f"video_downsample {f} must divide {self.height}x{self.width} and leave >= 4 pixels")
        self.image().validate()
        self.video().validate()

    def _trunk(self, video: bool = False) -> tuple[int, tuple[int, ...]]:
        edge = max(self.height, self.width) // (self.video_downsample if video else 1)
        base, cmax = (self.video_channel_base, self.video_channel_max) if video else (self.channel_base,
                                                                                      self.channel_max)
        blocks = max(1, int(math.log2(edge)) - 2)  # down to 4x4
        return edge, tuple(max(1, min(cmax, base // (edge >> i))) for i in range(blocks + 1))

    def image(self) -> DiscriminatorConfig:
        edge, channels = self._trunk()
        return DiscriminatorConfig(seq_length=1, max_edge=edge, channels=channels,
                                   temporal_down=(False,) * (len(channels) - 1), temporal_ksize=1,
                                   epilogue_channels=self.epilogue_channels, epilogue_temporal_ksize=1,
                                   epilogue_num_conv1d=1)

    def video(self) -> DiscriminatorConfig:
        edge, channels = self._trunk(video=True)
        down, length = [], self.num_frames
        for i in range(len(channels) - 1):
            d = i > 0 and length % 2 == 0 and length > 1
            down.append(d)
            length //= 2 if d else 1
        return DiscriminatorConfig(seq_length=self.num_frames, max_edge=edge, channels=channels,
                                   temporal_down=tuple(down), temporal_ksize=self.video_temporal_ksize,
                                   epilogue_channels=self.epilogue_channels, epilogue_temporal_ksize=1,
                                   epilogue_num_conv1d=2)


# ---------------------------------------------------------------------------------------------- noise
def _seed(*words: int) -> int:
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def step_noise(seed: int, start: int, stop: int, dim: int) -> Tensor:
    """The LSTM noise of steps ``start .. stop - 1`` of video ``seed``, ``[stop - start, dim]``.

    Step ``t`` is row ``t % NOISE_CHUNK`` of block ``t // NOISE_CHUNK``, drawn from ``(seed, block)``: a pure
    function of ``(seed, t)``, whatever window is asked for.
    """
    if stop <= start:
        return torch.zeros(0, dim)
    blocks = [torch.randn(NOISE_CHUNK, dim, generator=torch.Generator().manual_seed(_seed(seed, 3, k)))
              for k in range(start // NOISE_CHUNK, (stop - 1) // NOISE_CHUNK + 1)]
    first = (start // NOISE_CHUNK) * NOISE_CHUNK
    return torch.cat(blocks)[start - first:stop - first]


# ---------------------------------------------------------------------------------------------- generator
class MotionLSTM(nn.Module):
    """LSTM cell (equalised-lr gates) whose state starts from the first frame's z; reads out PCA
    coefficients."""

    def __init__(self, cfg: MoCoGANHDConfig) -> None:
        super().__init__()
        h = cfg.hidden_dim
        self.init = FullyConnected(cfg.z_dim, 2 * h)
        self.ih = FullyConnected(cfg.noise_dim, 4 * h)
        self.hh = FullyConnected(h, 4 * h, bias=False)
        self.out = FullyConnected(h, cfg.pca_dim)

    def start(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        h, c = self.init(x).chunk(2, dim=1)
        return torch.tanh(h), c

    def step(self, state: tuple[Tensor, Tensor], noise: Tensor) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, g, o = (self.ih(noise) + self.hh(h)).chunk(4, dim=1)
        c = torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class MoCoGANHDGenerator(nn.Module):
    """Image generator + PCA buffers + motion LSTM (see the module docstring)."""

    def __init__(self, cfg: MoCoGANHDConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.image = StyleGANVGenerator(cfg.image_config())
        self.motion = MotionLSTM(cfg)
        self.register_buffer("pca_mean", torch.zeros(cfg.w_dim))
        self.register_buffer("pca_basis", torch.eye(cfg.pca_dim, cfg.w_dim))  # orthonormal rows
        self.register_buffer("pca_std", torch.ones(cfg.pca_dim))
        self.register_buffer("pca_ready", torch.zeros(()))  # 1 once stage 2 has begun

    # ---- image -------------------------------------------------------------------------------------
    def mapping(self, z: Tensor) -> Tensor:
        return self.image.map_content(z)

    def render(self, ws: Tensor) -> Tensor:
        """``[M, w_dim]`` styles -> ``[M, 3, H, W]`` frames."""
        feats = torch.zeros(ws.shape[0], 1, self.image.cfg.time_dim, dtype=ws.dtype, device=ws.device)
        return self.image.synthesize(ws, feats)[:, :, 0]

    # ---- PCA ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def compute_pca(self) -> None:
        """Fill the PCA buffers from the current mapping network (fixed z sample, float64 SVD, signs fixed
        so that each component's largest entry is positive)."""
        cfg = self.cfg
        z = torch.randn(cfg.pca_samples, cfg.z_dim, generator=torch.Generator().manual_seed(PCA_SEED))
        w = self.mapping(z.to(self.pca_mean.device)).double()
        mean = w.mean(dim=0)
        _, s, vh = torch.linalg.svd(w - mean, full_matrices=False)
        basis = vh[:cfg.pca_dim]
        sign = torch.sign(basis.gather(1, basis.abs().argmax(dim=1, keepdim=True)))
        self.pca_mean.copy_(mean)
        self.pca_basis.copy_(basis * sign)
        self.pca_std.copy_(s[:cfg.pca_dim] / math.sqrt(cfg.pca_samples - 1))
        self.pca_ready.fill_(1.0)

    def residual(self, h: Tensor) -> Tensor:
        """``w_t - w_0`` for LSTM outputs ``h`` ``[..., hidden]``: in the span of ``pca_basis`` by
        construction."""
        coef = self.motion.out(h) * self.pca_std.to(h.dtype)
        return self.cfg.w_residual * coef @ self.pca_basis.to(h.dtype)

    # ---- motion ------------------------------------------------------------------------------------
    def trajectory(self, z: Tensor, noise: Tensor) -> Tensor:
        """Styles ``[N, T, w_dim]`` of frames ``0 .. T - 1`` from z_0 ``[N, z_dim]`` and the noise of steps
        ``1 .. T - 1`` (``[N, T - 1, noise_dim]``)."""
        w0 = self.mapping(z)
        state = self.motion.start(z)
        ws = [w0]
        for t in range(noise.shape[1]):
            state = self.motion.step(state, noise[:, t])
            ws.append((ws[-1] if self.cfg.cumulative else w0) + self.residual(state[0]))
        return torch.stack(ws, dim=1)

    def forward(self, z: Tensor, noise: Tensor) -> Tensor:
        """Videos ``[N, 3, T, H, W]`` (``T = noise.shape[1] + 1``)."""
        ws = self.trajectory(z, noise)
        n, t, _ = ws.shape
        return self.render(ws.reshape(n * t, -1)).reshape(n, t, 3, *self.render_hw).transpose(1, 2)

    @property
    def render_hw(self) -> tuple[int, int]:
        return self.cfg.height, self.cfg.width

    @torch.no_grad()
    def styles(self, seed: int, t0: int, num_frames: int, chunk: int = 256):
        """Yield ``(t, ws [k, w_dim])`` blocks covering frames ``t0 .. t0 + num_frames - 1`` of video ``seed``
        (the recurrence is unrolled from 0; only the current block is held)."""
        cfg, dev = self.cfg, self.pca_mean.device
        z = content_code(seed, cfg.z_dim)[None].to(dev)
        w0 = self.mapping(z)
        state = self.motion.start(z)
        stop, t, block, block_t, w = t0 + num_frames, 0, [], t0, w0
        noise = torch.zeros(0, cfg.noise_dim)
        while t < stop:
            if t > 0:
                k = t % NOISE_CHUNK
                if k == 0 or len(noise) == 0:
                    base = t - k
                    noise = step_noise(seed, base, base + NOISE_CHUNK, cfg.noise_dim).to(dev)
                state = self.motion.step(state, noise[k][None])
                w = (w if cfg.cumulative else w0) + self.residual(state[0])
            if t >= t0:
                block.append(w)
                if len(block) == chunk:
                    yield block_t, torch.cat(block)
                    block, block_t = [], t + 1
            t += 1
        if block:
            yield block_t, torch.cat(block)

    @torch.no_grad()
    def frames(self, seed: int, t0: int, num_frames: int, chunk: int = 32) -> Tensor:
        """Frames ``t0 .. t0 + num_frames - 1`` of video ``seed``, ``[3, num_frames, H, W]``: the LSTM
        unrolled for ``t0 + num_frames`` steps."""
        out = torch.empty(3, num_frames, *self.render_hw, device=self.pca_mean.device)
        for t, ws in self.styles(seed, t0, num_frames, chunk):
            out[:, t - t0:t - t0 + len(ws)] = self.render(ws).float().transpose(0, 1)
        return out


# ---------------------------------------------------------------------------------------------- discriminator
class MoCoGANHDDiscriminator(nn.Module):
    """``image`` ([N, 3, 1, H, W] -> [N, 1]) and ``video`` ([N, 3, num_frames, H, W] -> [N, 1]); both are
    :class:`LowResDiscriminator` trunks (the image one with temporal kernels 1)."""

    def __init__(self, cfg: MoCoGANHDDiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.image = LowResDiscriminator(cfg.image())
        self.video_trunk = LowResDiscriminator(cfg.video())

    def video(self, clips: Tensor) -> Tensor:
        f = self.cfg.video_downsample
        return self.video_trunk(F.avg_pool3d(clips, (1, f, f)) if f > 1 else clips)


def build(tc: BaselineTrainConfig) -> tuple[MoCoGANHDGenerator, MoCoGANHDDiscriminator]:
    """G and D of a ``baselines.mocoganhd`` section, initialised from its seed only."""
    h, w = parse_resolution(tc.resolution)

    def configs() -> tuple[MoCoGANHDConfig, MoCoGANHDDiscriminatorConfig]:
        gc = MoCoGANHDConfig.preset(tc.preset, height=h, width=w, **tc.generator)
        return gc, MoCoGANHDDiscriminatorConfig.preset(tc.preset, height=h, width=w, num_frames=gc.clip_frames,
                                                       **tc.discriminator)

    return build_networks(tc, METHOD, configs, MoCoGANHDGenerator, MoCoGANHDDiscriminator)


# ---------------------------------------------------------------------------------------------- algorithm
class MoCoGANHD(BaselineAlgorithm):
    """MoCoGAN-HD-lite as an :class:`lvg.train.loop.Algorithm` (both stages; see the module docstring)."""

    method = METHOD
    loss_names = ("stage", "loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake", "logits_real_video",
                  "logits_fake_video")

    def __init__(self, tc: BaselineTrainConfig, info: DistInfo | None = None) -> None:
        super().__init__(tc, info)  # batch split, RNG streams "latent" and "augment"
        G, D = build(tc)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = make_ema(self.G)
        self.num_frames = self.G.cfg.clip_frames
        self.networks: dict[str, nn.Module] = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        c = tc.lazy_c
        self.optimizers = {"G": adam(self.G.image.parameters(), tc.lr_g),
                           "M": adam(self.G.motion.parameters(), tc.lr_g),
                           "D": adam(self.D.image.parameters(), tc.lr_d, c),
                           "DV": adam(self.D.video_trunk.parameters(), tc.lr_d, c)}

    data_max_gap = 1  # the video D sees consecutive frames

    #: with a compute budget (``budget_s``), the step at which stage 1's share of it ran out (set by
    #: :meth:`on_clock`, checkpointed); without one, stage 1 is ``round(stage_split * steps)`` steps
    stage1_end: int | None = None

    @property
    def stage1_steps(self) -> int:
        if self.tc.budget_s is not None:
            return self.tc.steps if self.stage1_end is None else self.stage1_end
        return round(self.tc.stage_split * self.tc.steps)

    def on_clock(self, step: int, train_s: float, budget_s: float | None) -> None:
        """Budgeted runs: stage 2 starts at the first step after ``stage_split`` of the budget is spent."""
        if budget_s is not None and self.stage1_end is None and train_s >= self.tc.stage_split * budget_s:
            self.stage1_end = step

    def rank_state(self) -> dict[str, Any]:
        return super().rank_state() | {"stage1_end": self.stage1_end}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        super().load_rank_state(state)
        self.stage1_end = state.get("stage1_end")

    def stage(self, step: int) -> int:
        """1 or 2. Once stage 2 has begun it stays (a run extended to more steps does not go back)."""
        return 2 if step >= self.stage1_steps or bool(self.G.pca_ready) else 1

    # ---- pieces ------------------------------------------------------------------------------------
    def _augment(self, x: Tensor) -> Tensor:
        return diff_augment(x, generator=self.rng["augment"]) if self.tc.augment else x

    def _D_image(self, frames: Tensor) -> Tensor:
        """``[N, 3, 1, H, W]`` -> ``[N]``."""
        with self.autocast():
            return self.D.image(self._augment(frames)).float().reshape(-1)

    def _D_video(self, video: Tensor) -> Tensor:
        with self.autocast():
            return self.D.video(self._augment(video)).float().reshape(-1)

    def _pick_frame(self, video: Tensor) -> Tensor:
        """One random frame per video: ``[N, 3, T, H, W]`` -> ``[N, 3, 1, H, W]``."""
        n, _, t = video.shape[:3]
        idx = torch.randint(t, (n,), generator=self.rng["latent"]).to(video.device)
        return video[torch.arange(n, device=video.device), :, idx][:, :, None]

    def fake_images(self, n: int) -> Tensor:
        z = torch.randn(n, self.G.cfg.z_dim, generator=self.rng["latent"]).to(self.device)
        with self.autocast():
            return self.G.render(self.G.mapping(z)).float()[:, :, None]

    def fake_videos(self, n: int) -> Tensor:
        cfg = self.G.cfg
        z = torch.randn(n, cfg.z_dim, generator=self.rng["latent"])
        noise = torch.randn(n, cfg.clip_frames - 1, cfg.noise_dim, generator=self.rng["latent"])
        with self.autocast():
            return self.G(z.to(self.device), noise.to(self.device)).float()

    def _real(self, batches: BatchSource) -> Tensor:
        return batches.next()["video"].float()

    def _step(self, names: tuple[str, ...], loss: Tensor, modules: tuple[nn.Module, ...]) -> None:
        loss.backward()
        for m in modules:
            dist.all_reduce_grads([p for p in m.parameters() if p.requires_grad])
        for name in names:
            self.optimizers[name].step()

    def _zero(self, *names: str) -> None:
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)

    # ---- stage switch ------------------------------------------------------------------------------
    @torch.no_grad()
    def begin_stage2(self) -> None:
        """Freeze the image generator: G's becomes G_ema's, and the PCA of its W space is stored in both."""
        self.G.image.load_state_dict(self.G_ema.image.state_dict())
        self.G_ema.compute_pca()
        for name in ("pca_mean", "pca_basis", "pca_std", "pca_ready"):
            getattr(self.G, name).copy_(getattr(self.G_ema, name))

    # ---- steps -------------------------------------------------------------------------------------
    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        tc = self.tc
        if self.stage(step) == 1:
            out = {"stage": 1.0, "loss_G": self._stage1_G()} | self._stage1_D(batches)
            if tc.r1_enabled and step % tc.r1_interval == 0:
                out["r1_penalty"] = self._R1(batches, video=False)
            beta = ema_beta(step, tc.ema_beta, tc.ema_rampup_steps)
        else:
            if not bool(self.G.pca_ready):
                self.begin_stage2()
            out = {"stage": 2.0} | self._stage2(batches)
            if tc.r1_enabled and step % tc.r1_interval == 0:
                out["r1_penalty"] = self._R1(batches, video=True)
            beta = ema_beta(max(0, step - self.stage1_steps), tc.ema_beta, tc.ema_rampup_steps)
        update_ema(self.G_ema, self.G, beta)
        return out

    def _stage1_G(self) -> float:
        self.G.image.requires_grad_(True)
        self.D.requires_grad_(False)
        self._zero("G")
        loss = g_loss(self._D_image(self.fake_images(self.micro_batch)))
        self._step(("G",), loss, (self.G.image,))
        return float(loss.detach())

    def _stage1_D(self, batches: BatchSource) -> dict[str, float]:
        self.D.image.requires_grad_(True)
        self._zero("D")
        with torch.no_grad():
            fake = self.fake_images(self.micro_batch)
        logits_fake = self._D_image(fake)
        logits_real = self._D_image(self._pick_frame(self._real(batches)))
        loss = d_loss(logits_fake, logits_real)
        self._step(("D",), loss, (self.D.image,))
        return {"loss_D": float(loss.detach()), "logits_real": float(logits_real.detach().mean()),
                "logits_fake": float(logits_fake.detach().mean())}

    def _stage2(self, batches: BatchSource) -> dict[str, float]:
        """D step on fresh fakes (detached) and real clips, then the motion step on the same fakes."""
        self.G.image.requires_grad_(False)
        self.G.motion.requires_grad_(True)
        video = self.fake_videos(self.micro_batch)  # graph kept for the motion step
        self.D.requires_grad_(True)
        self._zero("D", "DV")
        fake, real = video.detach(), self._real(batches)
        lf_img, lf_vid = self._D_image(self._pick_frame(fake)), self._D_video(fake)
        lr_img, lr_vid = self._D_image(self._pick_frame(real)), self._D_video(real)
        loss_D = d_loss(lf_img, lr_img) + F.softplus(lf_vid).mean() + F.softplus(-lr_vid).mean()
        self._step(("D", "DV"), loss_D, (self.D.image, self.D.video_trunk))
        self.D.requires_grad_(False)
        self._zero("M")
        loss_G = g_loss(self._D_video(video)) + g_loss(self._D_image(self._pick_frame(video)))
        self._step(("M",), loss_G, (self.G.motion,))
        return {"loss_G": float(loss_G.detach()), "loss_D": float(loss_D.detach()),
                "logits_real": float(lr_img.detach().mean()), "logits_fake": float(lf_img.detach().mean()),
                "logits_real_video": float(lr_vid.detach().mean()),
                "logits_fake_video": float(lf_vid.detach().mean())}

    def _R1(self, batches: BatchSource, video: bool) -> float:
        """Lazy R1 on real frames (stage 1) or on real clips through both Ds (stage 2)."""
        names = ("D", "DV") if video else ("D",)
        modules = (self.D.image, self.D.video_trunk) if video else (self.D.image,)
        for m in modules:
            m.requires_grad_(True)
        self._zero(*names)
        real = self._real(batches)
        x = (real if video else self._pick_frame(real)).detach().requires_grad_(True)
        logits = self._D_image(self._pick_frame(x) if video else x)
        if video:
            logits = logits + self._D_video(x)
        penalty = r1_penalty(logits, x)
        self._step(names, r1_loss(penalty, self.tc.r1_gamma, self.tc.r1_interval), modules)
        return float(penalty.detach())

    # ---- outputs -----------------------------------------------------------------------------------
    def export_extra(self) -> dict[str, Any]:
        return {"stage": 2 if bool(self.G_ema.pca_ready) else 1}


CONFIG, GENERATOR, ALGORITHM = MoCoGANHDConfig, MoCoGANHDGenerator, MoCoGANHD
