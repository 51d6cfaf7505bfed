"""Training, export and generation of the baselines through the shared loop (:mod:`lvg.train.loop`).

``run_train_baseline(method, cfg, dataset_dir, out_dir)`` trains ``cfg["baselines"][method]`` on
``dataset_dir/<HHHHxWWWW>/`` and writes ``out_dir/G_ema.safetensors`` + ``G_ema.json``
(``{"model": "baselines.<method>", "generator": {...}}``); :func:`load_baseline` reads it back without the
training code, :func:`generate_frames` renders frames ``t0 .. t0 + num_frames - 1`` of video ``seed`` by the
method's own long-video mechanism (StyleGAN-V: query each ``t``).

``styleganv`` and ``digan`` are defined here; ``mocoganhd`` and ``tats`` in their own modules (see
:func:`_registered`).

StyleGAN-V training (spec evaluation.md §5.1): every real and fake video is ``K = 3`` frames at sorted times
``t0 < t1 < t2`` with gaps in ``[1, max_gap]``; DiffAugment draws once per video (same transform on its 3
frames); non-saturating loss, lazy R1 on reals, G_ema with warm-up.

DIGAN training (§5.2): the same loop with frame pairs: fake ``t1 < t2`` on the ``[0, 1]`` clip grid
(``train_frames`` frames), gaps in ``[1, min(max_gap, train_frames - 1)]`` frames; D = image D on both
frames + motion D on the pair and its gap (all logits enter the loss, R1 on their sum).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.utils.data import Dataset

from lvg.augment.diffaugment import diff_augment
from lvg.baselines import METHODS
from lvg.baselines.digan import DIGANConfig, DIGANDiscriminator, DIGANGenerator
from lvg.baselines.styleganv import (
    StyleGANVConfig,
    StyleGANVDiscriminator,
    StyleGANVDiscriminatorConfig,
    StyleGANVGenerator,
)
from lvg.config import parse_resolution, resolution_dir, validate_config
from lvg.data.reader import VideoDataset
from lvg.errors import InputError, LvgError
from lvg.io import atomic_path, read_json, write_json
from lvg.train import distributed as dist
from lvg.train.checkpoint import generator_state, set_generator_state
from lvg.train.distributed import DistInfo
from lvg.train.ema import ema_beta, make_ema, update_ema
from lvg.train.loop import BatchSource, LoopConfig, rank_seed, resume_key, train, video_grid
from lvg.train.section import TrainSection

log = logging.getLogger(__name__)

SECTION = "baselines"
ADAM_BETAS = (0.0, 0.99)
_DATA, _LATENT, _AUGMENT = 0, 1, 2
SAMPLE_CLIPS, SAMPLE_FRAMES = 4, 32


@dataclass(frozen=True)
class BaselineTrainConfig(TrainSection):
    """One ``baselines.<method>`` section (defaults and meanings: params.yaml and the schema)."""

    SECTION: ClassVar[str] = SECTION

    enabled: bool
    resolution: str
    preset: str
    batch: int
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
    max_gap: int
    samples_from: str | None
    stage_split: float
    generator: dict[str, Any]
    discriminator: dict[str, Any]

    @classmethod
    def from_dict(cls, section: dict[str, Any], method: str = "") -> BaselineTrainConfig:
        return super().from_dict(section, f"{SECTION}.{method}")


# ---------------------------------------------------------------------------------------------- data
class FrameTupleDataset(Dataset):
    """``K`` sorted frames of one clip with gaps in ``[1, max_gap]`` (capped so they fit the clip).

    Wraps :class:`VideoDataset` (its clip list, key -> (clip, generator) rule and flip): item ``key`` is a
    pure function of ``(seed, epoch, key)`` like the base dataset's, so :class:`BatchSource` resumes exactly.
    Items: ``{"video": [3, K, H, W] in [-1, 1], "times": [K] int64 (first = 0), "clip_index", "start", "flip"}``:
    frame ``j`` is clip frame ``start + times[j]``.
    Only the ``K`` frames are decoded.
    """

    def __init__(self, base: VideoDataset, num_frames: int = 3, max_gap: int = 32) -> None:
        self.base, self.num_frames, self.max_gap = base, num_frames, max_gap

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __getitem__(self, key: int) -> dict[str, Any]:
        clip_index, gen = self.base._key(key)
        n = self.base.num_frames(clip_index)
        k = self.num_frames
        cap = max(1, min(self.max_gap, (n - 1) // (k - 1)))
        gaps = torch.randint(1, cap + 1, (k - 1,), generator=gen)
        span = int(gaps.sum())
        start = int(torch.randint(n - span, (), generator=gen))
        flip = bool(self.base.x_flip and float(torch.rand((), generator=gen)) < 0.5)
        times = torch.cat([torch.zeros(1, dtype=torch.long), gaps.cumsum(0)])
        frames = np.empty((k, self.base.height, self.base.width, 3), dtype=np.uint8)
        self.base.shards.read_frames(self.base._clips[clip_index], (start + times).tolist(), out=frames)
        if flip:
            frames = np.ascontiguousarray(frames[:, :, ::-1])
        video = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1
        return {"video": video, "times": times, "clip_index": clip_index, "start": start, "flip": flip}


def sample_times(n: int, num_frames: int, max_gap: int, max_start: int, generator: torch.Generator) -> Tensor:
    """``[n, K]`` sorted fake-frame times: start uniform in ``[0, max_start)``, gaps uniform in ``[1, max_gap]``."""
    start = torch.randint(max_start, (n, 1), generator=generator)
    gaps = torch.randint(1, max_gap + 1, (n, num_frames - 1), generator=generator)
    return torch.cat([start, start + gaps.cumsum(1)], dim=1)


# ---------------------------------------------------------------------------------------------- networks
def styleganv_configs(tc: BaselineTrainConfig) -> tuple[StyleGANVConfig, StyleGANVDiscriminatorConfig]:
    h, w = parse_resolution(tc.resolution)
    try:
        g = StyleGANVConfig.preset(tc.preset, height=h, width=w, **tc.generator)
        d = StyleGANVDiscriminatorConfig.preset(tc.preset, height=h, width=w, max_gap=tc.max_gap,
                                                **tc.discriminator)
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.styleganv: {e}") from None
    return g, d


def build_styleganv(tc: BaselineTrainConfig) -> tuple[StyleGANVGenerator, StyleGANVDiscriminator]:
    """G and D initialised from ``tc.seed`` only (global RNG forked and restored)."""
    gc, dc = styleganv_configs(tc)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        return StyleGANVGenerator(gc), StyleGANVDiscriminator(dc)


# ---------------------------------------------------------------------------------------------- algorithm
class BaselineAlgorithm:
    """What every baseline's :class:`lvg.train.loop.Algorithm` shares: the per-rank batch split, the seeded
    RNG streams that make resume exact, and bf16 autocast.

    ``STREAMS`` maps a stream name to ``(offset, per_rank)``: ``self.gen_<name>`` is reseeded at every step
    from ``(seed, rank or 0, offset + 16 * step)`` and saved in the rank state under ``<name>``.
    """

    method: ClassVar[str]
    STREAMS: ClassVar[dict[str, tuple[int, bool]]] = {"latent": (_LATENT, True), "augment": (_AUGMENT, True)}

    def __init__(self, tc: BaselineTrainConfig, info: DistInfo | None = None) -> None:
        self.tc, self.info = tc, info or DistInfo()
        self.device = self.info.device
        per_rank, rem = divmod(tc.batch, self.info.world_size)
        if rem or per_rank == 0:
            raise LvgError(f"{SECTION}.{self.method}.batch = {tc.batch} must split evenly over "
                           f"{self.info.world_size} process(es)")
        self.micro_batch, self.clips_per_step = per_rank, tc.batch
        for name in self.STREAMS:
            setattr(self, f"gen_{name}", torch.Generator())

    def reseed(self, step: int) -> None:
        for name, (offset, per_rank) in self.STREAMS.items():
            rank = self.info.rank if per_rank else 0
            getattr(self, f"gen_{name}").manual_seed(rank_seed(self.tc.seed, rank, offset + 16 * step))

    def rank_state(self) -> dict[str, Any]:
        return {name: generator_state(getattr(self, f"gen_{name}")) for name in self.STREAMS}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        for name in self.STREAMS:
            set_generator_state(getattr(self, f"gen_{name}"), state[name])

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.tc.bf16)


class StyleGANVGAN(BaselineAlgorithm):
    """StyleGAN-V-lite as an :class:`lvg.train.loop.Algorithm`."""

    loss_names = ("loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake")
    num_frames = 3

    def __init__(self, tc: BaselineTrainConfig, info: DistInfo | None = None) -> None:
        super().__init__(tc, info)
        G, D = self.build(tc)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = make_ema(self.G)
        self.networks: dict[str, nn.Module] = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        c = tc.lazy_c
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=ADAM_BETAS, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d * c,
                                      betas=(ADAM_BETAS[0] ** c, ADAM_BETAS[1] ** c), eps=1e-8)
        self.optimizers = {"G": self.opt_G, "D": self.opt_D}
        self.reseed(0)

    method = "styleganv"

    @property
    def data_max_gap(self) -> int:
        """Largest gap between the real frames of one training item."""
        return self.tc.max_gap

    @staticmethod
    def build(tc: BaselineTrainConfig) -> tuple[nn.Module, nn.Module]:
        return build_styleganv(tc)

    def generate(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` fake videos of 3 frames (float32) and their times ``[n, 3]``."""
        cfg, g = self.G.cfg, self.gen_latent
        max_start = 4 * cfg.motion_z_distance  # fake videos start anywhere in their first few codes
        times = sample_times(n, self.num_frames, self.tc.max_gap, max_start, g)
        _, stop = self.G.codes_needed(0, max_start - 1 + (self.num_frames - 1) * self.tc.max_gap,
                                      cfg.motion_z_distance)
        z = torch.randn(n, cfg.z_dim, generator=g)
        motion = torch.randn(n, cfg.motion_dim, stop, generator=g)
        phase = torch.randn(n, cfg.time_dim // 2, generator=g) * cfg.phase_std
        dev = self.device
        with self._autocast():
            video = self.G(z.to(dev), motion.to(dev), phase.to(dev), times.to(dev))
        return video.float(), times.to(dev)

    def run_D(self, video: Tensor, times: Tensor) -> Tensor:
        if self.tc.augment:
            video = diff_augment(video, generator=self.gen_augment)
        with self._autocast():
            return self.D(video, times).float().reshape(-1)

    def _real(self, batches: BatchSource) -> tuple[Tensor, Tensor]:
        b = batches.next()
        return b["video"].float(), b["times"]

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
        loss = F.softplus(-self.run_D(*self.generate(self.micro_batch))).mean()
        loss.backward()
        dist.all_reduce_grads(self.G.parameters())
        self.opt_G.step()
        return float(loss.detach())

    def _step_D(self, batches: BatchSource) -> dict[str, float]:
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake, fake_t = self.generate(self.micro_batch)
        logits_fake = self.run_D(fake, fake_t)
        logits_real = self.run_D(*self._real(batches))
        loss = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
        loss.backward()
        dist.all_reduce_grads(self.D.parameters())
        self.opt_D.step()
        return {"loss_D": float(loss.detach()), "logits_real": float(logits_real.detach().mean()),
                "logits_fake": float(logits_fake.detach().mean())}

    def _step_R1(self, batches: BatchSource) -> float:
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        video, times = self._real(batches)
        real = video.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.run_D(real, times).sum(), real, create_graph=True)
        penalty = grad.float().square().sum(dim=(1, 2, 3, 4)).mean()
        (penalty * (self.tc.r1_gamma / 2) * self.tc.r1_interval).backward()
        dist.all_reduce_grads(self.D.parameters())
        self.opt_D.step()
        return float(penalty.detach())

    @torch.no_grad()
    def sample_video(self) -> np.ndarray | None:
        videos = torch.stack([generate_frames(self.G_ema, s, 0, SAMPLE_FRAMES) for s in range(SAMPLE_CLIPS)])
        return video_grid(videos)

    def export(self, run_dir: Path, step: int) -> Path:
        return save_baseline(self.G_ema, self.method, Path(run_dir) / "G_ema.safetensors",
                             {"step": step, "kimg": step * self.clips_per_step / 1000,
                              "train": dataclasses.asdict(self.tc)})


def build_digan(tc: BaselineTrainConfig) -> tuple[DIGANGenerator, DIGANDiscriminator]:
    """DIGAN-lite G and D initialised from ``tc.seed`` only."""
    h, w = parse_resolution(tc.resolution)
    try:
        gc = DIGANConfig.preset(tc.preset, height=h, width=w, **tc.generator)
        dc = StyleGANVDiscriminatorConfig.preset(tc.preset, height=h, width=w, max_gap=tc.max_gap,
                                                 **tc.discriminator)
    except (TypeError, ValueError) as e:
        raise InputError("config", f"{SECTION}.digan: {e}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        return DIGANGenerator(gc), DIGANDiscriminator(dc)


class DIGANGAN(StyleGANVGAN):
    """DIGAN-lite as an :class:`lvg.train.loop.Algorithm` (the StyleGAN-V-lite step with frame pairs)."""

    num_frames = 2
    method = "digan"

    @property
    def data_max_gap(self) -> int:
        return max(1, min(self.tc.max_gap, self.G.cfg.train_frames - 1))

    @staticmethod
    def build(tc: BaselineTrainConfig) -> tuple[nn.Module, nn.Module]:
        return build_digan(tc)

    def generate(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` fake frame pairs at ``t1 < t2`` on the ``[0, 1]`` grid, and their frame indices ``[n, 2]``."""
        cfg, g = self.G.cfg, self.gen_latent
        span = self.data_max_gap
        gap = torch.randint(1, span + 1, (n,), generator=g)
        k1 = (torch.rand(n, generator=g) * (cfg.train_frames - gap)).long()
        frames = torch.stack([k1, k1 + gap], dim=1)
        zc = torch.randn(n, cfg.z_dim, generator=g)
        zm = torch.randn(n, cfg.motion_dim, generator=g)
        dev = self.device
        t = (frames.double() / (cfg.train_frames - 1)).float()
        with self._autocast():
            video = self.G.render(zc.to(dev), zm.to(dev), t.to(dev))
        return video.float(), frames.to(dev)


_ALGORITHMS: dict[str, type] = {"styleganv": StyleGANVGAN, "digan": DIGANGAN}
_GENERATORS: dict[str, tuple[type, type]] = {"styleganv": (StyleGANVGenerator, StyleGANVConfig),
                                             "digan": (DIGANGenerator, DIGANConfig)}


def _registered(method: str) -> tuple[type, type, type]:
    """(algorithm class, generator class, generator config class) of ``method``.

    StyleGAN-V and DIGAN live here; the others in ``lvg.baselines.<method>``, which defines ``ALGORITHM``,
    ``GENERATOR`` and ``CONFIG`` (imported lazily: those modules import this one).
    """
    if method not in _ALGORITHMS:
        module = importlib.import_module(f"lvg.baselines.{method}")
        _ALGORITHMS[method] = module.ALGORITHM
        _GENERATORS[method] = (module.GENERATOR, module.CONFIG)
    return _ALGORITHMS[method], *_GENERATORS[method]


# ---------------------------------------------------------------------------------------------- export / load


def save_baseline(G: nn.Module, method: str, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Weights (safetensors) + ``<name>.json`` ``{"model": "baselines.<method>", "generator": config}``."""
    path = Path(path)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in G.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "lvg", "model": f"baselines.{method}"})
    write_json(path.with_suffix(".json"), {"model": f"baselines.{method}", "generator": G.cfg.to_dict(),
                                           **(extra or {})})
    return path


def load_baseline(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The generator written by :func:`save_baseline` (eval mode, no grads); its method in ``.method``."""
    path = Path(path)
    meta = read_json(path.with_suffix(".json"))
    method = str(meta.get("model", "")).removeprefix("baselines.")
    if method not in METHODS:
        raise InputError(path, f"not a baseline generator (model = {meta.get('model')!r})")
    _, cls, cfg_cls = _registered(method)
    G = cls(cfg_cls.from_dict(meta["generator"]))
    G.load_state_dict(load_file(str(path)), strict=True)
    G.method = method
    return G.to(device).eval().requires_grad_(False)


@torch.no_grad()
def generate_frames(G: nn.Module, seed: int, t0: int, num_frames: int) -> Tensor:
    """Frames ``t0 .. t0 + num_frames - 1`` of video ``seed``, ``[3, T, H, W]`` in [-1, 1], any length.

    StyleGAN-V: every frame index is queried directly (content fixed, motion codes drawn per index).
    DIGAN: frame ``k`` is ``t = k / (train_frames - 1)``, continuing past 1 at the training spacing.
    Other methods: their generator's own ``frames(seed, t0, num_frames)`` (e.g. unroll a recurrence).
    """
    if hasattr(G, "frames"):
        return G.frames(seed, t0, num_frames).clamp(-1, 1)
    if isinstance(G, StyleGANVGenerator):
        return G.render(seed, list(range(t0, t0 + num_frames))).clamp(-1, 1)
    if isinstance(G, DIGANGenerator):
        return G.render_frames(seed, list(range(t0, t0 + num_frames))).clamp(-1, 1)
    raise LvgError(f"no frame generator for {type(G).__name__}")


# ---------------------------------------------------------------------------------------------- entry point
def run_train_baseline(method: str, cfg: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
                       resume: bool = True) -> Path:
    """Train baseline ``method`` on ``dataset_dir/<HHHHxWWWW>/`` into ``out_dir``; return the exported
    ``out_dir/G_ema.safetensors``. ``cfg`` is the whole configuration (validated and defaulted here)."""
    if method not in METHODS:
        raise LvgError(f"unknown baseline {method!r}; known: {', '.join(METHODS)}")
    config = validate_config(copy.deepcopy(cfg), source="config")
    section = config[SECTION][method]
    tc = BaselineTrainConfig.from_dict(section, method)
    if tc.samples_from is not None:
        raise LvgError(f"{SECTION}.{method}.samples_from is set ({tc.samples_from}): nothing to train")
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    info = dist.init_distributed(tc.device)
    h, w = parse_resolution(tc.resolution)
    data_seed = rank_seed(tc.seed, info.rank, _DATA)
    algo = _registered(method)[0](tc, info)
    base = VideoDataset(dataset_dir, h, w, 1, x_flip=tc.x_flip, min_length=max(3, algo.num_frames), seed=data_seed)
    dataset = FrameTupleDataset(base, algo.num_frames, algo.data_max_gap)
    batches = BatchSource(dataset, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    loop = LoopConfig(steps=tc.steps, log_every=tc.log_every, sample_every=tc.sample_every,
                      checkpoint_every=tc.checkpoint_every, keep_checkpoints=tc.keep_checkpoints)
    extra = {"method": method, "generator": algo.G.cfg.to_dict(),
             "discriminator": dataclasses.asdict(algo.D.cfg), "world_size": info.world_size,
             "device": str(info.device), "dataset_dir": str(dataset_dir), "torch": torch.__version__}
    key = resume_key(section, [Path(dataset_dir) / resolution_dir(h, w) / "index.json"])
    if info.is_main:
        log.info("train baseline %s: %s, batch %d, %d clips in %s", method, tc.resolution, tc.batch, len(dataset),
                 dataset_dir)
    return train(algo, batches, loop, out_dir, config, info=info, resume=resume, resolved_extra=extra,
                 resume_key=key)
