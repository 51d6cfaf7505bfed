"""Fréchet Video Distance: the distance, the real-clip protocols, streaming features, cached real statistics.

The computation is the reference's exactly (spec/evaluation.md §2.1): 400-d detector features
(:mod:`lvg.metrics.i3d`), mean and BIASED covariance (``E[x xᵀ] − μ μᵀ``, divided by N), and

    FVD = ‖μ_fake − μ_real‖² + tr(Σ_fake + Σ_real − 2·sqrtm(Σ_fake Σ_real))

with ``scipy.linalg.sqrtm`` and its real part kept.

Real clips (§2.3). ``longvideogan`` (the Table 1 protocol, our default): videos shorter than the clip are
dropped; the kept videos are visited in a shuffled order, reshuffled on every pass, each visit taking one
window with a uniformly random start, until exactly ``num_clips`` windows; so draws are uniform over videos,
not frames, and videos repeat when there are fewer than ``num_clips``. ``styleganv``: at most one clip per
video, from the first ``min(#videos, num_clips)`` videos (sorted by clip id) that are long enough, each at a
uniformly random offset. Consecutive frames (stride 1) in both. Randomness comes only from
``numpy.random.default_rng(seed)``.

Real statistics are cached as safetensors (μ, Σ in float64) plus a JSON key (never pickles), keyed by the
dataset (path + a hash of its frame index and partition sizes), resolution, protocol, clip length, count, seed
and detector (name, sha256, and the weights fingerprint of the random stand-in).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.linalg
import torch

from lvg.data.reader import VideoDataset
from lvg.errors import LvgError
from lvg.io import atomic_path, read_json, save_tensors, write_json
from lvg.metrics.i3d import DETECTOR_SIZE, RANDOM_NAME, to_uint8_videos

log = logging.getLogger(__name__)

PROTOCOLS = ("longvideogan", "styleganv")
PROTOCOL_RULES = {
    "longvideogan": "LongVideoGAN: videos shorter than the clip dropped; shuffled passes over the videos "
                    "(reshuffled each pass), one uniformly random window per visit, exactly num_clips clips; "
                    "stride 1",
    "styleganv": "StyleGAN-V: at most one clip per video, first min(#videos, num_clips) long-enough videos "
                 "in sorted order, uniformly random offset; stride 1",
}
REFERENCE_COUNT = 2048  # clips per side in the reference protocol
CACHE_VERSION = 1


class FeatureDetector(Protocol):
    name: str

    @property
    def sha256(self) -> str | None: ...

    def features(self, videos: Any, batch_size: int | None = None) -> np.ndarray: ...


# ================================================================================================ the math
@dataclass
class FeatureStats:
    """Mean and biased covariance of ``num`` feature vectors (float64)."""

    mu: np.ndarray
    sigma: np.ndarray
    num: int


class FeatureAccumulator:
    """Streaming ``Σx``, ``Σxxᵀ`` in float64; :meth:`stats` gives μ and ``E[xxᵀ] − μμᵀ`` (the reference's form)."""

    def __init__(self) -> None:
        self.num = 0
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def add(self, features: np.ndarray) -> None:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [N, D], got shape {x.shape}")
        if self._sum is None:
            self._sum = np.zeros(x.shape[1])
            self._outer = np.zeros((x.shape[1], x.shape[1]))
        self._sum += x.sum(axis=0)
        self._outer += x.T @ x
        self.num += x.shape[0]

    def stats(self) -> FeatureStats:
        if self.num == 0 or self._sum is None or self._outer is None:
            raise ValueError("no features accumulated")
        mu = self._sum / self.num
        sigma = self._outer / self.num - np.outer(mu, mu)
        return FeatureStats(mu, sigma, self.num)


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(μ, Σ) of [N, D] features, Σ the biased covariance (divided by N)."""
    acc = FeatureAccumulator()
    acc.add(features)
    s = acc.stats()
    return s.mu, s.sigma


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2·sqrtm(Σ1 Σ2)), sqrtm by scipy with the real part kept (as the reference)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {sigma1.shape}/{sigma2.shape}")
    m = float(np.square(mu1 - mu2).sum())
    s = scipy.linalg.sqrtm(sigma1 @ sigma2)
    return float(np.real(m + np.trace(sigma1 + sigma2 - 2 * s)))


def fvd_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FVD between two [N, D] feature sets."""
    return frechet_distance(*feature_stats(fake), *feature_stats(real))


# ================================================================================================ real clips
def plan_longvideogan(lengths: Sequence[int], num_clips: int, clip_len: int, seed: int) -> list[tuple[int, int]]:
    """(video index, start) of ``num_clips`` windows: shuffled passes over the long-enough videos."""
    if num_clips < 1 or clip_len < 1:
        raise ValueError("num_clips and clip_len must be >= 1")
    kept = np.array([i for i, n in enumerate(lengths) if n >= clip_len], dtype=np.int64)
    if kept.size == 0:
        raise LvgError(f"no video has at least {clip_len} frames ({len(lengths)} videos)")
    rng = np.random.default_rng(seed)
    out: list[tuple[int, int]] = []
    while len(out) < num_clips:
        for v in rng.permutation(kept):
            if len(out) == num_clips:
                break
            out.append((int(v), int(rng.integers(0, lengths[v] - clip_len + 1))))
    return out


def plan_styleganv(clip_ids: Sequence[str], lengths: Sequence[int], num_clips: int, clip_len: int,
                   seed: int) -> list[tuple[int, int]]:
    """(video index, start): at most one window per video, first ``num_clips`` long-enough videos by id."""
    if num_clips < 1 or clip_len < 1:
        raise ValueError("num_clips and clip_len must be >= 1")
    order = sorted((cid, i) for i, cid in enumerate(clip_ids) if lengths[i] >= clip_len)
    if not order:
        raise LvgError(f"no video has at least {clip_len} frames ({len(lengths)} videos)")
    rng = np.random.default_rng(seed)
    return [(i, int(rng.integers(0, lengths[i] - clip_len + 1))) for _, i in order[:num_clips]]


class RealClips:
    """Planned real windows of a :class:`VideoDataset`; iterating reads them as uint8 [3, T, H, W] tensors."""

    def __init__(self, dataset: VideoDataset, windows: list[tuple[int, int]], clip_len: int, protocol: str,
                 seed: int) -> None:
        self.dataset, self.windows, self.clip_len = dataset, windows, clip_len
        self.protocol, self.seed = protocol, seed

    def __len__(self) -> int:
        return len(self.windows)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for clip_index, start in self.windows:
            frames = self.dataset.read_frames(clip_index, start, self.clip_len)  # uint8 [T, H, W, 3]
            yield torch.from_numpy(frames).permute(3, 0, 1, 2)


def _lengths(dataset: VideoDataset) -> list[int]:
    return [dataset.num_frames(i) for i in range(len(dataset))]


def sample_real_clips(dataset: VideoDataset, num_clips: int, clip_len: int, seed: int) -> RealClips:
    """LongVideoGAN protocol: exactly ``num_clips`` windows, uniform over videos (see module doc)."""
    return RealClips(dataset, plan_longvideogan(_lengths(dataset), num_clips, clip_len, seed), clip_len,
                     "longvideogan", seed)


def sample_real_clips_styleganv(dataset: VideoDataset, num_clips: int, clip_len: int, seed: int) -> RealClips:
    """StyleGAN-V protocol: at most one window per video (≤ ``num_clips`` in all; see module doc)."""
    windows = plan_styleganv(dataset.clip_ids, _lengths(dataset), num_clips, clip_len, seed)
    return RealClips(dataset, windows, clip_len, "styleganv", seed)


def sample_real(dataset: VideoDataset, protocol: str, num_clips: int, clip_len: int, seed: int) -> RealClips:
    if protocol == "longvideogan":
        return sample_real_clips(dataset, num_clips, clip_len, seed)
    if protocol == "styleganv":
        return sample_real_clips_styleganv(dataset, num_clips, clip_len, seed)
    raise LvgError(f"unknown FVD protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")


# ================================================================================================ streaming
def _batches(clips: Iterable[Any], batch_size: int | None) -> Iterator[torch.Tensor]:
    """Regroup single clips [C, T, H, W] and batches [B, C, T, H, W] into uint8 batches of ``batch_size``."""
    pending: list[torch.Tensor] = []
    count = 0
    for item in clips:
        x = torch.from_numpy(np.ascontiguousarray(item)) if isinstance(item, np.ndarray) else item
        if x.ndim == 4:
            x = x.unsqueeze(0)
        x = to_uint8_videos(x)
        if batch_size is None:
            batch_size = max(1, 64 // x.shape[2])
        pending.append(x)
        count += x.shape[0]
        while count >= batch_size:
            cat = torch.cat(pending)
            yield cat[:batch_size]
            rest = cat[batch_size:]
            pending, count = ([rest] if rest.shape[0] else []), rest.shape[0]
    if count:
        yield torch.cat(pending)


def detector_stats(clips: Iterable[Any], detector: FeatureDetector, batch_size: int | None = None,
                   max_clips: int | None = None) -> FeatureStats:
    """Stream clips (uint8 or [-1, 1] float; single or batched) through the detector into μ, Σ."""
    acc = FeatureAccumulator()
    for batch in _batches(clips, batch_size):
        if max_clips is not None:
            batch = batch[:max(0, max_clips - acc.num)]
            if batch.shape[0] == 0:
                break
        acc.add(detector.features(batch, batch_size=batch.shape[0]))
    return acc.stats()


@dataclass
class FvdResult:
    value: float
    num_real: int
    num_fake: int


def compute_fvd(real_clip_iter: Iterable[Any] | None, fake_clip_iter: Iterable[Any], detector: FeatureDetector,
                batch_size: int | None = None, real_stats: FeatureStats | None = None,
                num_fake: int | None = None) -> FvdResult:
    """FVD of fake clips against real clips (or precomputed ``real_stats``), features streamed in batches."""
    if real_stats is None:
        if real_clip_iter is None:
            raise ValueError("give real clips or real_stats")
        real_stats = detector_stats(real_clip_iter, detector, batch_size)
    fake_stats = detector_stats(fake_clip_iter, detector, batch_size, max_clips=num_fake)
    value = frechet_distance(fake_stats.mu, fake_stats.sigma, real_stats.mu, real_stats.sigma)
    return FvdResult(value, real_stats.num, fake_stats.num)


# ================================================================================================ cache
def dataset_fingerprint(dataset: VideoDataset) -> dict[str, Any]:
    """Identity of a dataset resolution folder: resolved path and a hash of its index (clips, frame names,
    partition names and sizes)."""
    res_dir = dataset.shards.res_dir.resolve()
    index = {"frames": dataset.shards.frame_table(),
             "partitions": [[p.name, p.stat().st_size] for p in dataset.shards.partitions]}
    digest = hashlib.sha256(json.dumps(index, sort_keys=True).encode()).hexdigest()
    return {"path": str(res_dir), "index_sha256": digest}


def detector_key(detector: FeatureDetector) -> dict[str, Any]:
    key: dict[str, Any] = {"name": detector.name, "sha256": detector.sha256}
    fingerprint = getattr(detector, "fingerprint", None)
    if fingerprint is not None:
        key["weights_fingerprint"] = fingerprint
    return key


@dataclass
class CachedStats:
    stats: FeatureStats
    key: dict[str, Any]
    cache_hit: bool
    files: tuple[Path, Path]


def real_stats_cached(dataset_dir: str | Path, height: int, width: int, *, protocol: str, clip_len: int,
                      num_clips: int, seed: int, detector: FeatureDetector, cache_dir: str | Path,
                      batch_size: int | None = None, replace_cache: bool = False) -> CachedStats:
    """Real-clip statistics for one protocol setting, from ``cache_dir`` when an identical key is there."""
    if protocol not in PROTOCOLS:
        raise LvgError(f"unknown FVD protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    dataset = VideoDataset(dataset_dir, height, width, seq_length=clip_len)
    key = {"version": CACHE_VERSION, "dataset": dataset_fingerprint(dataset), "resolution": [height, width],
           "protocol": protocol, "clip_len": clip_len, "num_clips": num_clips, "seed": seed,
           "detector": detector_key(detector)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    cache_dir = Path(cache_dir)
    tensors_path, meta_path = cache_dir / f"fvd-real-{digest}.safetensors", cache_dir / f"fvd-real-{digest}.json"
    files = (tensors_path, meta_path)
    if not replace_cache and meta_path.is_file() and tensors_path.is_file():
        try:
            meta = read_json(meta_path)
            if meta.get("key") == key:
                from safetensors.numpy import load_file
                t = load_file(str(tensors_path))
                log.info("real FVD statistics from cache %s", tensors_path)
                return CachedStats(FeatureStats(t["mu"], t["sigma"], int(meta["num"])), key, True, files)
        except (OSError, ValueError, KeyError) as e:
            log.warning("ignoring unreadable FVD cache entry %s: %s", meta_path, e)
    clips = sample_real(dataset, protocol, num_clips, clip_len, seed)
    stats = detector_stats(clips, detector, batch_size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(tensors_path) as tmp:  # canonical bytes: the same statistics give the same file
        save_tensors({"mu": np.ascontiguousarray(stats.mu), "sigma": np.ascontiguousarray(stats.sigma)}, tmp)
    write_json(meta_path, {"key": key, "num": stats.num, "protocol_rule": PROTOCOL_RULES[protocol]})  # last
    return CachedStats(stats, key, False, files)


# ================================================================================================ records
def metric_name(clip_len: int) -> str:
    return f"fvd{clip_len}"


def metric_record(*, value: float | None, clip_len: int, protocol: str, num_real: int, num_fake: int,
                  seeds: dict[str, int], detector: Any, resolution: tuple[int, int], dataset_id: Any,
                  model_id: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One FVD result with everything needed to reproduce it. ``value=None`` records "not computed".

    ``detector`` is a :class:`~lvg.metrics.i3d.Detector` (or anything with ``name``/``sha256``);
    ``resolution`` (H, W) is what was fed to the detector, which resizes it to 224x224.
    """
    describe = detector.describe() if hasattr(detector, "describe") else detector_key(detector)
    comparable = bool(describe.get("comparable_to_published", detector.sha256 is not None))
    warnings_: list[str] = []
    if describe.get("warning"):
        warnings_.append(describe["warning"])
    elif detector.name == RANDOM_NAME:
        warnings_.append("i3d-random detector: not comparable to published FVD")
    if min(num_real, num_fake) < REFERENCE_COUNT:
        warnings_.append(f"small sample ({num_real} real, {num_fake} fake clips; the protocol uses "
                         f"{REFERENCE_COUNT}): FVD is biased upwards")
    record: dict[str, Any] = {
        "metric": metric_name(clip_len),
        "value": value,
        "status": ("not computed (weights absent)" if value is None else "computed" if comparable
                   else f"computed with the stand-in detector {detector.name} (not comparable to published FVD)"),
        "protocol": protocol,
        "protocol_rule": PROTOCOL_RULES.get(protocol, protocol),
        "num_real": num_real,
        "num_fake": num_fake,
        "clip_len": clip_len,
        "frame_stride": 1,
        "seeds": dict(seeds),
        "detector_name": detector.name,
        "detector_sha256": detector.sha256,
        "detector": describe,
        "resolution": f"{resolution[0]}x{resolution[1]}",
        "detector_input": f"{DETECTOR_SIZE}x{DETECTOR_SIZE}",
        "covariance": "biased (divided by N)",
        "sqrtm": "scipy.linalg.sqrtm, real part",
        "dataset_id": dataset_id,
        "model_id": model_id,
        "comparable_to_published": comparable,
        "warnings": warnings_,
    }
    if extra:
        record.update(extra)
    return record
