"""Training the super-resolution GAN (spec model.md §6-8): the SuperResGAN algorithm and the phase entry point.

A real batch holds 12-frame LR and HR clips at the same frame indices (:class:`~lvg.data.reader.
PairedVideoDataset`): 4 output frames (indices 4..7) plus 4 context frames each side. The LR input is
**always real** (never generated), degraded by the fixed-p in_augment (:func:`lvg.augment.degrade.degrade`).
D sees ``build_input(LR[4:8], HR)`` (4 upsampled LR frames + 4 HR frames along time), augmented by ADA
(:func:`lvg.augment.ada.ada_augment`: one transform per clip, both halves alike), then LR-dropout inside D.

One step:

1. **G update** on a real batch: ``lr' = degrade(lr)``, ``fake = G(lr', z)``,
   loss ``softplus(-D(ada(build(lr'[4:8], fake))))``.
2. **D update** on the next real batch: the fake from ``degrade(lr)`` (G under ``no_grad`` with
   ``update_ema=True``: the only place G's magnitude EMAs move) and the real from an independent
   ``degrade(lr)`` of the same clip; loss ``softplus(D(fake)) + softplus(-D(real))``. The signs of the real
   logits feed ADA's controller, which adjusts ``p`` every ``ada_interval`` steps.
3. Every ``r1_interval`` steps a lazy **R1** update on another real batch: ``gamma / 2 * |dD/dHR|^2`` w.r.t.
   the pre-augmentation real HR frames, times ``r1_interval``; D's Adam uses ``lr * c``, ``beta2 ** c`` with
   ``c = interval / (interval + 1)``.
4. **G_ema** update (:mod:`lvg.train.ema`).

Randomness: explicit CPU generators per rank (latents; degradation + ADA + LR dropout), seeded from
``(seed, rank)`` and saved with ADA's state in checkpoints; the data stream is a pure function of
``(seed, rank, position)``. Networks are initialised from ``seed`` alone.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lvg.augment.ada import AdaptiveP, ada_augment
from lvg.augment.degrade import degrade
from lvg.config import parse_resolution, resolution_dir, section_class, validate_section
from lvg.data.reader import PairedVideoDataset
from lvg.errors import InputError
from lvg.models import save_generator
from lvg.plan import SUPERRES_NETWORK_KEYS
from lvg.superres.discriminator import SRDiscriminator, SRDiscriminatorConfig
from lvg.superres.generator import SRGenerator, SRGeneratorConfig, count_parameters
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

SECTION = "train_superres"
# the keys that decide the networks and their initialisation (what the untrained control depends on)
NETWORK_KEYS = SUPERRES_NETWORK_KEYS
OUT_FRAMES, CONTEXT = 4, 4  # output frames per clip, LR context frames each side
CLIP_FRAMES = OUT_FRAMES + 2 * CONTEXT


class SRTrainConfig(section_class(SECTION, "SRTrainConfig", TrainSection)):
    """The ``train_superres`` section (keys, defaults and meanings: the schema and params.yaml)."""

    SECTION: ClassVar[str] = SECTION


# ---------------------------------------------------------------------------------------------- networks
def _sizes(tc: SRTrainConfig) -> dict[str, int]:
    (h, w), (H, W) = parse_resolution(tc.lr_resolution), parse_resolution(tc.hr_resolution)
    return dict(lr_height=h, lr_width=w, hr_height=H, hr_width=W)


def _overrides(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def generator_config(tc: SRTrainConfig) -> SRGeneratorConfig:
    try:
        return SRGeneratorConfig.preset(tc.preset, **(_sizes(tc) | _overrides(tc.generator)))
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.generator: {e}") from None


def discriminator_config(tc: SRTrainConfig) -> SRDiscriminatorConfig:
    try:
        return SRDiscriminatorConfig.preset(tc.preset, **(_sizes(tc) | {"lr_cond_prob": tc.lr_cond_prob}
                                                           | _overrides(tc.discriminator)))
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.discriminator: {e}") from None


def build_networks(tc: SRTrainConfig, init: Path | None = None) -> tuple[SRGenerator, SRDiscriminator]:
    """G and D initialised from ``tc.seed`` only (global RNG forked and restored): identical on every rank.

    With ``init`` (the resolved ``init_from``: fine-tuning) G is that generator, with its own architecture
    (plus this section's ``generator`` overrides); its LR and HR sizes must be the section's. D is freshly
    initialised from ``tc.seed`` as always.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        if init is None:
            G = SRGenerator(generator_config(tc))
        else:
            G, info = init_generator(init, "superres", SECTION, lambda cfg: init_config(tc, cfg))
            G.init_info = info
        D = SRDiscriminator(discriminator_config(tc))
    return G, D


def init_config(tc: SRTrainConfig, cfg: SRGeneratorConfig) -> SRGeneratorConfig:
    """The init model's config with this section's ``generator`` overrides; its sizes must be the section's."""
    sizes = _sizes(tc)
    got = {k: getattr(cfg, k) for k in sizes}
    if got != sizes:
        raise ValueError(f"it maps {cfg.lr_height}x{cfg.lr_width} to {cfg.hr_height}x{cfg.hr_width}, "
                         f"{SECTION} trains {tc.lr_resolution} -> {tc.hr_resolution}")
    return replace_config(cfg, **tc.generator)


# ---------------------------------------------------------------------------------------------- algorithm
class SuperResGAN(GANAlgorithm):
    """LongVideoGAN's super-resolution GAN as an :class:`lvg.train.loop.Algorithm`."""

    loss_names = ("loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake", "ada_p")

    def __init__(self, tc: SRTrainConfig, info: dist.DistInfo | None = None,
                 sample_clips: tuple[Tensor, Tensor] | None = None, init: Path | None = None) -> None:
        super().__init__(tc, info, SECTION)
        G, D = build_networks(tc, init)
        self.init_info = getattr(G, "init_info", None)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = make_ema(self.G)
        self.networks = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        self.opt_G = adam(self.G.parameters(), tc.lr_g)
        self.opt_D = adam(self.D.parameters(), tc.lr_d, tc.lazy_c)
        self.optimizers = {"G": self.opt_G, "D": self.opt_D}
        self.ada = AdaptiveP(target=tc.ada_target, interval=tc.ada_interval, adjust=tc.ada_adjust,
                             max_p=tc.ada_max_p)
        self.sample_clips = sample_clips  # fixed (LR [n, 3, 12, h, w], HR [n, 3, 12, H, W]) for sample videos

    # ---- state ----------------------------------------------------------------------------------------
    def rank_state(self) -> dict[str, Any]:
        return super().rank_state() | {"ada": self.ada.state()}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        super().load_rank_state(state)
        self.ada.load_state(state["ada"])

    # ---- pieces of a step -----------------------------------------------------------------------------
    def _real(self, batches: BatchSource) -> tuple[Tensor, Tensor]:
        """Real LR ``[N, 3, 12, h, w]`` and the HR output frames ``[N, 3, 4, H, W]``."""
        b = batches.next()
        return b["lr_video"].float(), b["hr_video"].float()[:, :, CONTEXT:CONTEXT + OUT_FRAMES]

    def degrade(self, lr: Tensor) -> Tensor:
        return degrade(lr, self.tc.in_augment_p, self.rng["augment"])

    def generate(self, lr: Tensor, update_ema: bool = False) -> Tensor:
        z = torch.randn(lr.shape[0], self.G.cfg.z_dim, generator=self.rng["latent"]).to(self.device)
        with self.autocast():
            hr = self.G(lr, z, update_ema=update_ema)
        return hr.float()

    def run_D(self, lr: Tensor, hr: Tensor) -> Tensor:
        """Logits ``[N]`` of D on ``ada(build_input(lr[4:8], hr))`` with LR dropout (float32)."""
        video = self.D.build_input(lr[:, :, CONTEXT:CONTEXT + OUT_FRAMES], hr)
        video = ada_augment(video, self.ada.p, self.rng["augment"])
        with self.autocast():
            logits = self.D(video, generator=self.rng["augment"])
        return logits.float().reshape(-1)

    # ---- the step -------------------------------------------------------------------------------------
    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        out = self.gan_round(step, lambda: self._step_G(batches), lambda: self._step_D(batches),
                             lambda: self._step_R1(batches))
        self.ada.maybe_update(step, reduce=lambda acc: dist.all_reduce_mean(acc, self.device))
        out["ada_p"] = self.ada.p
        self.ema_step(step, self.G_ema, self.G)
        return out

    def _step_G(self, batches: BatchSource) -> float:
        self.begin_update(self.opt_G, self.G, frozen=self.D)
        lr, _ = self._real(batches)
        lr = self.degrade(lr)
        loss = g_loss(self.run_D(lr, self.generate(lr)))
        loss.backward()
        self.end_update(self.opt_G, self.G)
        return float(loss.detach())

    def _step_D(self, batches: BatchSource) -> dict[str, float]:
        self.begin_update(self.opt_D, self.D)
        lr, hr = self._real(batches)
        lr_fake = self.degrade(lr)
        with torch.no_grad():
            fake = self.generate(lr_fake, update_ema=True)
        logits_fake = self.run_D(lr_fake, fake)
        logits_real = self.run_D(self.degrade(lr), hr)
        loss = d_loss(logits_fake, logits_real)
        loss.backward()
        self.end_update(self.opt_D, self.D)
        self.ada.accumulate(logits_real)
        return {"loss_D": float(loss.detach()), "logits_real": float(logits_real.detach().mean()),
                "logits_fake": float(logits_fake.detach().mean())}

    def _step_R1(self, batches: BatchSource) -> float:
        self.begin_update(self.opt_D, self.D)
        lr, hr = self._real(batches)
        lr = self.degrade(lr)
        hr = hr.detach().requires_grad_(True)
        penalty = r1_penalty(self.run_D(lr, hr), hr)
        r1_loss(penalty, self.tc.r1_gamma, self.tc.r1_interval).backward()
        self.end_update(self.opt_D, self.D)
        return float(penalty.detach())

    # ---- outputs --------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_video(self) -> np.ndarray | None:
        """Fixed real clips: [LR upsampled | G_ema(LR, z of seed k) | real HR], side by side, 4 frames."""
        if self.sample_clips is None:
            return None
        lr, hr = (x.to(self.device) for x in self.sample_clips)
        z = torch.stack([torch.randn(self.G.cfg.z_dim, generator=torch.Generator().manual_seed(k))
                         for k in range(lr.shape[0])]).to(self.device)
        sr = self.G_ema(lr, z)
        n, _, t, H, W = sr.shape
        centre = lr[:, :, CONTEXT:CONTEXT + OUT_FRAMES]
        up = F.interpolate(centre.transpose(1, 2).reshape(n * t, 3, *centre.shape[-2:]), size=(H, W),
                           mode="nearest").reshape(n, t, 3, H, W).transpose(1, 2)
        grid = torch.cat([up, sr, hr[:, :, CONTEXT:CONTEXT + OUT_FRAMES]], dim=4)
        return video_grid(grid, columns=1)

    def export(self, run_dir: Path, step: int) -> Path:
        extra = {"step": step, "kimg": step * self.clips_per_step / 1000, "train": dataclasses.asdict(self.tc)}
        if self.init_info is not None:
            extra["init"] = self.init_info  # fine-tuned: what it started from (with an import's provenance)
        return save_generator(self.G_ema, Path(run_dir) / "G_ema.safetensors", extra)


# ---------------------------------------------------------------------------------------------- entry point
def _sample_clips(dataset: PairedVideoDataset, n: int) -> tuple[Tensor, Tensor] | None:
    """The middle 12-frame window of the first ``n`` clips (fixed: samples are comparable across steps)."""
    if n <= 0:
        return None
    lrs, hrs = [], []
    for c in range(min(n, len(dataset))):
        start = max(0, (dataset.lr.num_frames(c) - CLIP_FRAMES) // 2)
        lr, hr = dataset.read_window(c, start, CLIP_FRAMES)
        lrs.append(lr.float())
        hrs.append(hr.float())
    return torch.stack(lrs), torch.stack(hrs)


def run_train_superres(section: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
                       resume: bool = True) -> Path:
    """Train the SR GAN on ``dataset_dir/<LR>/`` + ``<HR>/`` into ``out_dir``; return
    ``out_dir/G_ema.safetensors`` (plus ``G_ema.json``, ``config.{yaml,json}``, ``metrics.csv``, ``samples/``,
    ``checkpoints/``). ``section`` is the ``train_superres`` section (validated and defaulted here)."""
    section = validate_section(SECTION, section)
    tc = SRTrainConfig.from_dict(section)
    info = dist.setup_process(tc.device, tc.threads)
    lr_hw, hr_hw = parse_resolution(tc.lr_resolution), parse_resolution(tc.hr_resolution)
    data_seed = rank_seed(tc.seed, info.rank, DATA)
    dataset = PairedVideoDataset(dataset_dir, lr_hw, hr_hw, CLIP_FRAMES, x_flip=tc.x_flip, seed=data_seed)
    init = init_source(tc.init_from, dataset_dir, "superres") if tc.init_from else None
    algo = SuperResGAN(tc, info, _sample_clips(dataset, tc.sample_clips) if info.is_main else None, init)
    batches = BatchSource(dataset, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    if info.is_main:
        log.info("train superres: %s preset, %s -> %s, batch %d on %d process(es) (%s); G %d, D %d params; "
                 "%d clips in %s", tc.preset, tc.lr_resolution, tc.hr_resolution, tc.batch, info.world_size,
                 info.device, count_parameters(algo.G), count_parameters(algo.D), len(dataset), dataset_dir)
    extra = {"generator": algo.G.cfg.to_dict(), "discriminator": algo.D.cfg.to_dict(),
             "world_size": info.world_size, "device": str(info.device), "dataset_dir": str(dataset_dir),
             "torch": torch.__version__, "init": algo.init_info}
    key = resume_key(section, [Path(dataset_dir) / resolution_dir(*hw) / "index.json" for hw in (lr_hw, hr_hw)],
                     {"init": algo.init_info["model_id"]} if algo.init_info else None)
    return train(algo, batches, tc.loop_config(), out_dir, {SECTION: section}, info=info, resume=resume,
                 resolved_extra=extra, resume_key=key)
