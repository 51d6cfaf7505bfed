"""``lvg audit``: trace every training clip back to its source and verify every checksum on the way.

The chain for one clip: processed shard (sha256 in the resolution's index.json) -> clip table row (frames,
keep-interval, cut rule) -> manifest entry (licence, URL) -> provenance record (uploader, download time,
tool versions, sha256 of the raw file) -> the raw file on disk. Any missing link or altered byte is an
error naming the file; all problems are collected before failing so one run shows everything.

Leftovers of interrupted runs (hidden staging folders and temporary files, :func:`lvg.io.is_staging_name`)
are not part of any chain: the audit ignores them and reports them (:func:`leftovers`); the next run of
their phase removes them. ``decode=True`` (``lvg audit --decode``) also decodes every stored frame, so a
corrupt JPEG inside a shard with a valid checksum is named (shard, clip, frame) before training meets it.

Released models (config ``released``) have a chain too (:func:`audit_released`): the configured reference
pickle (re-hashed: sha256 as recorded at conversion) -> the provenance in the converted ``G_ema.json``
(source file, size, sha256, reference classes) -> the converted weights (their model id recomputed).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pandas as pd

from lvg import layout as L
from lvg.data.manifest import load_dataset_manifest
from lvg.data.shards import FrameDecodeError, ShardReader
from lvg.errors import LvgError
from lvg.io import atomic_open, is_staging_name, sha256_file
from lvg.plan import RELEASED_STAGES

log = logging.getLogger(__name__)
MAX_DECODE_PROBLEMS = 20  # per resolution: the rest is counted


class AuditError(LvgError):
    """One or more links of the provenance chain are missing or altered."""

    def __init__(self, dataset: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"audit of dataset {dataset!r} failed ({len(problems)} problem(s)):\n{lines}")


def _load_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        problems.append(f"{path}: missing")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        problems.append(f"{path}: not valid JSON ({e})")
        return None


def _check_file(path: Path, expected: str | None, what: str, problems: list[str]) -> str | None:
    """sha256 of ``path`` if it exists and matches ``expected``; else record the problem."""
    if not path.is_file():
        problems.append(f"{path}: missing ({what})")
        return None
    digest = sha256_file(path)
    if expected is not None and digest != expected:
        problems.append(f"{path}: altered ({what}: sha256 {digest[:12]}… but the record says {expected[:12]}…)")
    return digest


def _audit_sources(dataset: str, root: Path, manifest, problems: list[str]) -> dict[str, dict]:
    records = {}
    for sid in manifest.sources:
        prov_path = L.path(L.RAW_PROVENANCE, root, dataset=dataset, source=sid)
        prov = _load_json(prov_path, problems)
        if prov is None:
            continue
        raw = L.path(L.RAW_DIR, root, dataset=dataset) / prov.get("raw_file", f"{sid}.mp4")
        _check_file(raw, prov.get("sha256"), f"raw video of source {sid!r}", problems)
        records[sid] = prov
    return records


def leftovers(dataset: str, root: str | Path = ".") -> list[Path]:
    """Staging folders and temporary files that interrupted runs left in ``dataset``'s data folders."""
    found = []
    for template in (L.RAW_DIR, L.SCENES_DIR, L.PROCESSED_DIR):
        folder = L.path(template, root, dataset=dataset)
        for d in (folder, *(p for p in sorted(folder.glob("*")) if p.is_dir() and not p.name.startswith("."))):
            if d.is_dir():
                found += [p for p in sorted(d.iterdir()) if is_staging_name(p.name)]
    return found


def _decode_all(res_dir: Path, problems: list[str]) -> int:
    """Decode every frame of one resolution folder; record each that does not decode. Returns the count."""
    try:
        reader = ShardReader(res_dir)
    except LvgError as e:
        problems.append(str(e))
        return 0
    bad = 0
    for c in range(len(reader)):
        for k in range(reader.num_frames(c)):
            try:
                reader.decode(c, k)
            except FrameDecodeError as e:
                bad += 1
                if bad <= MAX_DECODE_PROBLEMS:
                    problems.append(str(e))
            except LvgError as e:
                problems.append(str(e))
    reader.close()
    if bad > MAX_DECODE_PROBLEMS:
        problems.append(f"{res_dir}: {bad - MAX_DECODE_PROBLEMS} more frame(s) do not decode")
    return bad


def _audit_shards(dataset: str, root: Path, clip_ids: set[str], problems: list[str],
                  decode: bool = False) -> dict[str, dict]:
    """Verify every resolution's shards (and with ``decode`` every frame); return clip_id -> {resolution:
    partition file}. Only ``HHHHxWWWW`` folders are resolutions: staging leftovers are not."""
    where: dict[str, dict] = {}
    processed = L.path(L.PROCESSED_DIR, root, dataset=dataset)
    res_dirs = sorted(p for p in processed.glob("*") if p.is_dir() and re.fullmatch(L.NAMES["res"], p.name))
    if not res_dirs:
        problems.append(f"{processed}: no processed resolution found")
    for res_dir in res_dirs:
        index = _load_json(res_dir / "index.json", problems)
        if index is None:
            continue
        for part in index.get("partitions", []):
            _check_file(res_dir / part["file"], part.get("sha256"), "frame shard", problems)
        indexed = {c["clip_id"]: c for c in index.get("clips", [])}
        if set(indexed) != clip_ids:
            missing, extra = sorted(clip_ids - set(indexed)), sorted(set(indexed) - clip_ids)
            problems.append(f"{res_dir / 'index.json'}: clip list differs from the clip table "
                            f"(missing {missing[:3]}, extra {extra[:3]})")
        for cid, c in indexed.items():
            where.setdefault(cid, {})[res_dir.name] = c.get("partition")
        if decode:
            _decode_all(res_dir, problems)
    return where


def audit_dataset(dataset: str, root: str | Path = ".", decode: bool = False) -> pd.DataFrame:
    """Verify the whole chain of ``dataset``; return one row per clip; raise AuditError on any problem.

    ``table.attrs["leftovers"]`` lists what interrupted runs left (ignored, logged as a warning).
    """
    root = Path(root)
    problems: list[str] = []
    manifest = load_dataset_manifest(dataset, root)
    left = leftovers(dataset, root)
    if left:
        log.warning("%s: ignoring %d leftover(s) of interrupted runs (the next run of their phase removes them): "
                    "%s", dataset, len(left), ", ".join(str(p) for p in left))
    records = _audit_sources(dataset, root, manifest, problems)
    clips_csv = L.path(L.CLIPS, root, dataset=dataset)
    if not clips_csv.is_file():
        raise AuditError(dataset, problems + [f"{clips_csv}: missing (run the clips phase)"])
    clips = pd.read_csv(clips_csv)
    shards = _audit_shards(dataset, root, set(clips["clip_id"]), problems, decode)
    rows = []
    for clip in clips.to_dict("records"):
        src = manifest.sources.get(clip["source"])
        if src is None:
            problems.append(f"{clips_csv}: clip {clip['clip_id']!r} names source {clip['source']!r}, "
                            "which is not in the manifest")
            continue
        if src.keep and clip["interval"] not in {iv.label for iv in src.keep}:
            problems.append(f"{clips_csv}: clip {clip['clip_id']!r} has interval {clip['interval']!r}, "
                            "which is not a keep-interval of its manifest entry")
        prov = records.get(src.id, {})
        rows.append({
            **{k: clip[k] for k in ("clip_id", "source", "interval", "start_frame", "end_frame", "num_frames")},
            "kind": src.kind, "url": prov.get("url") or src.url, "uploader": prov.get("uploader"),
            "licence": src.licence, "upload_date": prov.get("upload_date"),
            "download_time": prov.get("download_time"), "tools": json.dumps(prov.get("tools", {}), sort_keys=True),
            "raw_file": prov.get("raw_file"), "raw_sha256": prov.get("sha256"),
            "shards": json.dumps(shards.get(clip["clip_id"], {}), sort_keys=True),
        })
    if problems:
        raise AuditError(dataset, problems)
    table = pd.DataFrame(rows)
    table.attrs["leftovers"] = [str(p) for p in left]
    return table


def run_audit(dataset: str, root: str | Path = ".", out_csv: str | Path | None = None,
              decode: bool = False) -> pd.DataFrame:
    """Phase entry point (Snakemake rule ``preprocess_audit`` and ``lvg audit``)."""
    table = audit_dataset(dataset, root, decode)
    if out_csv is not None:
        with atomic_open(out_csv, "w", newline="") as f:
            table.to_csv(f, index=False)
    return table


# ================================================================================================ released models
RELEASED_COLUMNS = ["dataset", "stage", "source_file", "source_path", "source_sha256", "source_bytes",
                    "reference_class", "module_src_sha256", "model_id", "num_params", "converted_by", "weights"]


def audit_released(released: dict[str, dict[str, Any]], root: str | Path = ".") -> pd.DataFrame:
    """Verify the converted released models of every dataset in ``released`` (``{dataset: {"lowres": pkl,
    "superres": pkl or None, ...}}``, the config section); one row per converted file; AuditError on any
    problem: a configured pickle missing or not the bytes that were converted, a converted model missing,
    without provenance, of the wrong stage, or whose weights no longer hash to the recorded model id."""
    from lvg.models import WEIGHTS_FILE, load_generator, model_id

    root = Path(root)
    problems: list[str] = []
    rows = []
    for dataset, entry in released.items():
        for stage in RELEASED_STAGES:
            pkl = entry.get(stage)
            if not pkl:
                continue
            folder = L.path(L.MODEL_RELEASED, root, dataset=dataset, stage=stage)
            doc = _load_json(folder / "G_ema.json", problems)
            if doc is None:
                continue
            prov = doc.get("imported_from")
            if not isinstance(prov, dict) or not isinstance(prov.get("source"), dict):
                problems.append(f"{folder / 'G_ema.json'}: no 'imported_from' provenance (not a converted "
                                "reference model)")
                continue
            src = prov["source"]
            pkl_path = Path(pkl) if Path(pkl).is_absolute() else root / pkl
            _check_file(pkl_path, src.get("sha256"), f"released.{dataset}.{stage}: the converted pickle "
                        f"{src.get('file')}", problems)
            if prov.get("kind") != stage:
                problems.append(f"{folder / 'G_ema.json'}: converted from a {prov.get('kind')} generator, "
                                f"released.{dataset}.{stage} needs a {stage} one")
                continue
            try:
                G = load_generator(folder, stage)
            except LvgError as e:
                problems.append(str(e))
                continue
            got = model_id(G)
            if got != prov.get("model_id"):
                problems.append(f"{folder / WEIGHTS_FILE}: altered (model id {got} but the conversion recorded "
                                f"{prov.get('model_id')})")
            ref = prov.get("reference", {})
            rows.append({"dataset": dataset, "stage": stage, "source_file": src.get("file"),
                         "source_path": str(pkl_path), "source_sha256": src.get("sha256"),
                         "source_bytes": src.get("bytes"), "reference_class": ref.get("class"),
                         "module_src_sha256": json.dumps(ref.get("module_src_sha256", {}), sort_keys=True),
                         "model_id": got, "num_params": prov.get("num_params"),
                         "converted_by": json.dumps(prov.get("converter", {}), sort_keys=True),
                         "weights": str(folder / WEIGHTS_FILE)})
    if problems:
        raise AuditError(", ".join(released) + " (released models)", problems)
    return pd.DataFrame(rows, columns=RELEASED_COLUMNS)


def run_audit_released(released: dict[str, dict[str, Any]], root: str | Path = ".",
                       out_csv: str | Path | None = None) -> pd.DataFrame:
    """Entry point of the Snakemake rule ``audit_released`` and of ``lvg audit`` for released models."""
    table = audit_released(released, root)
    if out_csv is not None:
        with atomic_open(out_csv, "w", newline="") as f:
            table.to_csv(f, index=False)
    return table
