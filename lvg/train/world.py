"""Training the `world` detector (:mod:`lvg.metrics.world`) on a synthetic dataset's ground truth, through
the shared loop (checkpoints, exact resume, metrics.csv, NaN guard).

Data: windows of ``seq_length`` frames of the real clips at the LR size (:class:`WorldWindows`), with their
per-frame world state (:class:`lvg.data.world.WorldLabels`) grouped by 4 frames (the network's output rate):
the middle frame's biome and objects-in-view, the direction, the mean of each regression target. A mirrored
window has the other direction, and so has a time-reversed one (``time_reverse``): together they make the
direction a matter of motion, not of how a clip looks. Clips are split by a hash of their id: ``holdout`` of them are never trained
on and give the held-out accuracy per head that the detector's record carries (with the chance level of each
head: the most frequent class, 0.5 balanced accuracy for an object in view, the R² of the training mean for a
regression). The rendered corpus (:mod:`lvg.data.world_corpus`) is split the same way: its held-out renders
(``heldout_renders`` in the record) measure each head on ~50 more shots than the dataset's ~8. When training
ends, the regression and objects-in-view heads are refitted in closed form on 512 training windows
(:func:`fit_heads`): linear heads on small, hand-made statistics are far from their optimum after a few
hundred steps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lvg.config import Section, parse_resolution, resolution_dir, section_class, validate_section
from lvg.data.reader import VideoDataset, derived_generator
from lvg.data.world import REGRESSION, WorldLabels, describe_targets, heldout_clips
from lvg.data.world_corpus import WORLD_CSV
from lvg.errors import LvgError
from lvg.metrics.world import (
    STRIDE,
    WorldNet,
    WorldNetConfig,
    fit_colour_standardisation,
    head_losses,
    save_world_detector,
)
from lvg.train import distributed as dist
from lvg.train.gan import DATA, rank_seed, seeded
from lvg.train.loop import BatchSource, LoopConfig, resume_key, train

log = logging.getLogger(__name__)

SECTION = "world_detector"
FIT_WINDOWS = 128  # training windows that fix the colour statistics' standardisation
HEAD_WINDOWS = 512  # training windows the regression head is refitted on (256: hours from midday R² 0.15 on the
#                    held-out renders instead of 0.21; benchmarks/world_detector_heads.py)
OBJECTS = [k for k in describe_targets()["objects"]]


class WorldTrainConfig(section_class(SECTION, "WorldTrainConfig", Section)):
    """The ``world_detector`` section (keys, defaults and meanings: the schema and params.yaml)."""

    SECTION: ClassVar[str] = SECTION

    def loop_config(self) -> LoopConfig:
        return LoopConfig(steps=self.steps, log_every=self.log_every, sample_every=0,
                          checkpoint_every=self.checkpoint_every, keep_checkpoints=self.keep_checkpoints)


# ---------------------------------------------------------------------------------------------- data
def group_labels(window: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """Per-frame labels of a window (length a multiple of 4) -> per-position targets."""
    n = len(window["biome"]) // STRIDE
    mid = np.arange(n) * STRIDE + STRIDE // 2
    reg = np.stack([window[k][:n * STRIDE].reshape(n, STRIDE).mean(1) for k in REGRESSION])
    in_view = np.stack([window[f"in_view_{c}"][mid] for c in OBJECTS])
    return {"biome": torch.from_numpy(window["biome"][mid]), "direction": torch.from_numpy(window["direction"][mid]),
            "in_view": torch.from_numpy(in_view), "regression": torch.from_numpy(reg.astype(np.float32))}


class WorldWindows(Dataset):
    """Labelled windows of the clips in one split: ``{"video": [3, T, H, W], "labels": {...}}``.
    ``heldout``: the held-out ``fraction`` of the clips (True), the rest (False), or every clip (None: the
    rendered corpus, :mod:`lvg.data.world_corpus`).

    Like :class:`VideoDataset` (whose clips it reads), item ``key`` is a pure function of ``(seed, epoch,
    key)``, so :class:`lvg.train.loop.BatchSource` resumes exactly.
    """

    def __init__(self, base: VideoDataset, labels: WorldLabels, heldout: bool | None, fraction: float = 0.0,
                 time_reverse: bool = False) -> None:
        self.base, self.labels, self.time_reverse = base, labels, time_reverse
        ids = base.clip_ids
        held = set() if heldout is None else heldout_clips([c for c in ids if c in labels.labels], fraction)
        self.clips = [i for i, c in enumerate(ids)
                      if c in labels.labels and (heldout is None or (c in held) == heldout)]
        if not self.clips:
            raise LvgError(f"no {'held-out' if heldout else 'training'} clip with world labels in "
                           f"{base.shards.res_dir} (holdout fraction {fraction})")

    def __len__(self) -> int:
        return len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def item(self, clip: int, start: int, flip: bool, reverse: bool = False) -> dict[str, Any]:
        T = self.base.seq_length
        window = self.labels.window(self.base.clip_ids[clip], start, T)
        if reverse:
            window = {k: v[::-1].copy() for k, v in window.items()}
        labels = group_labels(window)
        if flip != reverse:
            labels["direction"] = 1 - labels["direction"]
        video = self.base.read_window(clip, start, flip=flip)
        return {"video": video.flip(1) if reverse else video, "labels": labels}

    def __getitem__(self, key: int) -> dict[str, Any]:
        return self.sample(int(key) % len(self.clips), int(key))

    def sample(self, position: int, key: int) -> dict[str, Any]:
        """A random window of clip ``self.clips[position]``, drawn from the stream of ``key``."""
        clip = self.clips[position]
        gen = derived_generator(self.base.seed, self.base.epoch, key)
        start, flip = self.base.sample_window(clip, gen)
        reverse = self.time_reverse and float(torch.rand((), generator=gen)) < 0.5
        return self.item(clip, start, flip, reverse)


class ConcatWindows(Dataset):
    """Several :class:`WorldWindows` as one, uniform over all their clips (item ``key`` takes clip
    ``key % total`` of the concatenation, and its window from ``key``'s stream: still a pure function)."""

    def __init__(self, parts: list[WorldWindows]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            p.set_epoch(epoch)

    def __getitem__(self, key: int) -> dict[str, Any]:
        r = int(key) % len(self)
        d = int(np.searchsorted(self.offsets, r, side="right")) - 1
        return self.parts[d].sample(r - int(self.offsets[d]), int(key))


def _labels_to(labels: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device) for k, v in labels.items()}


NEGATIVE_KINDS = ("flat", "scrambled", "recoloured")
NEGATIVE_SALT = 0x6E6567  # the negatives' random stream: (seed, salt, step)


def make_negatives(videos: Tensor, gen: torch.Generator) -> Tensor:
    """Windows that are not the world, made from real ones ``[N, 3, T, H, W]`` in [-1, 1], the kinds of
    :data:`NEGATIVE_KINDS` in turn. The "real" head learns to tell them from real windows.

    Why: trained on real windows only, the detector's features place whatever is off the world's manifold
    anywhere, often near the real mean: a flat grey video (the untrained control) scored FVD16 176 against
    290 for TATS-lite's sky-over-ground frames. These kinds are what a weak generator draws and what the
    world never shows; they are not the sanity ranking's degradations (time-shuffled, frozen, blurred, colour
    noise / blobs), so that check stays independent:

    * ``flat``: a smooth colour field (the window's mean colour per frame, a random tint, a random 2x2-cell
      gradient), with faint noise;
    * ``scrambled``: the window's 4x4 grid of blocks shuffled, the same permutation in every frame (the
      world's colours and motion, none of its layout);
    * ``recoloured``: the window with its colour channels permuted (never the identity) and some negated
      (its layout and motion, in colours it never has).
    """
    out = []
    for i, v in enumerate(videos):
        kind = NEGATIVE_KINDS[i % len(NEGATIVE_KINDS)]
        c, t, h, w = v.shape
        if kind == "flat":
            mean = v.mean(dim=(2, 3), keepdim=True)
            tint = (torch.rand(3, 1, 1, 1, generator=gen) * 2 - 1) * 0.3
            field = torch.rand(1, 3, 2, 2, generator=gen) * 2 - 1
            field = torch.nn.functional.interpolate(field, size=(h, w), mode="bilinear", align_corners=True)
            x = mean + tint + 0.25 * field[0, :, None] + 0.02 * torch.randn(v.shape, generator=gen)
        elif kind == "scrambled":
            bh, bw = h // 4, w // 4
            blocks = v[:, :, :4 * bh, :4 * bw].reshape(c, t, 4, bh, 4, bw).permute(2, 4, 0, 1, 3, 5).reshape(16, c, t, bh, bw)
            perm = torch.randperm(16, generator=gen)
            if bool((perm == torch.arange(16)).all()):
                perm = perm.roll(1)
            x = blocks[perm].reshape(4, 4, c, t, bh, bw).permute(2, 3, 0, 4, 1, 5).reshape(c, t, 4 * bh, 4 * bw)
            x = torch.nn.functional.pad(x, (0, w - 4 * bw, 0, h - 4 * bh))
        else:
            perm = torch.tensor([[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])[
                int(torch.randint(5, (), generator=gen))]
            sign = torch.where(torch.rand(3, generator=gen) < 0.5, -1.0, 1.0)
            x = v[perm] * sign[:, None, None, None]
        out.append(x.clamp(-1, 1))
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------- algorithm
class WorldDetectorTraining:
    """Supervised training of :class:`WorldNet` as an :class:`lvg.train.loop.Algorithm` (AdamW, all heads'
    losses summed), exporting the detector with its held-out accuracy."""

    loss_names = ("loss", "loss_biome", "loss_direction", "loss_in_view", "loss_regression", "loss_real")

    def __init__(self, tc: WorldTrainConfig, net_cfg: WorldNetConfig, heldout: dict[str, WorldWindows],
                 meta: dict[str, Any],
                 info: dist.DistInfo | None = None, train_means: np.ndarray | None = None,
                 fit_windows: list[Tensor] | None = None, fit_head: Dataset | None = None,
                 in_view_weight: Tensor | None = None, object_frames: tuple[Tensor, Tensor] | None = None
                 ) -> None:
        self.tc, self.info = tc, info or dist.DistInfo()
        self.device = self.info.device
        self.clips_per_step = tc.batch
        if tc.batch % self.info.world_size:
            raise LvgError(f"{SECTION}.batch = {tc.batch} must split evenly over {self.info.world_size} process(es)")
        self.micro_batch = tc.batch // self.info.world_size
        self.net = seeded(tc.seed, lambda: WorldNet(net_cfg))[0].to(self.device).train()
        fit_colour_standardisation(self.net, [v.to(self.device) for v in fit_windows or []])
        self.networks = {"net": self.net}
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.optimizers = {"net": self.opt}
        self.heldout, self.meta, self.train_means = heldout, meta, train_means
        self.fit_head = fit_head if net_cfg.colour_heads else None
        self.in_view_weight = in_view_weight
        self.object_frames = object_frames  # (uint8 frames, labels) with object_net: read_object_frames

    def reseed(self, step: int) -> None:  # no random streams besides the data
        pass

    def rank_state(self) -> dict[str, Any]:
        return {}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        pass

    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        b = batches.next()
        self.opt.zero_grad(set_to_none=True)
        video = b["video"].float()
        n = video.shape[0]
        if self.net.cfg.negatives:  # a quarter more windows, made up (see make_negatives)
            gen = derived_generator(self.tc.seed, NEGATIVE_SALT, self.info.rank, step)
            video = torch.cat([video, make_negatives(video[:max(1, n // 4)].cpu(), gen).to(video)])
        out = self.net(video, objects=False)  # the linear in-view head; the object network trains apart
        losses = head_losses({k: v[:n] for k, v in out.items()}, _labels_to(b["labels"], self.device),
                             self.in_view_weight)
        if self.net.cfg.negatives:
            real = out["real"][:, 0]
            target = torch.zeros_like(real)
            target[:n] = 1
            losses["real"] = torch.nn.functional.binary_cross_entropy_with_logits(real, target)
        loss = sum(losses.values())
        loss.backward()
        dist.all_reduce_grads(self.net.parameters())
        self.opt.step()
        return {"loss": float(loss.detach()), **{f"loss_{k}": float(v.detach()) for k, v in losses.items()}}

    def sample_video(self) -> np.ndarray | None:
        return None

    def export(self, run_dir: Path, step: int) -> Path:
        if self.net.cfg.object_net:
            o = self.tc.object_net
            self.meta = {**self.meta, "object_net": train_object_net(
                self.net.objects, *self.object_frames, steps=o["steps"], batch=o["batch"], lr=o["lr"],
                seed=self.tc.seed)}
        if self.fit_head is not None:
            chosen = fit_heads(self.net, [self.fit_head[k] for k in range(HEAD_WINDOWS)],
                               groups=[k % len(self.fit_head) for k in range(HEAD_WINDOWS)])
            self.meta = {**self.meta, **chosen}
        scores = {name: evaluate_heads(self.net, data, self.tc.eval_windows, self.tc.seed, self.train_means)
                  for name, data in self.heldout.items()}
        for name, accuracy in scores.items():
            log.info("world detector %s: %s", name, {k: round(v["value"], 3) for k, v in accuracy.items()})
        return save_world_detector(self.net, Path(run_dir) / "detector.safetensors",
                                   {**self.meta, "step": step, **scores, "train": self.tc.__dict__})


RIDGES = (1.0, 10.0, 100.0, 1000.0)  # the refit's penalties, one chosen per target by grouped cross-validation
FOLDS = 4
VIEW_RIDGE = 10.0  # the in-view refit's penalty


@torch.no_grad()
def fit_heads(net: WorldNet, items: list[dict[str, Any]], groups: list[int] | None = None,
              ridges: tuple[float, ...] = RIDGES, view_ridge: float = VIEW_RIDGE) -> dict[str, Any]:
    """Refit, in closed form on the training windows ``items`` once training is over, the regression head
    and (with ``view_heads``) the objects-in-view head, from one pass over the windows; return the penalty
    chosen per regression target (``regression_ridge``).

    Why: a few hundred Adam steps leave these linear heads far from their optimum on inputs whose useful
    variations are small (the hand-made statistics); the closed form is that optimum, in a fraction of a
    second. benchmarks/world_detector_heads.py measures what it changes.

    * Regression: ridge regression on the standardised head input, bias unpenalised. With several
      ``ridges``, each target gets the one with the least error over ``FOLDS``-fold cross-validation, folds
      by ``groups`` (the windows' clips: windows of one shot share its state, and would leak across folds): a
      faint target (hours from midday) needs a strong penalty, a sharp one (speed) a weak one.
    * Objects in view: per class, class-balanced least squares, +1 (in view) / -1 (not), the positions of
      each kind weighted to half the total so that a rare class is not learnt as "never"; a class constant
      over the windows keeps its trained weights. The BCE-trained head stayed at chance for riders (held-out
      balanced accuracy 0.51); refitted, 0.69 on the held-out renders (near objects 0.65 -> 0.76).
    """
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    xs, labels = [], {}
    for item in items:
        xs.append(net.head_input(item["video"][None].to(device).float())[0].double().cpu())
        for k in ("regression", "in_view"):
            labels.setdefault(k, []).append(item["labels"][k].T.double())
    x, per_window = torch.cat(xs), xs[0].shape[0]
    out = {"regression_ridge": _refit_regression(net, x, torch.cat(labels["regression"]), per_window, ridges,
                                                 groups)}
    if net.cfg.view_heads and not net.cfg.object_net:
        _refit_in_view(net, x, torch.cat(labels["in_view"]), view_ridge)
    net.train(was_training)
    return out


OBJECT_SALT = 0x6F626A  # the object network's batches and flips: (seed, salt)


def train_object_net(net: torch.nn.Module, frames: Tensor, labels: Tensor, steps: int, batch: int, lr: float,
                     seed: int) -> dict[str, Any]:
    """Train the object network (:class:`lvg.metrics.world.ObjectNet`) on ``frames`` (uint8 ``[M, 3, H, W]``)
    and their objects in view (``labels`` ``[M, K]``, 0 / 1): AdamW (weight decay 0.05) on BCE, each class's
    in-view frames weighted by its out-of-view / in-view frequency (clipped to [0.05, 20]: a rare class is
    not learnt as "never"), random mirroring; batches and mirrors from the stream of ``(seed, OBJECT_SALT)``.
    Runs under bf16 autocast, channels-last: 2.0x faster per step than float32 on this CPU (30 against 61
    ms for 64 frames, benchmarks/world_detector_cost.py), and the held-out scores were no worse (houses 0.90 /
    0.96, animals 0.83 / 0.76 on renders / clips, offline). Leaves ``net``
    in eval mode (its BatchNorm statistics fixed; it then runs in float32); returns what the record keeps.

    Why apart from the joint training: it needs thousands of frames from many shots (on the corpus's 256
    shots it learnt their looks, houses 0.61 held out), and a few thousand steps, each a tenth of a joint
    step's cost."""
    gen = derived_generator(seed, OBJECT_SALT)
    device = next(net.parameters()).device
    y = labels.float()
    p = y.mean(0)
    pos_weight = ((1 - p) / p.clamp_min(1e-6)).clamp(0.05, 20).to(device)
    net.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    losses = []
    for step in range(1, steps + 1):
        idx = torch.randint(len(frames), (batch,), generator=gen)
        x = frames[idx].to(device, torch.float32).div_(127.5).sub_(1)
        flip = torch.rand(batch, generator=gen) < 0.5
        x = torch.where(flip.to(device)[:, None, None, None], x.flip(3), x).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = net(x).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[idx].to(device), pos_weight=pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step % max(1, steps // 4) == 0:
            log.info("object network: step %d / %d, loss %.3f", step, steps, np.mean(losses[-100:]))
    net.to(memory_format=torch.contiguous_format).eval()
    return {"frames": len(frames), "steps": steps, "batch": batch, "lr": lr, "autocast": "bfloat16",
            "final_loss": float(np.mean(losses[-100:])) if losses else None,
            "in_view_fraction": {c: float(v) for c, v in zip(OBJECTS, p.tolist(), strict=True)}}


def read_object_frames(corpus_dir: Path, height: int, width: int, in_view_min: float) -> tuple[Tensor, Tensor]:
    """Every frame of the object rides (``corpus_dir``, written by the render_world_objects rule) as uint8
    ``[M, 3, H, W]``, with its objects in view ``[M, K]``."""
    labels = WorldLabels.read(corpus_dir / WORLD_CSV, in_view_min=in_view_min)
    data = VideoDataset(corpus_dir, height, width, 1)
    frames, targets = [], []
    for i, cid in enumerate(data.clip_ids):
        if cid not in labels.labels:
            raise LvgError(f"{corpus_dir / WORLD_CSV}: no world state for clip {cid}")
        n = data.num_frames(i)
        frames.append(torch.from_numpy(data.read_frames(i, 0, n)).permute(0, 3, 1, 2))
        targets.append(torch.stack([torch.from_numpy(labels.labels[cid][f"in_view_{c}"][:n]) for c in OBJECTS], 1))
    if not frames:
        raise LvgError(f"{corpus_dir}: no object frames")
    return torch.cat(frames), torch.cat(targets)


def _refit_regression(net: WorldNet, x: Tensor, y: Tensor, per_window: int, ridges: tuple[float, ...],
                      groups: list[int] | None) -> dict[str, float]:
    best = torch.full((y.shape[1],), float(ridges[0]), dtype=y.dtype)
    if len(ridges) > 1:
        n = len(x) // per_window
        g = torch.tensor(groups if groups is not None else range(n)).repeat_interleave(per_window)
        fold = g % FOLDS
        err = torch.stack([sum((_ridge(x[fold != f], y[fold != f], lam)(x[fold == f]) - y[fold == f]).square().sum(0)
                               for f in range(FOLDS)) for lam in ridges])  # [ridges, K]: held-out squared error
        best = torch.tensor(ridges, dtype=y.dtype)[err.argmin(0)]
    head = net.heads["regression"]
    for k, lam in enumerate(best.tolist()):
        weight, bias = _ridge(x, y[:, [k]], lam, params=True)
        head.weight[k] = weight[:, 0].to(head.weight)
        head.bias[k] = bias[0].to(head.bias)
    return {name: float(lam) for name, lam in zip(REGRESSION, best.tolist(), strict=True)}


@torch.no_grad()
def _refit_in_view(net: WorldNet, x: Tensor, t: Tensor, ridge: float) -> None:
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-6)
    z = torch.cat([(x - mu) / sd, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    penalty = ridge * torch.eye(z.shape[1], dtype=x.dtype)
    penalty[-1, -1] = 0  # the bias is not penalised
    head = net.heads["in_view"]
    for k in range(t.shape[1]):
        pos = t[:, k] > 0.5
        if pos.all() or not pos.any():
            continue
        weight = torch.where(pos, 0.5 / pos.double().mean(), 0.5 / (~pos).double().mean())
        w = torch.linalg.solve(z.T @ (z * weight[:, None]) + penalty, z.T @ (weight * (2 * t[:, k] - 1)))
        head.weight[k] = (w[:-1] / sd).to(head.weight)
        head.bias[k] = (w[-1] - (mu / sd) @ w[:-1]).to(head.bias)


def _ridge(x: Tensor, y: Tensor, lam: float, params: bool = False) -> Any:
    """Ridge regression of ``y`` [M, K] on standardised ``x`` [M, D] (zero mean: the bias is y's mean,
    unregularised): the fitted predictor, or (``params``) its weight [D, K] and bias [K] on raw inputs."""
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mu) / sd
    w = torch.linalg.solve(z.T @ z + lam * torch.eye(z.shape[1], dtype=z.dtype), z.T @ (y - y.mean(0)))
    weight, bias = w / sd[:, None], y.mean(0) - (mu / sd) @ w
    return (weight, bias) if params else (lambda v: v @ weight + bias)


@torch.no_grad()
def evaluate_heads(net: WorldNet, data: WorldWindows, num_windows: int, seed: int,
                   train_means: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Held-out accuracy per head on ``num_windows`` windows (uniform over clips, seeded): classification
    accuracy with its chance level (always answering the held-out majority class; balanced accuracy for the
    objects in view, :func:`balanced_accuracy`), and R² per regression
    target with its chance level (always answering the training mean, ``train_means``; 0 without it). The
    held-out clips come from other times of the rides than the training clips, so a constant answer often
    scores below 0."""
    was_training = net.training
    net.eval()
    gen = derived_generator(seed, 0xE7A1)
    neg_gen = derived_generator(seed, 0xE7A2)  # its own stream: the windows scored stay those without negatives
    preds: dict[str, list[np.ndarray]] = {"biome": [], "direction": [], "in_view": [], "regression": []}
    truth: dict[str, list[np.ndarray]] = {k: [] for k in preds}
    real_hits: list[tuple[float, float]] = []
    for k in range(num_windows):
        clip = data.clips[k % len(data.clips)]
        start, _ = data.base.sample_window(clip, gen)
        item = data.item(clip, start, False)
        out = net(item["video"][None].to(next(net.parameters()).device))
        preds["biome"].append(out["biome"][0].argmax(0).cpu().numpy())
        preds["direction"].append((out["direction"][0, 0] > 0).long().cpu().numpy())
        preds["in_view"].append((out["in_view"][0] > 0).long().cpu().numpy())
        preds["regression"].append(out["regression"][0].cpu().numpy())
        if net.cfg.negatives:  # this window, and one negative of the kind whose turn it is
            fake = make_negatives(item["video"][None].expand(k % len(NEGATIVE_KINDS) + 1, -1, -1, -1, -1), neg_gen)[-1:]
            logits = net(fake.to(out["real"]), objects=False)["real"]
            real_hits.append((float((out["real"] > 0).float().mean()), float((logits < 0).float().mean())))
        for key in truth:
            truth[key].append(item["labels"][key].numpy())
    net.train(was_training)
    res: dict[str, dict[str, float]] = {}
    for key in ("biome", "direction"):
        p, t = np.concatenate(preds[key]), np.concatenate(truth[key])
        res[key] = {"value": float((p == t).mean()), "chance": float(np.bincount(t).max() / len(t)),
                    "metric": "accuracy"}
    p, t = np.concatenate(preds["in_view"], axis=1), np.concatenate(truth["in_view"], axis=1)
    for i, c in enumerate(OBJECTS):
        res[f"in_view_{c}"] = balanced_accuracy(p[i], t[i])
    p, t = np.concatenate(preds["regression"], axis=1), np.concatenate(truth["regression"], axis=1)
    for i, name in enumerate(REGRESSION):
        var = float(t[i].var())
        if var <= 1e-12:
            res[name] = {"value": float("nan"), "chance": float("nan"), "metric": "r2"}
            continue
        chance = 0.0 if train_means is None else 1 - float(((train_means[i] - t[i]) ** 2).mean()) / var
        res[name] = {"value": 1 - float(((p[i] - t[i]) ** 2).mean()) / var, "chance": chance, "metric": "r2"}
    if real_hits:  # real windows called real, negatives called made-up: the mean of the two hit rates
        hits = np.array(real_hits).mean(0)
        res["real"] = {"value": float(hits.mean()), "chance": 0.5, "metric": "balanced accuracy",
                       "real_called_real": float(hits[0]), "negatives_called_negative": float(hits[1])}
    for r in res.values():
        r["lift"] = r["value"] - r["chance"]  # NaN where undefined
    return res


def balanced_accuracy(pred: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """The mean of the hit rates on in-view and on out-of-view positions (chance 0.5 whatever the balance:
    most classes are in view in most frames, or in few, and plain accuracy then rewards a constant answer).
    Undefined (NaN) when the held-out positions are all of one kind."""
    pos = truth == 1
    if pos.all() or not pos.any():
        return {"value": float("nan"), "chance": float("nan"), "metric": "balanced accuracy",
                "note": f"held-out positions all {'in' if pos.all() else 'out of'} view"}
    value = 0.5 * (float((pred[pos] == 1).mean()) + float((pred[~pos] == 0).mean()))
    return {"value": value, "chance": 0.5, "metric": "balanced accuracy"}


def in_view_balance(parts: list[WorldWindows], cap: float = 20.0) -> Tensor:
    """Per object class, (out-of-view frames) / (in-view frames) over the training clips, clipped to
    [1 / cap, cap]: the BCE weight that balances the two (:func:`lvg.metrics.world.head_losses`)."""
    clips = [d.labels.labels[d.base.clip_ids[i]] for d in parts for i in d.clips]
    p = np.array([np.concatenate([c[f"in_view_{o}"] for c in clips]).mean() for o in OBJECTS])
    return torch.from_numpy(np.clip((1 - p) / np.maximum(p, 1e-9), 1 / cap, cap)).float()


def regression_means(parts: list[WorldWindows]) -> np.ndarray:
    """Mean of each regression target over every frame of the training clips: the constant answer."""
    clips = [d.labels.labels[d.base.clip_ids[i]] for d in parts for i in d.clips]
    return np.array([np.concatenate([c[k] for c in clips]).mean() for k in REGRESSION])


# ---------------------------------------------------------------------------------------------- entry point
def run_train_world(section: dict[str, Any], dataset_dir: str | Path, world_csv: str | Path, out_dir: str | Path,
                    resume: bool = True, corpus_dir: str | Path | None = None,
                    objects_dir: str | Path | None = None) -> Path:
    """Train the world detector on ``dataset_dir/<resolution>/`` with the labels in ``world_csv`` (and on the
    rendered corpus in ``corpus_dir``, :mod:`lvg.data.world_corpus`, when given; its object network, with
    ``object_net.steps`` > 0, on the frames of the rendered rides in ``objects_dir``); return
    ``out_dir/detector.safetensors``. ``section`` is the ``world_detector`` section (validated here)."""
    section = validate_section(SECTION, section)
    tc = WorldTrainConfig.from_dict(section)
    info = dist.setup_process(tc.device, tc.threads)
    h, w = parse_resolution(tc.resolution)
    labels = WorldLabels.read(world_csv, in_view_min=tc.in_view_pixels / (h * w))
    data_seed = rank_seed(tc.seed, info.rank, DATA)
    base = VideoDataset(dataset_dir, h, w, tc.seq_length, x_flip=tc.x_flip, seed=data_seed)
    train_set = WorldWindows(base, labels, heldout=False, fraction=tc.holdout, time_reverse=tc.time_reverse)
    heldout = WorldWindows(VideoDataset(dataset_dir, h, w, tc.seq_length, seed=data_seed), labels, heldout=True,
                           fraction=tc.holdout)
    parts, inputs = [train_set], [Path(dataset_dir) / resolution_dir(h, w) / "index.json", Path(world_csv)]
    evaluations = {"heldout": heldout}
    if corpus_dir is not None:  # split like the dataset: its held-out renders measure the detector on many shots
        corpus_labels = WorldLabels.read(Path(corpus_dir) / WORLD_CSV, in_view_min=tc.in_view_pixels / (h * w))
        corpus = VideoDataset(corpus_dir, h, w, tc.seq_length, x_flip=tc.x_flip, seed=data_seed)
        parts.append(WorldWindows(corpus, corpus_labels, heldout=False, fraction=tc.holdout,
                                  time_reverse=tc.time_reverse))
        evaluations["heldout_renders"] = WorldWindows(VideoDataset(corpus_dir, h, w, tc.seq_length, seed=data_seed),
                                                      corpus_labels, heldout=True, fraction=tc.holdout)
        inputs.append(Path(corpus_dir) / WORLD_CSV)
    train_all = ConcatWindows(parts)
    net_cfg = WorldNetConfig(height=h, width=w, embed_dim=tc.embed_dim, channels=tuple(tc.channels),
                             colour_cells=tc.colour_cells, colour_heads=tc.colour_heads,
                             motion_bands=tc.motion_bands, view_heads=tc.view_heads, negatives=tc.negatives,
                             object_net=tc.object_net["steps"] > 0)
    object_frames = None
    if net_cfg.object_net:
        if objects_dir is None or not tc.corpus["object_shots"]:
            raise LvgError(f"{SECTION}.object_net.steps = {tc.object_net['steps']} needs object frames to train on: "
                           f"set {SECTION}.corpus.object_shots above 0, or object_net.steps to 0")
        objects_dir = Path(objects_dir)
        object_frames = read_object_frames(objects_dir, h, w, tc.in_view_pixels / (h * w))
        inputs.append(objects_dir / WORLD_CSV)
    meta = {"dataset": str(Path(dataset_dir).name), "resolution": tc.resolution, "seq_length": tc.seq_length,
            "train_clips": len(train_set), "heldout_clips": len(heldout),
            "corpus_clips": len(train_all) - len(train_set),
            "heldout_render_clips": len(evaluations.get("heldout_renders", [])),
            "targets": {**describe_targets(), "in_view_pixels": tc.in_view_pixels}}
    fit = [train_all[k]["video"] for k in range(min(FIT_WINDOWS, 4 * len(train_all)))]
    algo = WorldDetectorTraining(tc, net_cfg, evaluations, meta, info, train_means=regression_means(parts),
                                 fit_windows=fit, fit_head=train_all, in_view_weight=in_view_balance(parts),
                                 object_frames=object_frames)
    batches = BatchSource(train_all, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    if info.is_main:
        log.info("train world detector: %s, %d training / %d held-out clips, %d rendered corpus clips",
                 tc.resolution, len(train_set), len(heldout), len(train_all) - len(train_set))
    key = resume_key(section, inputs)
    return train(algo, batches, tc.loop_config(), out_dir, {SECTION: section}, info=info, resume=resume,
                 resolved_extra={"detector": net_cfg.to_dict(), **meta}, resume_key=key)
