"""Training the low-resolution GAN (spec model.md §4-5): the LowResGAN algorithm and the phase entry point.

One step, as in the reference:

1. **G update** on a fresh latent batch: non-saturating loss ``softplus(-D(aug(G(z))))``.
2. **D update** on fresh fakes (G forward under ``no_grad`` with ``update_ema=True``: the only place the
   magnitude EMAs of G move) and one real batch: ``softplus(D(aug(fake))) + softplus(-D(aug(real)))``.
3. Every ``r1_interval`` steps, a **lazy R1 update** on another real batch: ``gamma / 2 * |dD(aug(x))/dx|^2``
   w.r.t. the *pre-augmentation* real ``x``, times ``r1_interval`` (so its average weight is gamma / 2). D's
   Adam uses ``lr * c`` and ``beta2 ** c`` with ``c = interval / (interval + 1)`` to compensate the extra
   optimizer steps (StyleGAN2's lazy-regularisation correction: 0.002 -> 0.00188, 0.99 -> 0.99058).
4. **G_ema** update with the warm-up of :mod:`lvg.train.ema`.

Latents are white noise of the length the phase-cropped window needs: G renders ``seq_length`` frames
starting at a random ``t0`` in ``[0, 32)`` per clip, hiding the phase of its 1/32-rate input grid. The
augmentation (DiffAugment then time stretch) runs inside ``_run_D``, so reals, fakes and R1 all get it.

Randomness comes only from two explicit CPU generators per rank (latents + phases, augmentation draws),
seeded from ``(seed, rank)`` and saved in checkpoints, and from the real-data stream (a pure function of
``(seed, rank, position)``). Network initialisation uses ``seed`` alone, so every rank starts identical.

bf16 (``bf16: true``): G and D forwards run under ``torch.autocast``; the filter bank, the augmentation, the
R1 gradient norm and every loss reduction stay float32.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from lvg.augment.pipeline import VideoAugment
from lvg.config import parse_resolution, resolution_dir, section_class, validate_section
from lvg.data.reader import VideoDataset
from lvg.errors import InputError
from lvg.lowres.discriminator import DiscriminatorConfig, LowResDiscriminator
from lvg.lowres.generator import GeneratorConfig, VideoGenerator, count_parameters
from lvg.models import save_generator
from lvg.plan import LOWRES_NETWORK_KEYS, ablation_override  # noqa: F401 - lvg.train.lowres's API
from lvg.train import distributed as dist
from lvg.train.ema import make_ema
from lvg.train.gan import (
    DATA,
    GANAlgorithm,
    adam,
    d_loss,
    g_loss,
    init_generator,
    init_source,
    r1_loss,
    r1_penalty,
    rank_seed,
    replace_config,
)
from lvg.train.loop import BatchSource, resume_key, train, video_grid
from lvg.train.section import TrainSection

log = logging.getLogger(__name__)

SECTION = "train_lowres"
# the keys that decide the networks and their initialisation (what the untrained control depends on)
NETWORK_KEYS = LOWRES_NETWORK_KEYS


class LowResTrainConfig(section_class(SECTION, "LowResTrainConfig", TrainSection)):
    """The ``train_lowres`` section (keys, defaults and meanings: the schema and params.yaml)."""

    SECTION: ClassVar[str] = SECTION


# ---------------------------------------------------------------------------------------------- networks
def generator_config(tc: LowResTrainConfig) -> GeneratorConfig:
    """The generator the config asks for: preset + resolution + seq_length + footprint + overrides."""
    h, w = parse_resolution(tc.resolution)
    overrides = dict(tc.generator)
    if tc.footprint is not None:
        overrides |= {"min_footprint": tc.footprint[0], "max_footprint": tc.footprint[1]}
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    try:
        return GeneratorConfig.preset(tc.preset, height=h, width=w, seq_length=tc.seq_length, **overrides)
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.generator: {e}") from None


def discriminator_config(tc: LowResTrainConfig) -> DiscriminatorConfig:
    """The preset discriminator resized to the clip length and (padded square) resolution, plus overrides."""
    h, w = parse_resolution(tc.resolution)
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in tc.discriminator.items()}
    try:
        cfg = dataclasses.replace(DiscriminatorConfig.preset(tc.preset), seq_length=tc.seq_length,
                                  max_edge=max(h, w), **overrides)
        cfg.validate()
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.discriminator: {e}") from None
    return cfg


def build_networks(tc: LowResTrainConfig, init: Path | None = None) -> tuple[VideoGenerator, LowResDiscriminator]:
    """G and D initialised from ``tc.seed`` only (global RNG forked and restored): identical on every rank.

    With ``init`` (the resolved ``init_from``: fine-tuning) G is that generator instead, with its own
    architecture (:func:`init_config` applies this section's sequence length, footprint and overrides);
    D is freshly initialised from ``tc.seed`` as always.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        if init is None:
            G = VideoGenerator(generator_config(tc))
        else:
            G, info = init_generator(init, "lowres", SECTION, lambda cfg: init_config(tc, cfg))
            G.init_info = info
        D = LowResDiscriminator(discriminator_config(tc))
    return G, D


def init_config(tc: LowResTrainConfig, cfg: GeneratorConfig) -> GeneratorConfig:
    """The config a fine-tuned G trains with: the init model's, with this section's training length,
    footprint and ``generator`` overrides; its frame size must be ``tc.resolution``."""
    h, w = parse_resolution(tc.resolution)
    if (cfg.height, cfg.width) != (h, w):
        raise ValueError(f"it makes {cfg.height}x{cfg.width} frames, {SECTION}.resolution is {tc.resolution}")
    overrides = {"seq_length": tc.seq_length, **tc.generator}
    if tc.footprint is not None:
        overrides |= {"min_footprint": tc.footprint[0], "max_footprint": tc.footprint[1]}
    return replace_config(cfg, **overrides)


# ---------------------------------------------------------------------------------------------- algorithm
class LowResGAN(GANAlgorithm):
    """LongVideoGAN's low-resolution GAN as an :class:`lvg.train.loop.Algorithm`."""

    loss_names = ("loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake")

    def __init__(self, tc: LowResTrainConfig, info: dist.DistInfo | None = None, init: Path | None = None) -> None:
        super().__init__(tc, info, SECTION, grad_accum=tc.grad_accum)
        G, D = build_networks(tc, init)
        self.init_info = getattr(G, "init_info", None)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = make_ema(self.G)
        self.networks = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        self.opt_G = adam(self.G.parameters(), tc.lr_g)
        self.opt_D = adam(self.D.parameters(), tc.lr_d, tc.lazy_c)
        self.optimizers = {"G": self.opt_G, "D": self.opt_D}
        self.augment = VideoAugment() if tc.augment else None

    # ---- pieces of a step -----------------------------------------------------------------------------
    def generate(self, n: int, update_ema: bool = False) -> Tensor:
        """``n`` fake clips from fresh noise, each phase-cropped at a random ``t0`` in [0, 32); float32."""
        T, g = self.tc.seq_length, self.rng["latent"]
        t0 = self.G.sample_phase(n, g)
        length = self.G.plan(t0, T).noise_length
        noise = torch.randn(n, self.G.cfg.noise_channels, length, generator=g)
        with self.autocast():
            video = self.G(noise=noise.to(self.device), t0=t0, num_frames=T, update_ema=update_ema)
        return video.float()

    def run_D(self, video: Tensor) -> Tensor:
        """Logits ``[N]`` (float32) of D on the augmented video (augmentation in float32, differentiable)."""
        if self.augment is not None:
            video = self.augment(video, generator=self.rng["augment"])
        with self.autocast():
            logits = self.D(video)
        return logits.float().reshape(-1)

    def _real(self, batches: BatchSource) -> Tensor:
        return batches.next()["video"].float()

    # ---- the step -------------------------------------------------------------------------------------
    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        out = self.gan_round(step, self._step_G, lambda: self._step_D(batches), lambda: self._step_R1(batches))
        self.ema_step(step, self.G_ema, self.G)
        return out

    def _step_G(self) -> float:
        self.begin_update(self.opt_G, self.G, frozen=self.D)
        total = torch.zeros((), device=self.device)
        for _ in range(self.tc.grad_accum):
            loss = g_loss(self.run_D(self.generate(self.micro_batch)))
            (loss / self.tc.grad_accum).backward()
            total += loss.detach() / self.tc.grad_accum
        self.end_update(self.opt_G, self.G)
        return float(total)

    def _step_D(self, batches: BatchSource) -> dict[str, float]:
        self.begin_update(self.opt_D, self.D)
        acc = torch.zeros(3, device=self.device)
        for _ in range(self.tc.grad_accum):
            with torch.no_grad():
                fake = self.generate(self.micro_batch, update_ema=True)
            logits_fake = self.run_D(fake)
            logits_real = self.run_D(self._real(batches))
            loss = d_loss(logits_fake, logits_real)
            (loss / self.tc.grad_accum).backward()
            acc += torch.stack([loss.detach(), logits_real.detach().mean(), logits_fake.detach().mean()])
        self.end_update(self.opt_D, self.D)
        loss_D, real, fake = (acc / self.tc.grad_accum).tolist()
        return {"loss_D": loss_D, "logits_real": real, "logits_fake": fake}

    def _step_R1(self, batches: BatchSource) -> float:
        self.begin_update(self.opt_D, self.D)
        total = torch.zeros((), device=self.device)
        for _ in range(self.tc.grad_accum):
            real = self._real(batches).detach().requires_grad_(True)
            penalty = r1_penalty(self.run_D(real), real)
            loss = r1_loss(penalty, self.tc.r1_gamma, self.tc.r1_interval)
            (loss / self.tc.grad_accum).backward()
            total += penalty.detach() / self.tc.grad_accum
        self.end_update(self.opt_D, self.D)
        return float(total)

    # ---- outputs --------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_video(self) -> np.ndarray | None:
        """G_ema's clips for seeds 0..sample_clips-1 from frame 0 (counter noise: same clips every time)."""
        if self.tc.sample_clips <= 0:
            return None
        seeds = list(range(self.tc.sample_clips))
        video = self.G_ema(seeds, t0=0, num_frames=self.tc.sample_frames)
        return video_grid(video)

    def export(self, run_dir: Path, step: int) -> Path:
        """Write the final ``G_ema.safetensors`` + ``G_ema.json`` (its config) for generation."""
        extra = {"step": step, "kimg": step * self.clips_per_step / 1000, "train": dataclasses.asdict(self.tc)}
        if self.init_info is not None:
            extra["init"] = self.init_info  # fine-tuned: what it started from (with an import's provenance)
        return save_generator(self.G_ema, Path(run_dir) / "G_ema.safetensors", extra)


# ---------------------------------------------------------------------------------------------- entry point


def run_train_lowres(section: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
                     resume: bool = True) -> Path:
    """Train the LR GAN on ``dataset_dir/<HHHHxWWWW>/`` into ``out_dir``; return ``out_dir/G_ema.safetensors``.

    ``section`` is the ``train_lowres`` section (validated and defaulted here). Under ``torchrun`` every
    process calls this; rank 0 alone writes. ``out_dir`` receives ``config.yaml``, ``config.json``,
    ``metrics.csv``, ``samples/``, ``checkpoints/`` and the final ``G_ema.{safetensors,json}``.
    """
    section = validate_section(SECTION, section)
    tc = LowResTrainConfig.from_dict(section)
    info = dist.setup_process(tc.device, tc.threads)
    h, w = parse_resolution(tc.resolution)
    data_seed = rank_seed(tc.seed, info.rank, DATA)
    dataset = VideoDataset(dataset_dir, h, w, tc.seq_length, x_flip=tc.x_flip, seed=data_seed)
    init = init_source(tc.init_from, dataset_dir, "lowres") if tc.init_from else None
    algo = LowResGAN(tc, info, init)
    batches = BatchSource(dataset, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    if info.is_main:
        log.info("train lowres: %s preset, %s, %d frames, batch %d on %d process(es) (%s); G %d, D %d params; "
                 "%d clips in %s", tc.preset, tc.resolution, tc.seq_length, tc.batch, info.world_size,
                 info.device, count_parameters(algo.G), count_parameters(algo.D), len(dataset), dataset_dir)
    extra = {"generator": algo.G.cfg.to_dict(), "discriminator": _jsonable(dataclasses.asdict(algo.D.config)),
             "world_size": info.world_size, "device": str(info.device), "dataset_dir": str(dataset_dir),
             "torch": torch.__version__, "init": algo.init_info}
    key = resume_key(section, [Path(dataset_dir) / resolution_dir(h, w) / "index.json"],
                     {"init": algo.init_info["model_id"]} if algo.init_info else None)
    return train(algo, batches, tc.loop_config(), out_dir, {SECTION: section}, info=info, resume=resume,
                 resolved_extra=extra, resume_key=key)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
