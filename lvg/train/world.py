"""Training the `world` detector (:mod:`lvg.metrics.world`) on a synthetic dataset's ground truth, through
the shared loop (checkpoints, exact resume, metrics.csv, NaN guard).

Data: windows of ``seq_length`` frames of the real clips at the LR size (:class:`WorldWindows`), with their
per-frame world state (:class:`lvg.data.world.WorldLabels`) grouped by 4 frames (the network's output rate):
the middle frame's biome and objects-in-view, the direction, the mean of each regression target. A mirrored
window has the other direction, and so has a time-reversed one (``time_reverse``): together they make the
direction a matter of motion, not of how a clip looks. Clips are split by a hash of their id: ``holdout`` of them are never trained
on and give the held-out accuracy per head that the detector's record carries (with the chance level of each
head: the most frequent class, or R² 0 for a regression).
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
from lvg.errors import LvgError
from lvg.metrics.world import STRIDE, WorldNet, WorldNetConfig, head_losses, save_world_detector
from lvg.train import distributed as dist
from lvg.train.gan import DATA, rank_seed, seeded
from lvg.train.loop import BatchSource, LoopConfig, resume_key, train

log = logging.getLogger(__name__)

SECTION = "world_detector"
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

    Like :class:`VideoDataset` (whose clips it reads), item ``key`` is a pure function of ``(seed, epoch,
    key)``, so :class:`lvg.train.loop.BatchSource` resumes exactly.
    """

    def __init__(self, base: VideoDataset, labels: WorldLabels, heldout: bool, fraction: float,
                 time_reverse: bool = False) -> None:
        self.base, self.labels, self.time_reverse = base, labels, time_reverse
        ids = base.clip_ids
        held = heldout_clips([c for c in ids if c in labels.labels], fraction)
        self.clips = [i for i, c in enumerate(ids) if c in labels.labels and (c in held) == heldout]
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
        key = int(key)
        clip = self.clips[key % len(self.clips)]
        gen = derived_generator(self.base.seed, self.base.epoch, key)
        start, flip = self.base.sample_window(clip, gen)
        reverse = self.time_reverse and float(torch.rand((), generator=gen)) < 0.5
        return self.item(clip, start, flip, reverse)


def _labels_to(labels: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device) for k, v in labels.items()}


# ---------------------------------------------------------------------------------------------- algorithm
class WorldDetectorTraining:
    """Supervised training of :class:`WorldNet` as an :class:`lvg.train.loop.Algorithm` (AdamW, all heads'
    losses summed), exporting the detector with its held-out accuracy."""

    loss_names = ("loss", "loss_biome", "loss_direction", "loss_in_view", "loss_regression")

    def __init__(self, tc: WorldTrainConfig, net_cfg: WorldNetConfig, heldout: WorldWindows, meta: dict[str, Any],
                 info: dist.DistInfo | None = None, train_means: np.ndarray | None = None) -> None:
        self.tc, self.info = tc, info or dist.DistInfo()
        self.device = self.info.device
        self.clips_per_step = tc.batch
        if tc.batch % self.info.world_size:
            raise LvgError(f"{SECTION}.batch = {tc.batch} must split evenly over {self.info.world_size} process(es)")
        self.micro_batch = tc.batch // self.info.world_size
        self.net = seeded(tc.seed, lambda: WorldNet(net_cfg))[0].to(self.device).train()
        self.networks = {"net": self.net}
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.optimizers = {"net": self.opt}
        self.heldout, self.meta, self.train_means = heldout, meta, train_means

    def reseed(self, step: int) -> None:  # no random streams besides the data
        pass

    def rank_state(self) -> dict[str, Any]:
        return {}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        pass

    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        b = batches.next()
        self.opt.zero_grad(set_to_none=True)
        losses = head_losses(self.net(b["video"].float()), _labels_to(b["labels"], self.device))
        loss = sum(losses.values())
        loss.backward()
        dist.all_reduce_grads(self.net.parameters())
        self.opt.step()
        return {"loss": float(loss.detach()), **{f"loss_{k}": float(v.detach()) for k, v in losses.items()}}

    def sample_video(self) -> np.ndarray | None:
        return None

    def export(self, run_dir: Path, step: int) -> Path:
        accuracy = evaluate_heads(self.net, self.heldout, self.tc.eval_windows, self.tc.seed, self.train_means)
        log.info("world detector held-out: %s", {k: round(v["value"], 3) for k, v in accuracy.items()})
        return save_world_detector(self.net, Path(run_dir) / "detector.safetensors",
                                   {**self.meta, "step": step, "heldout": accuracy, "train": self.tc.__dict__})


@torch.no_grad()
def evaluate_heads(net: WorldNet, data: WorldWindows, num_windows: int, seed: int,
                   train_means: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Held-out accuracy per head on ``num_windows`` windows (uniform over clips, seeded): classification
    accuracy with its chance level (always answering the held-out majority class), and R² per regression
    target with its chance level (always answering the training mean, ``train_means``; 0 without it). The
    held-out clips come from other times of the rides than the training clips, so a constant answer often
    scores below 0."""
    was_training = net.training
    net.eval()
    gen = derived_generator(seed, 0xE7A1)
    preds: dict[str, list[np.ndarray]] = {"biome": [], "direction": [], "in_view": [], "regression": []}
    truth: dict[str, list[np.ndarray]] = {k: [] for k in preds}
    for k in range(num_windows):
        clip = data.clips[k % len(data.clips)]
        start, _ = data.base.sample_window(clip, gen)
        item = data.item(clip, start, False)
        out = net(item["video"][None].to(next(net.parameters()).device))
        preds["biome"].append(out["biome"][0].argmax(0).cpu().numpy())
        preds["direction"].append((out["direction"][0, 0] > 0).long().cpu().numpy())
        preds["in_view"].append((out["in_view"][0] > 0).long().cpu().numpy())
        preds["regression"].append(out["regression"][0].cpu().numpy())
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
        res[f"in_view_{c}"] = {"value": float((p[i] == t[i]).mean()),
                               "chance": float(max(t[i].mean(), 1 - t[i].mean())), "metric": "accuracy"}
    p, t = np.concatenate(preds["regression"], axis=1), np.concatenate(truth["regression"], axis=1)
    for i, name in enumerate(REGRESSION):
        var = float(t[i].var())
        if var <= 1e-12:
            res[name] = {"value": float("nan"), "chance": float("nan"), "metric": "r2"}
            continue
        chance = 0.0 if train_means is None else 1 - float(((train_means[i] - t[i]) ** 2).mean()) / var
        res[name] = {"value": 1 - float(((p[i] - t[i]) ** 2).mean()) / var, "chance": chance, "metric": "r2"}
    for r in res.values():
        r["lift"] = r["value"] - r["chance"]
    return res


def regression_means(data: WorldWindows) -> np.ndarray:
    """Mean of each regression target over every frame of ``data``'s clips: the constant answer."""
    clips = [data.labels.labels[data.base.clip_ids[i]] for i in data.clips]
    return np.array([np.concatenate([c[k] for c in clips]).mean() for k in REGRESSION])


# ---------------------------------------------------------------------------------------------- entry point
def run_train_world(section: dict[str, Any], dataset_dir: str | Path, world_csv: str | Path, out_dir: str | Path,
                    resume: bool = True) -> Path:
    """Train the world detector on ``dataset_dir/<resolution>/`` with the labels in ``world_csv``; return
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
    net_cfg = WorldNetConfig(height=h, width=w, embed_dim=tc.embed_dim, channels=tuple(tc.channels))
    meta = {"dataset": str(Path(dataset_dir).name), "resolution": tc.resolution, "seq_length": tc.seq_length,
            "train_clips": len(train_set), "heldout_clips": len(heldout),
            "targets": {**describe_targets(), "in_view_pixels": tc.in_view_pixels}}
    algo = WorldDetectorTraining(tc, net_cfg, heldout, meta, info, train_means=regression_means(train_set))
    batches = BatchSource(train_set, algo.micro_batch, data_seed, num_workers=tc.num_workers, device=info.device)
    if info.is_main:
        log.info("train world detector: %s, %d training / %d held-out clips", tc.resolution, len(train_set),
                 len(heldout))
    key = resume_key(section, [Path(dataset_dir) / resolution_dir(h, w) / "index.json", Path(world_csv)])
    return train(algo, batches, tc.loop_config(), out_dir, {SECTION: section}, info=info, resume=resume,
                 resolved_extra={"detector": net_cfg.to_dict(), **meta}, resume_key=key)
