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

import contextlib
import copy
import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from lvg.augment.pipeline import VideoAugment
from lvg.config import parse_resolution, resolution_dir, validate_config
from lvg.data.reader import VideoDataset
from lvg.errors import InputError, LvgError
from lvg.io import atomic_path, read_json, write_json
from lvg.lowres.discriminator import DiscriminatorConfig, LowResDiscriminator
from lvg.lowres.generator import GeneratorConfig, VideoGenerator, count_parameters
from lvg.train import distributed as dist
from lvg.train.checkpoint import generator_state, set_generator_state
from lvg.train.distributed import DistInfo
from lvg.train.ema import ema_beta, make_ema, update_ema
from lvg.train.loop import BatchSource, LoopConfig, rank_seed, resume_key, train, video_grid
from lvg.train.section import TrainSection

log = logging.getLogger(__name__)

SECTION = "train_lowres"
ADAM_BETA1, ADAM_BETA2 = 0.0, 0.99  # spec model.md §4: beta1 = 0 for both networks
# rank_seed purposes: one independent stream each
_DATA, _LATENT, _AUGMENT = 0, 1, 2


@dataclass(frozen=True)
class LowResTrainConfig(TrainSection):
    """The ``train_lowres`` config section (defaults and meanings: params.yaml and the schema)."""

    SECTION: ClassVar[str] = SECTION

    preset: str
    resolution: str
    seq_length: int
    footprint: list[int] | None
    batch: int
    grad_accum: int
    steps: int
    lr_g: float
    lr_d: float
    r1_gamma: float
    r1_interval: int
    ema_beta: float
    ema_rampup_steps: int
    x_flip: bool
    augment: bool
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
    sample_frames: int
    generator: dict[str, Any]
    discriminator: dict[str, Any]


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


def build_networks(tc: LowResTrainConfig) -> tuple[VideoGenerator, LowResDiscriminator]:
    """G and D initialised from ``tc.seed`` only (global RNG forked and restored): identical on every rank."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        G = VideoGenerator(generator_config(tc))
        D = LowResDiscriminator(discriminator_config(tc))
    return G, D


# ---------------------------------------------------------------------------------------------- algorithm
class LowResGAN:
    """LongVideoGAN's low-resolution GAN as an :class:`lvg.train.loop.Algorithm`."""

    loss_names = ("loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake")

    def __init__(self, tc: LowResTrainConfig, info: DistInfo | None = None) -> None:
        self.tc, self.info = tc, info or DistInfo()
        self.device = self.info.device
        self.micro_batch = _micro_batch(tc, self.info.world_size)
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
        self.augment = VideoAugment() if tc.augment else None
        self.gen_latent = torch.Generator()
        self.gen_augment = torch.Generator()
        self.reseed(0)

    # ---- random streams -------------------------------------------------------------------------------
    def reseed(self, step: int) -> None:
        """Seed this rank's streams from ``(seed, rank)`` (and ``step`` when resuming on a new world size)."""
        r = self.info.rank
        self.gen_latent.manual_seed(rank_seed(self.tc.seed, r, _LATENT + 16 * step))
        self.gen_augment.manual_seed(rank_seed(self.tc.seed, r, _AUGMENT + 16 * step))

    def rank_state(self) -> dict[str, Any]:
        return {"latent": generator_state(self.gen_latent), "augment": generator_state(self.gen_augment)}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        set_generator_state(self.gen_latent, state["latent"])
        set_generator_state(self.gen_augment, state["augment"])

    # ---- pieces of a step -----------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.tc.bf16)

    def generate(self, n: int, update_ema: bool = False) -> Tensor:
        """``n`` fake clips from fresh noise, each phase-cropped at a random ``t0`` in [0, 32); float32."""
        T = self.tc.seq_length
        t0 = self.G.sample_phase(n, self.gen_latent)
        length = self.G.plan(t0, T).noise_length
        noise = torch.randn(n, self.G.cfg.noise_channels, length, generator=self.gen_latent)
        with self._autocast():
            video = self.G(noise=noise.to(self.device), t0=t0, num_frames=T, update_ema=update_ema)
        return video.float()

    def run_D(self, video: Tensor) -> Tensor:
        """Logits ``[N]`` (float32) of D on the augmented video (augmentation in float32, differentiable)."""
        if self.augment is not None:
            video = self.augment(video, generator=self.gen_augment)
        with self._autocast():
            logits = self.D(video)
        return logits.float().reshape(-1)

    def _real(self, batches: BatchSource) -> Tensor:
        return batches.next()["video"].float()

    # ---- the step -------------------------------------------------------------------------------------
    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        out = {"loss_G": self._step_G()}
        out |= self._step_D(batches)
        if self.tc.r1_enabled and step % self.tc.r1_interval == 0:
            out["r1_penalty"] = self._step_R1(batches)
        update_ema(self.G_ema, self.G, ema_beta(step, self.tc.ema_beta, self.tc.ema_rampup_steps))
        return out

    def _step_G(self) -> float:
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for _ in range(self.tc.grad_accum):
            loss = F.softplus(-self.run_D(self.generate(self.micro_batch))).mean()
            (loss / self.tc.grad_accum).backward()
            total += loss.detach() / self.tc.grad_accum
        dist.all_reduce_grads(self.G.parameters())
        self.opt_G.step()
        return float(total)

    def _step_D(self, batches: BatchSource) -> dict[str, float]:
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        acc = torch.zeros(3, device=self.device)
        for _ in range(self.tc.grad_accum):
            with torch.no_grad():
                fake = self.generate(self.micro_batch, update_ema=True)
            logits_fake = self.run_D(fake)
            logits_real = self.run_D(self._real(batches))
            loss = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
            (loss / self.tc.grad_accum).backward()
            acc += torch.stack([loss.detach(), logits_real.detach().mean(), logits_fake.detach().mean()])
        dist.all_reduce_grads(self.D.parameters())
        self.opt_D.step()
        loss_D, real, fake = (acc / self.tc.grad_accum).tolist()
        return {"loss_D": loss_D, "logits_real": real, "logits_fake": fake}

    def _step_R1(self, batches: BatchSource) -> float:
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for _ in range(self.tc.grad_accum):
            real = self._real(batches).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.run_D(real).sum(), real, create_graph=True)
            penalty = grad.float().square().sum(dim=(1, 2, 3, 4)).mean()
            loss = penalty * (self.tc.r1_gamma / 2) * self.tc.r1_interval
            (loss / self.tc.grad_accum).backward()
            total += penalty.detach() / self.tc.grad_accum
        dist.all_reduce_grads(self.D.parameters())
        self.opt_D.step()
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
        return save_generator(self.G_ema, Path(run_dir) / "G_ema.safetensors",
                              {"step": step, "kimg": step * self.clips_per_step / 1000,
                               "train": dataclasses.asdict(self.tc)})


def _micro_batch(tc: LowResTrainConfig, world: int) -> int:
    per_rank, rem = divmod(tc.batch, world)
    if rem or per_rank % tc.grad_accum or per_rank == 0:
        raise LvgError(f"{SECTION}.batch = {tc.batch} must split evenly over {world} process(es) and "
                       f"grad_accum = {tc.grad_accum} micro-batches")
    return per_rank // tc.grad_accum


# ---------------------------------------------------------------------------------------------- export
def save_generator(G: VideoGenerator, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Weights as safetensors plus ``<name>.json`` with the GeneratorConfig: all :func:`load_generator` needs."""
    path = Path(path)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in G.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "lvg", "model": "lowres.VideoGenerator"})
    write_json(path.with_suffix(".json"), {"model": "lowres.VideoGenerator", "generator": G.cfg.to_dict(),
                                           **(extra or {})})
    return path


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> VideoGenerator:
    """The generator saved by :func:`save_generator` (no pickles: JSON config + safetensors weights)."""
    path = Path(path)
    meta = read_json(path.with_suffix(".json"))
    G = VideoGenerator(GeneratorConfig.from_dict(meta["generator"]))
    G.load_state_dict(load_file(str(path)), strict=True)
    return G.to(device).eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------- entry point
def ablation_override(variant: str) -> dict[str, Any]:
    """The ``train_lowres`` keys a Table 2 variant changes: ``seq<L>`` (training sequence length, Table 2(a))
    or ``fp<min>-<max>`` (temporal filter footprint in frames, Table 2(b))."""
    if m := re.fullmatch(r"seq(\d+)", variant):
        return {"seq_length": int(m[1])}
    if m := re.fullmatch(r"fp(\d+)-(\d+)", variant):
        return {"footprint": [int(m[1]), int(m[2])]}
    raise LvgError(f"unknown ablation variant {variant!r} (expected seq<L> or fp<min>-<max>)")


def run_train_lowres(cfg: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
                     resume: bool = True) -> Path:
    """Train the LR GAN on ``dataset_dir/<HHHHxWWWW>/`` into ``out_dir``; return ``out_dir/G_ema.safetensors``.

    ``cfg`` is the whole configuration (params.yaml as loaded; validated and defaulted here). Under
    ``torchrun`` every process calls this; rank 0 alone writes. ``out_dir`` receives ``config.yaml``,
    ``config.json``, ``metrics.csv``, ``samples/``, ``checkpoints/`` and the final ``G_ema.{safetensors,json}``.
    """
    config = validate_config(copy.deepcopy(cfg), source="config")
    tc = LowResTrainConfig.from_dict(config[SECTION])
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    info = dist.init_distributed(tc.device)
    h, w = parse_resolution(tc.resolution)
    data_seed = rank_seed(tc.seed, info.rank, _DATA)
    dataset = VideoDataset(dataset_dir, h, w, tc.seq_length, x_flip=tc.x_flip, seed=data_seed)
    algo = LowResGAN(tc, info)
    batches = BatchSource(dataset, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    if info.is_main:
        log.info("train lowres: %s preset, %s, %d frames, batch %d on %d process(es) (%s); G %d, D %d params; "
                 "%d clips in %s", tc.preset, tc.resolution, tc.seq_length, tc.batch, info.world_size,
                 info.device, count_parameters(algo.G), count_parameters(algo.D), len(dataset), dataset_dir)
    loop = LoopConfig(steps=tc.steps, log_every=tc.log_every, sample_every=tc.sample_every,
                      checkpoint_every=tc.checkpoint_every, keep_checkpoints=tc.keep_checkpoints)
    extra = {"generator": algo.G.cfg.to_dict(), "discriminator": _jsonable(dataclasses.asdict(algo.D.config)),
             "world_size": info.world_size, "device": str(info.device), "dataset_dir": str(dataset_dir),
             "torch": torch.__version__}
    key = resume_key(config[SECTION], [Path(dataset_dir) / resolution_dir(h, w) / "index.json"])
    return train(algo, batches, loop, out_dir, config, info=info, resume=resume, resolved_extra=extra,
                 resume_key=key)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
