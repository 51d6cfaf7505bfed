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

import contextlib
import copy
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from lvg.augment.ada import AdaptiveP, ada_augment
from lvg.augment.degrade import degrade
from lvg.config import parse_resolution, resolution_dir, validate_config
from lvg.data.reader import PairedVideoDataset
from lvg.errors import InputError, LvgError
from lvg.io import atomic_path, read_json, write_json
from lvg.superres.discriminator import SRDiscriminator, SRDiscriminatorConfig
from lvg.superres.generator import SRGenerator, SRGeneratorConfig, count_parameters
from lvg.train import distributed as dist
from lvg.train.checkpoint import generator_state, set_generator_state
from lvg.train.distributed import DistInfo
from lvg.train.ema import ema_beta, make_ema, update_ema
from lvg.train.loop import BatchSource, LoopConfig, rank_seed, resume_key, train, video_grid
from lvg.train.section import TrainSection

log = logging.getLogger(__name__)

SECTION = "train_superres"
MODEL_NAME = "superres.SRGenerator"
ADAM_BETA1, ADAM_BETA2 = 0.0, 0.99
OUT_FRAMES, CONTEXT = 4, 4  # output frames per clip, LR context frames each side
CLIP_FRAMES = OUT_FRAMES + 2 * CONTEXT
_DATA, _LATENT, _AUGMENT = 0, 1, 2


@dataclass(frozen=True)
class SRTrainConfig(TrainSection):
    """The ``train_superres`` config section (defaults and meanings: params.yaml and the schema)."""

    SECTION: ClassVar[str] = SECTION

    preset: str
    lr_resolution: str
    hr_resolution: str
    batch: int
    steps: int
    lr_g: float
    lr_d: float
    r1_gamma: float
    r1_interval: int
    ema_beta: float
    ema_rampup_steps: int
    ada_target: float
    ada_interval: int
    ada_adjust: float
    ada_max_p: float
    in_augment_p: float
    lr_cond_prob: float
    x_flip: bool
    bf16: bool
    seed: int
    device: str
    log_every: int
    sample_every: int
    checkpoint_every: int
    keep_checkpoints: int
    num_workers: int
    threads: int
    sample_clips: int
    generator: dict[str, Any]
    discriminator: dict[str, Any]


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


def build_networks(tc: SRTrainConfig) -> tuple[SRGenerator, SRDiscriminator]:
    """G and D initialised from ``tc.seed`` only (global RNG forked and restored): identical on every rank."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        G = SRGenerator(generator_config(tc))
        D = SRDiscriminator(discriminator_config(tc))
    return G, D


# ---------------------------------------------------------------------------------------------- algorithm
class SuperResGAN:
    """LongVideoGAN's super-resolution GAN as an :class:`lvg.train.loop.Algorithm`."""

    loss_names = ("loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake", "ada_p")

    def __init__(self, tc: SRTrainConfig, info: DistInfo | None = None,
                 sample_clips: tuple[Tensor, Tensor] | None = None) -> None:
        self.tc, self.info = tc, info or DistInfo()
        self.device = self.info.device
        per_rank, rem = divmod(tc.batch, self.info.world_size)
        if rem or per_rank == 0:
            raise LvgError(f"{SECTION}.batch = {tc.batch} must split evenly over {self.info.world_size} "
                           "process(es)")
        self.micro_batch = per_rank
        self.clips_per_step = tc.batch
        G, D = build_networks(tc)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = make_ema(self.G)
        self.networks = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        c = tc.lazy_c
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=(ADAM_BETA1, ADAM_BETA2), eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d * c, betas=(ADAM_BETA1 ** c, ADAM_BETA2 ** c),
                                      eps=1e-8)
        self.optimizers = {"G": self.opt_G, "D": self.opt_D}
        self.ada = AdaptiveP(target=tc.ada_target, interval=tc.ada_interval, adjust=tc.ada_adjust,
                             max_p=tc.ada_max_p)
        self.gen_latent = torch.Generator()
        self.gen_augment = torch.Generator()
        self.sample_clips = sample_clips  # fixed (LR [n, 3, 12, h, w], HR [n, 3, 12, H, W]) for sample videos
        self.reseed(0)

    # ---- random streams and state ---------------------------------------------------------------------
    def reseed(self, step: int) -> None:
        r = self.info.rank
        self.gen_latent.manual_seed(rank_seed(self.tc.seed, r, _LATENT + 16 * step))
        self.gen_augment.manual_seed(rank_seed(self.tc.seed, r, _AUGMENT + 16 * step))

    def rank_state(self) -> dict[str, Any]:
        return {"latent": generator_state(self.gen_latent), "augment": generator_state(self.gen_augment),
                "ada": self.ada.state()}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        set_generator_state(self.gen_latent, state["latent"])
        set_generator_state(self.gen_augment, state["augment"])
        self.ada.load_state(state["ada"])

    # ---- pieces of a step -----------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.tc.bf16)

    def _real(self, batches: BatchSource) -> tuple[Tensor, Tensor]:
        """Real LR ``[N, 3, 12, h, w]`` and the HR output frames ``[N, 3, 4, H, W]``."""
        b = batches.next()
        return b["lr_video"].float(), b["hr_video"].float()[:, :, CONTEXT:CONTEXT + OUT_FRAMES]

    def degrade(self, lr: Tensor) -> Tensor:
        return degrade(lr, self.tc.in_augment_p, self.gen_augment)

    def generate(self, lr: Tensor, update_ema: bool = False) -> Tensor:
        z = torch.randn(lr.shape[0], self.G.cfg.z_dim, generator=self.gen_latent).to(self.device)
        with self._autocast():
            hr = self.G(lr, z, update_ema=update_ema)
        return hr.float()

    def run_D(self, lr: Tensor, hr: Tensor) -> Tensor:
        """Logits ``[N]`` of D on ``ada(build_input(lr[4:8], hr))`` with LR dropout (float32)."""
        video = self.D.build_input(lr[:, :, CONTEXT:CONTEXT + OUT_FRAMES], hr)
        video = ada_augment(video, self.ada.p, self.gen_augment)
        with self._autocast():
            logits = self.D(video, generator=self.gen_augment)
        return logits.float().reshape(-1)

    # ---- the step -------------------------------------------------------------------------------------
    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        out = {"loss_G": self._step_G(batches)}
        out |= self._step_D(batches)
        if self.tc.r1_enabled and step % self.tc.r1_interval == 0:
            out["r1_penalty"] = self._step_R1(batches)
        self.ada.maybe_update(step, reduce=lambda acc: dist.all_reduce_mean(acc, self.device))
        out["ada_p"] = self.ada.p
        update_ema(self.G_ema, self.G, ema_beta(step, self.tc.ema_beta, self.tc.ema_rampup_steps))
        return out

    def _step_G(self, batches: BatchSource) -> float:
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        lr, _ = self._real(batches)
        lr = self.degrade(lr)
        loss = F.softplus(-self.run_D(lr, self.generate(lr))).mean()
        loss.backward()
        dist.all_reduce_grads(self.G.parameters())
        self.opt_G.step()
        return float(loss.detach())

    def _step_D(self, batches: BatchSource) -> dict[str, float]:
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        lr, hr = self._real(batches)
        lr_fake = self.degrade(lr)
        with torch.no_grad():
            fake = self.generate(lr_fake, update_ema=True)
        logits_fake = self.run_D(lr_fake, fake)
        logits_real = self.run_D(self.degrade(lr), hr)
        loss = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
        loss.backward()
        dist.all_reduce_grads(self.D.parameters())
        self.opt_D.step()
        self.ada.accumulate(logits_real)
        return {"loss_D": float(loss.detach()), "logits_real": float(logits_real.detach().mean()),
                "logits_fake": float(logits_fake.detach().mean())}

    def _step_R1(self, batches: BatchSource) -> float:
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        lr, hr = self._real(batches)
        lr = self.degrade(lr)
        hr = hr.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.run_D(lr, hr).sum(), hr, create_graph=True)
        penalty = grad.float().square().sum(dim=(1, 2, 3, 4)).mean()
        (penalty * (self.tc.r1_gamma / 2) * self.tc.r1_interval).backward()
        dist.all_reduce_grads(self.D.parameters())
        self.opt_D.step()
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
        return save_generator(self.G_ema, Path(run_dir) / "G_ema.safetensors",
                              {"step": step, "kimg": step * self.clips_per_step / 1000,
                               "train": dataclasses.asdict(self.tc)})


# ---------------------------------------------------------------------------------------------- export
def save_generator(G: SRGenerator, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Weights as safetensors plus ``<name>.json`` ``{"model": "superres.SRGenerator", "generator": cfg}``."""
    path = Path(path)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in G.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "lvg", "model": MODEL_NAME})
    write_json(path.with_suffix(".json"), {"model": MODEL_NAME, "generator": G.cfg.to_dict(), **(extra or {})})
    return path


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> SRGenerator:
    path = Path(path)
    meta = read_json(path.with_suffix(".json"))
    G = SRGenerator(SRGeneratorConfig.from_dict(_overrides(meta["generator"])))
    G.load_state_dict(load_file(str(path)), strict=True)
    return G.to(device).eval().requires_grad_(False)


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


def run_train_superres(cfg: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
                       resume: bool = True) -> Path:
    """Train the SR GAN on ``dataset_dir/<LR>/`` + ``<HR>/`` into ``out_dir``; return
    ``out_dir/G_ema.safetensors`` (plus ``G_ema.json``, ``config.{yaml,json}``, ``metrics.csv``, ``samples/``,
    ``checkpoints/``). ``cfg`` is the whole configuration (validated and defaulted here)."""
    config = validate_config(copy.deepcopy(cfg), source="config")
    tc = SRTrainConfig.from_dict(config[SECTION])
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    info = dist.init_distributed(tc.device)
    lr_hw, hr_hw = parse_resolution(tc.lr_resolution), parse_resolution(tc.hr_resolution)
    data_seed = rank_seed(tc.seed, info.rank, _DATA)
    dataset = PairedVideoDataset(dataset_dir, lr_hw, hr_hw, CLIP_FRAMES, x_flip=tc.x_flip, seed=data_seed)
    algo = SuperResGAN(tc, info, _sample_clips(dataset, tc.sample_clips) if info.is_main else None)
    batches = BatchSource(dataset, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    if info.is_main:
        log.info("train superres: %s preset, %s -> %s, batch %d on %d process(es) (%s); G %d, D %d params; "
                 "%d clips in %s", tc.preset, tc.lr_resolution, tc.hr_resolution, tc.batch, info.world_size,
                 info.device, count_parameters(algo.G), count_parameters(algo.D), len(dataset), dataset_dir)
    loop = LoopConfig(steps=tc.steps, log_every=tc.log_every, sample_every=tc.sample_every,
                      checkpoint_every=tc.checkpoint_every, keep_checkpoints=tc.keep_checkpoints)
    extra = {"generator": algo.G.cfg.to_dict(), "discriminator": algo.D.cfg.to_dict(),
             "world_size": info.world_size, "device": str(info.device), "dataset_dir": str(dataset_dir),
             "torch": torch.__version__}
    key = resume_key(config[SECTION], [Path(dataset_dir) / resolution_dir(*hw) / "index.json"
                                       for hw in (lr_hw, hr_hw)])
    return train(algo, batches, loop, out_dir, config, info=info, resume=resume, resolved_extra=extra,
                 resume_key=key)
