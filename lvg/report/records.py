"""Metric records: the files the metrics phase writes and the reporting phase reads.

Layout: one JSON file per dataset x method x metric, ``<metrics_dir>/<dataset>/<method>/<metric>.json`` with
``<metric>`` one of ``fvd16``, ``fvd128`` (any ``fvd<N>``) or ``color_similarity``. The directory names must
agree with the ``dataset`` and ``method`` fields inside. Other files under ``metrics_dir`` (caches, logs) are
ignored by :func:`load_records`. A dataset directory holds one resolution: the paper's SkyTimelapse 128x128
comparison (trained separately at that size) uses its own dataset key, e.g. ``sky_timelapse128``; the tables
put it in their ``sky128`` part by its resolution.

FVD record (computed)::

    {"metric": "fvd16", "dataset": str, "method": str, "resolution": "256x256", "status": "computed",
     "runs": [lvg.metrics.fvd.metric_record(...) dicts, one per seed],
     "num_runs": n, "mean": float, "std": float | null, "std_ddof": 1,
     "num_real": int, "num_fake": int, "clip_len": int, "protocol": str,
     "detector": {"name": str, "sha256": str | null, "comparable": bool, ...optional "weights_fingerprint",
                  "warning"},
     "model": {...free-form: checkpoint path / hash, training steps...},
     "warnings": [str, ...]}

``mean`` is the mean of the runs' values and ``std`` their SAMPLE standard deviation (divided by n - 1),
``null`` when n = 1; the table says n. ``num_real`` / ``num_fake`` / ``clip_len`` / ``protocol`` /
``resolution`` / the detector must be the same in every run.

FVD record (not computed)::

    {"metric": "fvd16", "dataset": str, "method": str, "resolution": str | null,
     "status": "not computed (weights absent)", ...anything else optional}

Colour-similarity record (paper Fig. 5; spec/evaluation.md §4)::

    {"metric": "color_similarity", "dataset": str, "method": str, "resolution": "256x256",
     "num_clips": int, "clip_len": T, "seed": int,
     "mean": [T + 1 floats, t = 0..T], "std": [T + 1 floats or null, t = 0..T]}

``clip_len`` is the largest frame separation T (128 in the paper, i.e. clips of T + 1 = 129 frames);
``mean[0]`` is 1 and ``std[0]`` is 0 (the reference's prepended point). ``std`` is the unbiased (n - 1) std
of :func:`lvg.metrics.color_similarity.similarity_curve`; entries are ``null`` when it is undefined
(a single clip). Real data uses method ``"real"``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lvg import layout
from lvg.errors import LvgError
from lvg.io import write_json

NOT_COMPUTED = "not computed (weights absent)"
COLOR_METRIC = "color_similarity"
SEMANTIC_METRIC = "semantic_change"
SEMANTIC_FIELDS = ("biome_changes_per_min", "hour_drift_per_1k")
RANDOM_DETECTOR = "i3d-random"  # lvg.metrics.i3d.RANDOM_NAME, repeated to keep torch out of reporting
NOT_COMPARABLE = "not comparable to published FVD"
_FVD_RE = re.compile(r"^fvd(\d+)$")
_RES_RE = re.compile(r"^\d+x\d+$")


# ================================================================================================ methods
@dataclass(frozen=True)
class MethodInfo:
    """How a method key is displayed: a name, a group (``ours``, ``released``, ``ours_untrained``,
    ``ablation_seq``, ``ablation_fp``, ``diagnostic``, ``baseline``, ``real`` or ``other``) and the work it
    comes from."""

    key: str
    name: str
    group: str
    citation: str = ""
    note: str = ""


_LITE = "compact clean-room re-implementation trained by lvg on the same data (not the authors' model)"
METHODS: dict[str, MethodInfo] = {m.key: m for m in [
    MethodInfo("ours", "LongVideoGAN (ours)", "ours", "Brooks et al. 2022", "lvg re-implementation"),
    MethodInfo("released", "LongVideoGAN (released)", "released", "Brooks et al. 2022",
               "the authors' published generators, converted by lvg.reference (nothing from the pickles run)"),
    MethodInfo("ours_untrained", "Ours, untrained (control)", "ours_untrained", "",
               "the same network before training: shows that the table measures something"),
    MethodInfo("ours_sr_real_lr", "Ours, SR on real LR", "diagnostic", "Brooks et al. 2022, Fig. 6(c)",
               "the super-resolution network applied to real low-resolution videos"),
    MethodInfo("styleganv", "StyleGAN-V (lite)", "baseline", "Skorokhodov et al. 2022", _LITE),
    MethodInfo("digan", "DIGAN (lite)", "baseline", "Yu et al. 2022", _LITE),
    MethodInfo("mocoganhd", "MoCoGAN-HD (lite)", "baseline", "Tian et al. 2021", _LITE),
    MethodInfo("tats", "TATS (lite)", "baseline", "Ge et al. 2022", _LITE),
    MethodInfo("ours_lr", "Ours, LR stage", "diagnostic", "",
               "the LR model's videos before super-resolution, at the LR size"),
    MethodInfo("real", "Real videos", "real", "",
               "another sample of the training clips (FVD: the floor at this many clips)"),
    MethodInfo("real_lr", "Real videos, LR size", "diagnostic", "", "the training clips at the LR size"),
]}
GROUP_ORDER = ("real", "ours", "released", "ours_untrained", "ablation_seq", "ablation_fp", "diagnostic", "baseline", "other")
_SEQ_RE = re.compile(r"^ours_seq(\d+)$")
_FP_RE = re.compile(r"^ours_fp(\d+)-(\d+)$")


def method_info(key: str) -> MethodInfo:
    """Display information of a method key; ablation keys are parsed, unknown keys are shown as they are."""
    if key in METHODS:
        return METHODS[key]
    if m := _SEQ_RE.match(key):
        return MethodInfo(key, f"Ours, trained on {int(m[1])}-frame sequences", "ablation_seq",
                          "Brooks et al. 2022, Table 2(a)")
    if m := _FP_RE.match(key):
        return MethodInfo(key, f"Ours, filter footprint {int(m[1])}-{int(m[2])}", "ablation_fp",
                          "Brooks et al. 2022, Table 2(b)")
    return MethodInfo(key, key, "other")


def method_sort_key(key: str) -> tuple:
    """Order: groups as in GROUP_ORDER, then METHODS order, then ablation parameter, then name."""
    info = method_info(key)
    known = list(METHODS)
    params: tuple[int, ...] = ()
    if m := _SEQ_RE.match(key):
        params = (int(m[1]),)
    elif m := _FP_RE.match(key):
        params = (int(m[1]), int(m[2]))
    return (GROUP_ORDER.index(info.group), known.index(key) if key in known else len(known), params, key)


def ablation_setting(key: str) -> str:
    """The ablated setting of a Table 2 method key ('' for others)."""
    if m := _SEQ_RE.match(key):
        return f"{int(m[1])} frames"
    if m := _FP_RE.match(key):
        return f"{int(m[1])}-{int(m[2])}"
    return ""


# ================================================================================================ paths
def record_path(metrics_dir: str | Path, dataset: str, method: str, metric: str) -> Path:
    """``<metrics_dir>/<dataset>/<method>/<metric>.json`` (:data:`lvg.layout.RECORD`)."""
    return Path(layout.record(dataset, method, metric, metrics_dir))


def is_fvd_metric(metric: Any) -> bool:
    return isinstance(metric, str) and bool(_FVD_RE.match(metric))


# ================================================================================================ helpers
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _float_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def detector_identity(detector: Mapping[str, Any]) -> tuple:
    """What makes two FVD numbers comparable: the detector's name, weights sha256 and (for the random
    stand-in) its weights fingerprint."""
    return (detector.get("name"), detector.get("sha256"), detector.get("weights_fingerprint"))


def detector_label(detector: Mapping[str, Any]) -> str:
    sha = detector.get("sha256")
    return f"{detector.get('name')} (sha256 {sha[:12] if sha else 'none'})"


def _run_detector(run: Mapping[str, Any]) -> dict[str, Any]:
    desc = run.get("detector") if isinstance(run.get("detector"), Mapping) else {}
    out: dict[str, Any] = {"name": run.get("detector_name", desc.get("name")),
                           "sha256": run.get("detector_sha256", desc.get("sha256")),
                           "comparable": bool(run.get("comparable_to_published",
                                                      desc.get("comparable_to_published", False)))}
    if desc.get("weights_fingerprint") is not None:
        out["weights_fingerprint"] = desc["weights_fingerprint"]
    if desc.get("warning"):
        out["warning"] = desc["warning"]
    elif out["name"] == RANDOM_DETECTOR:
        out["warning"] = f"{RANDOM_DETECTOR} detector: {NOT_COMPARABLE}"
    return out


# ================================================================================================ writers
def fvd_summary(runs: Sequence[Mapping[str, Any]], *, where: str = "runs") -> dict[str, Any]:
    """The aggregate fields of an FVD record from its per-seed runs (all must agree on the protocol)."""
    if not runs:
        raise LvgError(f"{where}: an FVD record needs at least one run")
    shared = ("metric", "clip_len", "protocol", "num_real", "num_fake", "resolution")
    first = runs[0]
    for key in shared:
        if key not in first:
            raise LvgError(f"{where}: run 0 has no {key!r}")
    det0 = _run_detector(first)
    for i, run in enumerate(runs):
        for key in shared:
            if run.get(key) != first[key]:
                raise LvgError(f"{where}: run {i} has {key}={run.get(key)!r}, run 0 has {first[key]!r}")
        if detector_identity(_run_detector(run)) != detector_identity(det0):
            raise LvgError(f"{where}: run {i} used detector {detector_label(_run_detector(run))}, run 0 used "
                           f"{detector_label(det0)}")
    values = [r.get("value") for r in runs]
    warnings_ = sorted({w for r in runs for w in r.get("warnings", [])})
    out: dict[str, Any] = {key: first[key] for key in shared}
    out.update(detector=det0, num_runs=len(runs), std_ddof=1, warnings=warnings_)
    if any(v is None for v in values):
        out.update(status=next((r.get("status") for r in runs if r.get("value") is None), NOT_COMPUTED)
                   or NOT_COMPUTED, mean=None, std=None)
        return out
    for i, v in enumerate(values):
        if not _finite(v):
            raise LvgError(f"{where}: run {i} has a non-finite value {v!r}")
    arr = np.asarray(values, dtype=np.float64)
    out.update(status="computed", mean=float(arr.mean()),
               std=float(arr.std(ddof=1)) if arr.size > 1 else None)
    return out


def write_fvd_record(path: str | Path, *, dataset: str, method: str, runs: Sequence[Mapping[str, Any]] = (),
                     model: Mapping[str, Any] | None = None, metric: str | None = None,
                     resolution: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Write one FVD record (see module doc) from per-seed :func:`lvg.metrics.fvd.metric_record` dicts.

    With no runs (or any run whose value is None) the record says ``status`` (default "not computed
    (weights absent)"); then ``metric`` must be given. Returns the record written.
    """
    path = Path(path)
    record: dict[str, Any] = {"dataset": dataset, "method": method, "model": dict(model or {})}
    if runs:
        record.update(fvd_summary(runs, where=str(path)))
        record["runs"] = [dict(r) for r in runs]
        if metric is not None and metric != record["metric"]:
            raise LvgError(f"{path}: metric {metric!r} given but the runs are {record['metric']!r}")
        if resolution is not None and resolution != record["resolution"]:
            raise LvgError(f"{path}: resolution {resolution!r} given but the runs are {record['resolution']!r}")
        if status is not None and record["status"] == "computed":
            record["status"] = status
    else:
        if metric is None:
            raise LvgError(f"{path}: an FVD record without runs needs the metric name")
        record.update(metric=metric, resolution=resolution, status=status or NOT_COMPUTED, runs=[])
    validate_record(record, path)
    write_json(path, record)
    return record


def write_color_record(path: str | Path, *, dataset: str, method: str, resolution: str,
                       mean: Sequence[float], std: Sequence[float | None], num_clips: int, seed: int,
                       clip_len: int | None = None, prepend_t0: bool = False,
                       extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write one colour-similarity record. ``mean``/``std`` start at t = 0 (as ``similarity_curve`` returns
    them for clips of T + 1 frames); with ``prepend_t0`` they start at t = 1 and (1, 0) is prepended.
    Non-finite std entries (one clip) are stored as null. Returns the record written."""
    path = Path(path)
    m = [float(x) for x in np.asarray(mean, dtype=np.float64).ravel()]
    s = [_float_or_none(x) for x in (np.asarray([np.nan if v is None else v for v in std],
                                                dtype=np.float64).ravel())]
    if prepend_t0:
        m, s = [1.0, *m], [0.0, *s]
    record: dict[str, Any] = {"metric": COLOR_METRIC, "dataset": dataset, "method": method,
                              "resolution": resolution, "num_clips": int(num_clips),
                              "clip_len": int(clip_len) if clip_len is not None else len(m) - 1,
                              "seed": int(seed), "mean": m, "std": s}
    if extra:
        record.update({k: v for k, v in extra.items() if k not in record})
    validate_record(record, path)
    write_json(path, record)
    return record


def write_semantic_record(path: str | Path, *, dataset: str, method: str, resolution: str, summary: Mapping[str, Any],
                          detector: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write one semantic-change record (:func:`lvg.metrics.semantic.change_summary` of long videos, read
    out by ``detector``). Returns the record written."""
    record: dict[str, Any] = {"metric": SEMANTIC_METRIC, "dataset": dataset, "method": method,
                              "resolution": resolution, **dict(summary), "detector": dict(detector)}
    if extra:
        record.update({k: v for k, v in extra.items() if k not in record})
    validate_record(record, path)
    write_json(path, record)
    return record


# ================================================================================================ validation
def _need(record: Mapping[str, Any], keys: Sequence[str], path: Path) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise LvgError(f"{path}: malformed {record.get('metric', 'metric')} record: missing field(s) "
                       f"{', '.join(missing)}")


def _bad(path: Path, what: str) -> LvgError:
    return LvgError(f"{path}: malformed metric record: {what}")


def validate_record(record: Any, path: str | Path) -> None:
    """Raise :class:`LvgError` naming ``path`` when ``record`` is not a valid FVD or colour record."""
    path = Path(path)
    if not isinstance(record, Mapping):
        raise _bad(path, f"expected a JSON object, got {type(record).__name__}")
    _need(record, ("metric", "dataset", "method"), path)
    for key in ("dataset", "method"):
        if not isinstance(record[key], str) or not record[key]:
            raise _bad(path, f"{key} must be a non-empty string, got {record[key]!r}")
    metric = record["metric"]
    if metric == COLOR_METRIC:
        _validate_color(record, path)
    elif is_fvd_metric(metric):
        _validate_fvd(record, path)
    elif metric == SEMANTIC_METRIC:
        _need(record, ("num_videos", "drift", "detector", *SEMANTIC_FIELDS), path)
        for key in SEMANTIC_FIELDS:
            if record[key] is not None and not _finite(record[key]):
                raise _bad(path, f"{key} must be a finite number or null, got {record[key]!r}")
    else:
        raise _bad(path, f"unknown metric {metric!r} (expected fvd<N>, {COLOR_METRIC} or {SEMANTIC_METRIC})")


def _check_resolution(value: Any, path: Path, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not _RES_RE.match(value):
        raise _bad(path, f"resolution must look like '256x256', got {value!r}")


def _validate_fvd(record: Mapping[str, Any], path: Path) -> None:
    _need(record, ("status",), path)
    status = record["status"]
    if not isinstance(status, str):
        raise _bad(path, f"status must be a string, got {status!r}")
    if status.startswith("not computed"):
        _check_resolution(record.get("resolution"), path, optional=True)
        return
    _need(record, ("resolution", "runs", "num_runs", "mean", "std", "num_real", "num_fake", "clip_len",
                   "protocol", "detector"), path)
    _check_resolution(record["resolution"], path)
    det = record["detector"]
    if not isinstance(det, Mapping):
        raise _bad(path, "detector must be an object with name, sha256, comparable")
    missing = [k for k in ("name", "sha256", "comparable") if k not in det]
    if missing:
        raise LvgError(f"{path}: malformed {record['metric']} record: missing field(s) "
                       f"{', '.join('detector.' + k for k in missing)}")
    runs = record["runs"]
    if not isinstance(runs, list) or not runs:
        raise _bad(path, "runs must be a non-empty list for a computed record")
    if record["num_runs"] != len(runs):
        raise _bad(path, f"num_runs is {record['num_runs']!r} but there are {len(runs)} runs")
    if not _finite(record["mean"]):
        raise _bad(path, f"mean must be a finite number, got {record['mean']!r}")
    if record["std"] is not None and not _finite(record["std"]):
        raise _bad(path, f"std must be a finite number or null, got {record['std']!r}")
    if len(runs) > 1 and record["std"] is None:
        raise _bad(path, f"std is null with {len(runs)} runs")
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping) or not _finite(run.get("value")):
            raise _bad(path, f"run {i} has no finite value")
    values = np.array([r["value"] for r in runs], dtype=np.float64)
    if not math.isclose(values.mean(), record["mean"], rel_tol=1e-9, abs_tol=1e-12):
        raise _bad(path, f"mean {record['mean']!r} is not the mean of the runs ({values.mean()!r})")
    for key in ("num_real", "num_fake", "clip_len"):
        if not isinstance(record[key], int) or isinstance(record[key], bool) or record[key] < 1:
            raise _bad(path, f"{key} must be a positive integer, got {record[key]!r}")


def _validate_color(record: Mapping[str, Any], path: Path) -> None:
    _need(record, ("resolution", "num_clips", "clip_len", "seed", "mean", "std"), path)
    _check_resolution(record["resolution"], path)
    t = record["clip_len"]
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise _bad(path, f"clip_len must be a positive integer, got {t!r}")
    if not isinstance(record["num_clips"], int) or record["num_clips"] < 1:
        raise _bad(path, f"num_clips must be a positive integer, got {record['num_clips']!r}")
    mean, std = record["mean"], record["std"]
    for name, arr in (("mean", mean), ("std", std)):
        if not isinstance(arr, list) or len(arr) != t + 1:
            got = len(arr) if isinstance(arr, list) else type(arr).__name__
            raise _bad(path, f"{name} must be a list of clip_len + 1 = {t + 1} values (t = 0..{t}), got {got}")
    if not all(_finite(x) for x in mean):
        raise _bad(path, "mean has a non-numeric or non-finite entry")
    if not all(x is None or _finite(x) for x in std):
        raise _bad(path, "std has a non-numeric entry")
    if not math.isclose(mean[0], 1.0, abs_tol=1e-6) or (std[0] is not None and abs(std[0]) > 1e-6):
        raise _bad(path, f"the t = 0 point must be mean 1, std 0 (got {mean[0]!r}, {std[0]!r})")


# ================================================================================================ loading
RECORD_COLUMNS = ["path", "kind", "metric", "dataset", "method", "method_name", "group", "resolution", "status",
                  "mean", "std", "num_runs", "num_real", "num_fake", "num_clips", "clip_len", "protocol",
                  "detector", "detector_sha256", "comparable", "detector_key", "seeds", "warnings", "record"]


def read_record(path: str | Path) -> dict[str, Any]:
    """Read and validate one record file; :class:`LvgError` names the file on any problem."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except json.JSONDecodeError as e:
        raise LvgError(f"{path}: malformed JSON: {e}") from None
    except OSError as e:
        raise LvgError(f"{path}: cannot read: {e}") from None
    validate_record(record, path)
    return record


def _seeds_text(runs: Sequence[Mapping[str, Any]]) -> str:
    per_key: dict[str, list] = {}
    for run in runs:
        seeds = run.get("seeds")
        if isinstance(seeds, Mapping):
            for k, v in seeds.items():
                per_key.setdefault(str(k), [])
                if v not in per_key[str(k)]:
                    per_key[str(k)].append(v)
        elif seeds is not None:
            per_key.setdefault("seed", []).append(seeds)
    return "; ".join(f"{k} {','.join(str(v) for v in vals)}" for k, vals in sorted(per_key.items()))


def record_row(record: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """One :func:`load_records` row of a validated record."""
    info = method_info(record["method"])
    row: dict[str, Any] = dict.fromkeys(RECORD_COLUMNS)
    row.update(path=str(path), metric=record["metric"], dataset=record["dataset"], method=record["method"],
               method_name=info.name, group=info.group, resolution=record.get("resolution"),
               clip_len=record.get("clip_len"), record=dict(record))
    if record["metric"] == COLOR_METRIC:
        row.update(kind="color", status="computed", mean=list(record["mean"]), std=list(record["std"]),
                   num_clips=record["num_clips"], seeds=str(record["seed"]))
        return row
    if record["metric"] == SEMANTIC_METRIC:
        det = record.get("detector") or {}
        row.update(kind="semantic", status="computed", num_clips=record["num_videos"], detector=det.get("name"),
                   detector_sha256=det.get("sha256"))
        return row
    det = record.get("detector") or {}
    runs = record.get("runs") or []
    row.update(kind="fvd", status=record["status"], mean=record.get("mean"), std=record.get("std"),
               num_runs=record.get("num_runs", len(runs)), num_real=record.get("num_real"),
               num_fake=record.get("num_fake"), protocol=record.get("protocol"), detector=det.get("name"),
               detector_sha256=det.get("sha256"), comparable=det.get("comparable"),
               detector_key=detector_identity(det) if det else None, seeds=_seeds_text(runs),
               warnings=list(record.get("warnings", [])))
    return row


def load_records(metrics_dir: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Every record under ``metrics_dir`` (``<dataset>/<method>/<metric>.json``), one row each (columns
    RECORD_COLUMNS; ``record`` holds the full dict). Rows sorted by dataset, method order, metric.
    Several directories (e.g. ``results/metrics`` and ``results/extra/metrics``) are read as one."""
    if not isinstance(metrics_dir, (str, Path)):
        frames = [load_records(d) for d in metrics_dir]
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RECORD_COLUMNS)
        return _sorted(df.astype(object))
    metrics_dir = Path(metrics_dir)
    if not metrics_dir.is_dir():
        raise LvgError(f"{metrics_dir}: metrics directory does not exist")
    rows = []
    for path in sorted(metrics_dir.glob("*/*/*.json")):
        metric = path.stem
        if metric not in (COLOR_METRIC, SEMANTIC_METRIC) and not is_fvd_metric(metric):
            continue
        record = read_record(path)
        dataset, method = path.parent.parent.name, path.parent.name
        if (record["dataset"], record["method"], record["metric"]) != (dataset, method, metric):
            raise LvgError(f"{path}: the record says dataset={record['dataset']!r}, method={record['method']!r}, "
                           f"metric={record['metric']!r}, its path says {dataset!r}, {method!r}, {metric!r}")
        rows.append(record_row(record, path))
    return _sorted(pd.DataFrame(rows, columns=RECORD_COLUMNS, dtype=object))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    if len(df):
        order = sorted(range(len(df)), key=lambda i: (df["dataset"].iat[i], method_sort_key(df["method"].iat[i]),
                                                      df["metric"].iat[i]))
        df = df.iloc[order].reset_index(drop=True)
    return df


def as_frame(records: Any) -> pd.DataFrame:
    """Accept a :func:`load_records` DataFrame, a metrics directory, or a list of record dicts."""
    if isinstance(records, pd.DataFrame):
        return records
    if isinstance(records, (str, Path)):
        return load_records(records)
    rows = []
    for i, rec in enumerate(records):
        validate_record(rec, f"<record {i}>")
        rows.append(record_row(rec, f"<record {i}>"))
    return pd.DataFrame(rows, columns=RECORD_COLUMNS, dtype=object)
