"""Phase 7, evaluate: FVD16, FVD128 and colour similarity of every sample set against the real clips.

Two entry points, both called by Snakemake (``workflow/rules/evaluate.smk``) and the ``lvg evaluate`` CLI:

* :func:`run_real` computes the real side once per dataset: the FVD statistics of every (clip length, seed)
  into the cache (``real_stats_cached``: safetensors + JSON, keyed by dataset, resolution, protocol, count,
  seed and detector) and the real colour-similarity curve. Per-method jobs then only read the cache, so
  parallel jobs never race to write it.
* :func:`run_method` evaluates one sample set (``index.json`` + videos, :mod:`lvg.sample_sets`) and writes
  ``<metrics>/<dataset>/<method>/{fvd16,fvd128,color_similarity}.json`` (layout: :mod:`lvg.report.records`).

Protocol (spec/evaluation.md §2.3): real clips by the configured protocol (LongVideoGAN's by default: uniform
over videos, random starts); generated clips at random offsets, uniform over the generated videos (the same
plan, :func:`lvg.metrics.fvd.plan_longvideogan`, applied to the sample set). Run ``k`` uses seed ``seeds[k]``
for both sides; the record holds mean ± sample std over the runs. A sample set whose frames are not at the
dataset resolution (a baseline trained at the LR size, a released 16:9 model on a square dataset) is
centre-cropped to the dataset's aspect as the real videos were, resized to it with antialiased bilinear
interpolation before the detector, and the record says so. A sample set shorter than a clip length gets a
"not computed" record for that length instead of an error: tables show it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from lvg import layout as L
from lvg.config import Section, load_config, parse_resolution, section_class, validate_section
from lvg.data.preprocess import crop_box
from lvg.data.reader import VideoDataset
from lvg.data.world import heldout_clips
from lvg.errors import LvgError
from lvg.io import write_json
from lvg.metrics.color_similarity import FrameChange, similarity_curve
from lvg.metrics.fvd import (
    PROTOCOLS,
    FeatureDetector,
    FeatureStats,
    dataset_fingerprint,
    detector_stats,
    frechet_distance,
    metric_record,
    plan_longvideogan,
    real_stats_cached,
    sample_real,
)
from lvg.metrics.i3d import RANDOM_NAME, load_detector
from lvg.metrics.sanity import DEGRADATIONS, as_uint8, degraded, ranking_line, verdict
from lvg.metrics.semantic import change_summary, unreliable_heads
from lvg.metrics.world import NAME as WORLD
from lvg.metrics.world import load_world_detector
from lvg.plan import evaluation_resolution, resolve_detector  # noqa: F401 - lvg.evaluate's API
from lvg.report.records import (
    COLOR_METRIC,
    SEMANTIC_METRIC,
    record_path,
    write_color_record,
    write_fvd_record,
    write_semantic_record,
)
from lvg.sample_sets import SampleSet

log = logging.getLogger(__name__)

SECTION = "metrics"
FVD_LENGTHS = (16, 128)
SANITY_SEED = 1000  # the sanity samples use seed + 1000: other windows than the real statistics


# ================================================================================================ config
class MetricsConfig(section_class(SECTION, "MetricsConfig", Section)):
    """The ``metrics`` section (keys, defaults and meanings: the schema and params.yaml)."""

    SECTION: ClassVar[str] = SECTION

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> MetricsConfig:
        """Validate (filling defaults) and build: the one way a phase reads its ``metrics`` section."""
        return cls.from_dict(validate_section(SECTION, copy.deepcopy(section)))

    def num_clips(self, clip_len: int) -> int:
        return {16: self.fvd16_clips, 128: self.fvd128_clips}[clip_len]

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


def load_feature_detector(spec: str | None, world_detector: str | Path | None = None,
                          device: str | torch.device = "cpu") -> FeatureDetector:
    """``world`` (the file ``world_detector``), ``i3d-random``, or a local I3D weights file (verified);
    ``auto`` is ``world`` when a world detector file is given (the rules give one on synthetic datasets only,
    :func:`resolve_detector`), else ``i3d-random``."""
    if spec == "auto":
        spec = WORLD if world_detector is not None else RANDOM_NAME
    if spec == WORLD:
        if world_detector is None:
            raise LvgError("metrics.detector is 'world' but no world detector file was given (it is trained by "
                           "the train_world_detector rule, on synthetic datasets only)")
        return load_world_detector(world_detector, device)
    return load_detector(None if spec in (None, "", RANDOM_NAME) else spec, device)


def _setup(mc: MetricsConfig, detector: FeatureDetector | None = None,
           world_detector: str | Path | None = None) -> FeatureDetector:
    """The configured detector (or the one a caller passes, e.g. a test's stub)."""
    if mc.threads > 0:
        torch.set_num_threads(mc.threads)
    if detector is not None:
        return detector
    return load_feature_detector(mc.detector, world_detector, mc.torch_device())


def _describe(detector: FeatureDetector) -> dict[str, Any]:
    if hasattr(detector, "describe"):
        return detector.describe()
    return {"name": detector.name, "sha256": detector.sha256}


def _real_dataset(dataset_dir: str | Path, resolution: str, clip_len: int) -> VideoDataset:
    h, w = parse_resolution(resolution)
    return VideoDataset(dataset_dir, h, w, seq_length=clip_len)


def color_length(color_frames: int, dataset_dir: str | Path, resolution: str) -> int:
    """Frames per colour-similarity clip: 129 (separations 0..128, the paper's), or fewer when the sample
    sets (``color_frames``: their length) or the real clips are shorter (the tiny test datasets)."""
    real = _real_dataset(dataset_dir, resolution, 1)
    longest = max(real.num_frames(i) for i in range(len(real)))
    return min(129, color_frames, longest)


def _cache_dir(metrics_dir: str | Path, dataset: str) -> Path:
    return Path(L.metrics_cache(dataset, metrics_dir))


# ================================================================================================ sample sets
def resize_clip(clip: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [3, T, H, W] -> uint8 [3, T, h, w]: centre-cropped to the aspect of ``size`` as the real videos
    were (:func:`lvg.data.preprocess.crop_box`), then antialiased bilinear; identity at the same size."""
    if tuple(clip.shape[-2:]) == tuple(size):
        return clip
    x0, y0, x1, y1 = crop_box(clip.shape[-2], clip.shape[-1], *size)
    clip = clip[..., y0:y1, x0:x1]
    if tuple(clip.shape[-2:]) == tuple(size):
        return clip
    x = clip.permute(1, 0, 2, 3).float()
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(1, 0, 2, 3)


def fake_clips(samples: SampleSet, num_clips: int, clip_len: int, seed: int,
               size: tuple[int, int]) -> Iterator[torch.Tensor]:
    """``num_clips`` windows of ``clip_len`` frames, uniform over the generated videos with random starts,
    as uint8 [3, T, H, W] at ``size``. Each video is decoded once (the longest window it needs)."""
    windows = plan_longvideogan(samples.lengths, num_clips, clip_len, seed)
    by_video: dict[int, list[tuple[int, int]]] = {}
    for k, (v, s) in enumerate(windows):
        by_video.setdefault(v, []).append((k, s))
    for v in sorted(by_video):
        stop = max(s for _, s in by_video[v]) + clip_len
        frames = torch.from_numpy(samples.read(v, 0, stop)).permute(3, 0, 1, 2)  # [3, T, H, W]
        for _, s in sorted(by_video[v]):
            yield resize_clip(frames[:, s:s + clip_len], size)


def _as_signed(clips: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    for c in clips:
        yield c.float() / 127.5 - 1


# ================================================================================================ real side
def run_real(dataset: str, dataset_dir: str | Path, resolution: str, metrics_dir: str | Path,
             metrics: dict[str, Any], color_frames: int, detector: FeatureDetector | None = None,
             world_detector: str | Path | None = None) -> dict[str, Any]:
    """Real FVD statistics for every (length, seed) into the cache, the real colour curve (clips of at
    most ``color_frames`` frames: the sample sets' length) and, with a detector that reads the world out,
    the real semantic-change record. ``metrics`` is the ``metrics`` section; ``world_detector`` the detector
    file when it is ``world``. Returns the colour record; ``<metrics>/<dataset>/real/fvd_stats.json`` lists
    the cache entries."""
    mc = MetricsConfig.from_section(metrics)
    detector = _setup(mc, detector, world_detector)
    entries = []
    for clip_len in FVD_LENGTHS:
        try:
            _real_dataset(dataset_dir, resolution, clip_len)
        except LvgError as e:
            log.warning("no real FVD%d statistics: %s", clip_len, e)
            continue
        for seed in mc.seeds:
            cached = real_stats_cached(dataset_dir, *parse_resolution(resolution), protocol=mc.protocol,
                                       clip_len=clip_len, num_clips=mc.num_clips(clip_len), seed=seed,
                                       detector=detector, cache_dir=_cache_dir(metrics_dir, dataset),
                                       batch_size=mc.batch_size)
            entries.append({"clip_len": clip_len, "seed": seed, "num": cached.stats.num,
                            "files": [p.name for p in cached.files]})
    out = record_path(metrics_dir, dataset, "real", "fvd_stats")
    write_json(out, {"dataset": dataset, "resolution": resolution, "protocol": mc.protocol,
                     "detector": _describe(detector), "entries": entries})
    _real_semantic(dataset, dataset_dir, resolution, metrics_dir, mc, detector)
    length = color_length(color_frames, dataset_dir, resolution)
    real = _real_dataset(dataset_dir, resolution, length)
    clips = sample_real(real, mc.protocol, mc.color_clips, length, mc.color_seed)
    change = FrameChange()
    mean, std, n = similarity_curve(change.watch(_as_signed(iter(clips))))
    return write_color_record(record_path(metrics_dir, dataset, "real", COLOR_METRIC), dataset=dataset,
                              method="real", resolution=resolution, mean=mean.tolist(), std=std.tolist(),
                              num_clips=n, seed=mc.color_seed, clip_len=length - 1,
                              extra={"protocol": mc.protocol, "dataset_id": dataset_fingerprint(real),
                                     "frame_change": change.value})


def _left_out(detector: Any) -> dict[str, str]:
    """The world detector's heads that do not beat chance on its held-out clips and renders (left out of the
    metrics)."""
    d = _describe(detector)
    return unreliable_heads(d.get("heldout"), d.get("heldout_renders"))


def _real_semantic(dataset: str, dataset_dir: str | Path, resolution: str, metrics_dir: str | Path,
                   mc: MetricsConfig, detector: Any) -> dict[str, Any]:
    """The semantic-change record of the real clips with at least ``semantic_min_frames`` frames, read whole."""
    status, readouts = "computed", iter(())
    if not hasattr(detector, "readout"):
        status = f"not computed ({detector.name} has no world readout)"
    else:
        try:
            real = _real_dataset(dataset_dir, resolution, mc.semantic_min_frames)
            readouts = (detector.readout(as_uint8(real.read_frames(c, 0, real.num_frames(c))))
                        for c in range(len(real)))
        except LvgError as e:
            status = f"not computed ({e})"
    return write_semantic_record(record_path(metrics_dir, dataset, "real", SEMANTIC_METRIC), dataset=dataset,
                                 method="real", resolution=resolution,
                                 summary=change_summary(readouts, left_out=_left_out(detector)),
                                 detector=_describe(detector), extra={"status": status})


# ================================================================================================ sanity
def _windows(real: VideoDataset, windows: list[tuple[int, int]], clip_len: int) -> Iterator[torch.Tensor]:
    """uint8 ``[3, T, H, W]`` real clips of ``(clip, start)`` windows."""
    for clip, start in windows:
        yield as_uint8(real.read_frames(clip, start, clip_len))


def _ranking(reference: FeatureStats, windows: list[tuple[int, int]], real: VideoDataset, clip_len: int,
             detector: FeatureDetector, mc: MetricsConfig, seed: int, degrade: bool) -> dict[str, float]:
    """FVD against ``reference`` of the real ``windows`` and (``degrade``) of each degradation of them."""
    sets = {"real": _windows(real, windows, clip_len)}
    if degrade:
        sets |= {k: degraded(_windows(real, windows, clip_len), k, seed) for k in DEGRADATIONS}
    out = {}
    for name, stream in sets.items():
        stats = detector_stats(stream, detector, mc.batch_size)
        out[name] = frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma)
    return out


def _summary(values: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else None, "values": v}
            for k, v in values.items()}


def run_sanity(dataset: str, dataset_dir: str | Path, resolution: str, metrics_dir: str | Path,
               metrics: dict[str, Any], holdout: float, detector: FeatureDetector | None = None,
               world_detector: str | Path | None = None, cache_dir: str | Path | None = None,
               out: str | Path | None = None) -> dict[str, Any]:
    """The sanity ranking (:mod:`lvg.metrics.sanity`) of the detector, and Table 1's real row (records
    ``<metrics>/<dataset>/real/fvd{16,128}.json``), at 16 and 128 frames, over two populations:

    * ``table1``: against Table 1's own real statistics (all clips, seed ``s`` of the ``metrics`` section),
      another sample of real windows of the same clips (seed ``s + 1000``) and that sample degraded. Its
      real FVD is Table 1's real row: the metric's floor at this many clips.
    * ``heldout``: the same on the clips the world detector never trained on (``holdout`` fraction, by clip
      id): statistics of their windows at seed ``s``, another sample of them, and its degradations. Real
      clips the detector saw cannot flatter it here.

    Windows are drawn as for generated sets (uniform over clips, random starts); degradations use the first
    seed. Both populations must pass. Writes ``out`` (default ``<metrics>/<dataset>/sanity.json``)."""
    mc = MetricsConfig.from_section(metrics)
    detector = _setup(mc, detector, world_detector)
    size = parse_resolution(resolution)
    cache = Path(cache_dir) if cache_dir else _cache_dir(metrics_dir, dataset)
    results: dict[str, Any] = {}
    lines = []
    model = {"method": "real", "kind": "resample",
             "description": "another sample of real windows (seed + 1000) of the clips Table 1's real "
                            "statistics come from: the metric's floor at this many clips"}
    for clip_len in FVD_LENGTHS:
        path = record_path(metrics_dir, dataset, "real", f"fvd{clip_len}")
        try:
            real = _real_dataset(dataset_dir, resolution, clip_len)
        except LvgError as e:
            log.warning("no sanity ranking at %d frames: %s", clip_len, e)
            write_fvd_record(path, dataset=dataset, method="real", model=model, metric=f"fvd{clip_len}",
                             resolution=resolution, status=f"not computed ({e})")
            continue
        n = mc.num_clips(clip_len)
        split = heldout_clips(real.clip_ids, holdout)
        populations = {"table1": list(range(len(real.clip_ids))),
                       "heldout": [c for c, cid in enumerate(real.clip_ids) if cid in split]}
        values: dict[str, dict[str, list[float]]] = {k: {} for k in populations}
        runs = []
        for i, seed in enumerate(mc.seeds):
            for pop, clips in populations.items():
                if not clips:
                    continue
                lengths = [real.num_frames(c) for c in clips]
                if pop == "table1":
                    reference = real_stats_cached(dataset_dir, *size, protocol=mc.protocol, clip_len=clip_len,
                                                  num_clips=n, seed=seed, detector=detector, cache_dir=cache,
                                                  batch_size=mc.batch_size).stats
                    windows = sample_real(real, mc.protocol, n, clip_len, seed + SANITY_SEED).windows
                else:
                    plan = [(clips[v], s) for v, s in plan_longvideogan(lengths, n, clip_len, seed)]
                    reference = detector_stats(_windows(real, plan, clip_len), detector, mc.batch_size)
                    windows = [(clips[v], s) for v, s in plan_longvideogan(lengths, n, clip_len, seed + SANITY_SEED)]
                fvd = _ranking(reference, windows, real, clip_len, detector, mc, seed, degrade=i == 0)
                for k, v in fvd.items():
                    values[pop].setdefault(k, []).append(v)
                if pop == "table1":
                    runs.append(metric_record(value=fvd["real"], clip_len=clip_len, protocol=mc.protocol,
                                              num_real=reference.num, num_fake=len(windows),
                                              seeds={"real": seed, "fake": seed + SANITY_SEED},
                                              detector=detector, resolution=size, dataset_id=dataset_fingerprint(real),
                                              model_id="real-resample"))
        for pop in populations:
            if values[pop]:
                result = verdict(_summary(values[pop]))
                results[f"{pop}/fvd{clip_len}"] = result | {"clips": len(populations[pop])}
                lines.append(ranking_line(f"{detector.name} ({pop} clips)", clip_len, result))
            else:
                log.warning("no %s clip has %d frames: no %s sanity ranking at that length", pop, clip_len, pop)
        write_fvd_record(path, dataset=dataset, method="real", runs=runs, model=model)
    for line in lines:
        log.info("%s", line)
    doc = {"dataset": dataset, "resolution": resolution, "detector": _describe(detector), "holdout": holdout,
           "degradations": list(DEGRADATIONS), "rankings": results, "summary": lines,
           "passed": bool(results) and all(r["passed"] for r in results.values())}
    write_json(out or Path(metrics_dir) / dataset / "sanity.json", doc)
    return doc


# ================================================================================================ one method
def _fvd_runs(samples: SampleSet, dataset_dir: str | Path, resolution: str, clip_len: int, mc: MetricsConfig,
              detector: FeatureDetector, cache_dir: Path, model_id: str, extra: dict[str, Any]
              ) -> list[dict[str, Any]]:
    size = parse_resolution(resolution)
    real = _real_dataset(dataset_dir, resolution, clip_len)
    runs = []
    for seed in mc.seeds:
        n = mc.num_clips(clip_len)
        real_stats = real_stats_cached(dataset_dir, *size, protocol=mc.protocol, clip_len=clip_len, num_clips=n,
                                       seed=seed, detector=detector, cache_dir=cache_dir,
                                       batch_size=mc.batch_size).stats
        fake = detector_stats(fake_clips(samples, n, clip_len, seed, size), detector, mc.batch_size)
        value = frechet_distance(fake.mu, fake.sigma, real_stats.mu, real_stats.sigma)
        log.info("FVD%d seed %d: %.2f (%d real, %d fake clips)", clip_len, seed, value, real_stats.num, fake.num)
        runs.append(metric_record(value=value, clip_len=clip_len, protocol=mc.protocol, num_real=real_stats.num,
                                  num_fake=fake.num, seeds={"real": seed, "fake": seed}, detector=detector,
                                  resolution=size, dataset_id=dataset_fingerprint(real), model_id=model_id,
                                  extra=extra))
    return runs


def _model_info(samples: SampleSet, method: str) -> dict[str, Any]:
    idx = samples.index
    info = {"method": method, "sample_set": str(samples.root), "sample_set_sha256": samples.sha256(),
            "models": idx.get("models"), "kind": idx.get("kind"), "num_videos": len(samples.paths),
            "num_frames": min(samples.lengths)}
    if "source" in idx:
        info["source"] = idx["source"]
    return info


def _unavailable(samples: SampleSet, dataset_dir: str | Path, resolution: str, clip_len: int) -> str | None:
    """Why FVD at ``clip_len`` cannot be computed (too-short generated or real videos), or None."""
    if max(samples.lengths) < clip_len:
        return f"not computed (generated videos have {max(samples.lengths)} < {clip_len} frames)"
    try:
        _real_dataset(dataset_dir, resolution, clip_len)
    except LvgError:
        return f"not computed (no real clip has {clip_len} frames)"
    return None


def run_method(dataset: str, method: str, dataset_dir: str | Path, resolution: str, samples_dir: str | Path,
               metrics_dir: str | Path, metrics: dict[str, Any], color_frames: int,
               detector: FeatureDetector | None = None, cache_dir: str | Path | None = None,
               world_detector: str | Path | None = None) -> list[Path]:
    """FVD16, FVD128 and colour-similarity records of one sample set; returns the three record paths.
    ``metrics`` is the ``metrics`` section, ``color_frames`` the sample sets' length (as for
    :func:`run_real`). Real statistics come from ``cache_dir`` (default ``<metrics_dir>/cache/<dataset>``,
    where :func:`run_real` puts them)."""
    mc = MetricsConfig.from_section(metrics)
    samples = SampleSet.open(samples_dir)
    detector = _setup(mc, detector, world_detector)
    size = parse_resolution(resolution)
    first = samples.read(0, 0, 1)
    native = f"{first.shape[1]}x{first.shape[2]}"
    extra: dict[str, Any] = {"sample_resolution": native}
    if native != resolution:
        h, w = first.shape[1:3]
        x0, y0, x1, y1 = crop_box(h, w, *size)
        crop = f"centre-cropped to {y1 - y0}x{x1 - x0} (the target aspect) and " if (y1 - y0, x1 - x0) != (h, w) else ""
        extra["resized"] = f"generated {native} frames {crop}resized to {resolution} (antialiased bilinear)"
    model = _model_info(samples, method)
    model_id = hashlib.sha256(str(model.get("models")).encode()).hexdigest()[:16]
    outputs = []
    for clip_len in FVD_LENGTHS:
        path = record_path(metrics_dir, dataset, method, f"fvd{clip_len}")
        reason = _unavailable(samples, dataset_dir, resolution, clip_len)
        if reason is not None:
            write_fvd_record(path, dataset=dataset, method=method, model=model, metric=f"fvd{clip_len}",
                             resolution=resolution, status=reason)
        else:
            runs = _fvd_runs(samples, dataset_dir, resolution, clip_len, mc, detector,
                             Path(cache_dir) if cache_dir else _cache_dir(metrics_dir, dataset), model_id, extra)
            write_fvd_record(path, dataset=dataset, method=method, runs=runs, model=model)
        outputs.append(path)
    color_len = min(color_length(color_frames, dataset_dir, resolution), min(samples.lengths))
    clips = fake_clips(samples, mc.color_clips, color_len, mc.color_seed, size)
    change = FrameChange()
    mean, std, n = similarity_curve(change.watch(_as_signed(clips)))
    path = record_path(metrics_dir, dataset, method, COLOR_METRIC)
    write_color_record(path, dataset=dataset, method=method, resolution=resolution, mean=mean.tolist(),
                       std=std.tolist(), num_clips=n, seed=mc.color_seed, clip_len=color_len - 1,
                       extra={"model": model, "frame_change": change.value, **extra})
    outputs.append(path)
    long = samples.long_videos(mc.semantic_min_frames)
    readouts = ((detector.readout(as_uint8(samples.read(v, 0, samples.lengths[v]))) for v in long)
                if hasattr(detector, "readout") else ())
    why = (None if long and hasattr(detector, "readout") else f"not computed ({detector.name} has no world readout)"
           if long else f"not computed (no video has {mc.semantic_min_frames} frames)")
    path = record_path(metrics_dir, dataset, method, SEMANTIC_METRIC)
    write_semantic_record(path, dataset=dataset, method=method, resolution=resolution,
                          summary=change_summary(readouts if why is None else (), left_out=_left_out(detector)),
                          detector=_describe(detector),
                          extra={"model": model, "status": why or "computed"})
    outputs.append(path)
    return outputs


# ================================================================================================ LR stage
def run_lr_stage(dataset: str, dataset_dir: str | Path, lr_resolution: str, samples_dir: str | Path,
                 metrics_dir: str | Path, metrics: dict[str, Any], color_frames: int) -> list[Path]:
    """Colour similarity and frame change of the LR stage alone (``ours_lr``: the LR model's videos before
    super-resolution) and of the real clips at the LR size (``real_lr``), at ``lr_resolution``: whether the
    LR model is temporally coherent before the SR network sees it. Returns the two record paths."""
    mc = MetricsConfig.from_section(metrics)
    samples = SampleSet.open(samples_dir)
    length = min(color_length(color_frames, dataset_dir, lr_resolution), min(samples.lengths))
    real = _real_dataset(dataset_dir, lr_resolution, length)
    sets = {"real_lr": (iter(sample_real(real, mc.protocol, mc.color_clips, length, mc.color_seed)),
                        {"protocol": mc.protocol, "dataset_id": dataset_fingerprint(real)}),
            "ours_lr": (fake_clips(samples, mc.color_clips, length, mc.color_seed, parse_resolution(lr_resolution)),
                        {"model": _model_info(samples, "ours_lr")})}
    out = []
    for method, (clips, extra) in sets.items():
        change = FrameChange()
        mean, std, n = similarity_curve(change.watch(_as_signed(clips)))
        out.append(write_color_record(record_path(metrics_dir, dataset, method, COLOR_METRIC), dataset=dataset,
                                      method=method, resolution=lr_resolution, mean=mean.tolist(),
                                      std=std.tolist(), num_clips=n, seed=mc.color_seed, clip_len=length - 1,
                                      extra={**extra, "frame_change": change.value}))
    return [record_path(metrics_dir, dataset, m, COLOR_METRIC) for m in sets]


# ================================================================================================ CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", type=L.name_arg("dataset"),
                   help="dataset name (data/processed/<dataset>)")
    p.add_argument("--method", default="real", type=L.name_arg("method"), help="method key; 'real' computes the real statistics")
    p.add_argument("--samples", help="sample-set folder (with index.json); needed unless --method real")
    p.add_argument("--resolution", help="HxW of the real frames compared against (default: the HR resolution)")
    p.add_argument("--metrics-dir", default=L.METRICS_ROOT,
                   help="where records go (use another folder to compare settings without touching Table 1's)")
    p.add_argument("--protocol", choices=PROTOCOLS, help="override metrics.protocol (e.g. styleganv, to show "
                   "how the real-clip rule moves FVD)")


def run_cli(args: argparse.Namespace) -> int:
    cfg = load_config(*args.configfile)
    if args.protocol:
        cfg["metrics"]["protocol"] = args.protocol
    resolution = args.resolution or evaluation_resolution(cfg)
    dataset_dir = L.path(L.PROCESSED_DIR, dataset=args.dataset)
    metrics, color_frames = cfg["metrics"], cfg["samples"]["num_frames"]
    if args.method == "real":
        run_real(args.dataset, dataset_dir, resolution, args.metrics_dir, metrics, color_frames)
    else:
        if not args.samples:
            raise LvgError("--samples is needed for a generated method")
        run_method(args.dataset, args.method, dataset_dir, resolution, args.samples, args.metrics_dir, metrics,
                   color_frames)
    return 0
