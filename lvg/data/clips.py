"""Clips: the manifest's keep-intervals, split at the scene cuts detected inside them.

One table per dataset, one row per clip: where it comes from (source, interval, frames) and which rule
bounded it on each side (``interval`` = the manual trim, ``scene_cut`` = PySceneDetect). Pieces shorter than
``clips.min_frames`` are listed in a second table with the reason, so nothing disappears silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from lvg.data.manifest import Interval, Manifest, Source, format_time
from lvg.errors import InputError
from lvg.io import atomic_open, read_json

COLUMNS = ["clip_id", "source", "interval", "start_frame", "end_frame", "num_frames", "fps", "start_s",
           "end_s", "start_by", "end_by"]


def _interval_frames(manifest: Manifest, source: Source, iv: Interval | None, scenes: dict) -> tuple[int, int]:
    n, fps = scenes["num_frames"], scenes["fps"]
    if iv is None:
        return 0, n
    a, b = iv.frames(fps)
    if b > n:
        raise InputError(manifest.path, f"keep-interval {iv.label!r} ends at {iv.end:g} s, past the end of "
                         f"the video ({n} frames = {n / fps:.3f} s)", source.id)
    if a >= b:
        raise InputError(manifest.path, f"keep-interval {iv.label!r} contains no frame at {fps:g} fps",
                         source.id)
    return a, b


def split_interval(a: int, b: int, cuts: list[int]) -> list[tuple[int, int, str, str]]:
    """Split ``[a, b)`` at every cut strictly inside it: (start, end, start_by, end_by) pieces."""
    inner = sorted(c for c in set(cuts) if a < c < b)
    bounds = [a, *inner, b]
    rules = ["interval"] + ["scene_cut"] * len(inner) + ["interval"]
    return [(bounds[i], bounds[i + 1], rules[i], rules[i + 1]) for i in range(len(bounds) - 1)]


def clips_for_source(manifest: Manifest, source: Source, scenes: dict[str, Any]) -> list[dict[str, Any]]:
    """Every piece (kept or not) of every keep-interval of one source."""
    rows = []
    intervals: list[Interval | None] = list(source.keep) or [None]
    fps = scenes["fps"]
    for iv in intervals:
        a, b = _interval_frames(manifest, source, iv, scenes)
        label = iv.label if iv else f"{format_time(0)} {format_time(scenes['num_frames'] / fps)}"
        dirname = iv.dirname if iv else "all"
        pieces = split_interval(a, b, scenes["cuts"])
        for k, (s, e, sby, eby) in enumerate(pieces):
            clip_dir = f"{source.id}/{dirname}" if len(pieces) == 1 else f"{source.id}/{dirname}/{k:02d}"
            rows.append({"clip_id": clip_dir, "source": source.id, "interval": label, "start_frame": s,
                         "end_frame": e, "num_frames": e - s, "fps": fps, "start_s": round(s / fps, 6),
                         "end_s": round(e / fps, 6), "start_by": sby, "end_by": eby})
    return rows


def make_clip_table(manifest: Manifest, scenes_dir: str | Path, min_frames: int) -> tuple[pd.DataFrame,
                                                                                          pd.DataFrame]:
    """(kept clips, dropped pieces with reason) for a whole dataset."""
    rows = []
    for source in manifest.sources.values():
        scenes = read_json(Path(scenes_dir) / f"{source.id}.json")
        rows += clips_for_source(manifest, source, scenes)
    table = pd.DataFrame(rows, columns=COLUMNS)
    short = table["num_frames"] < min_frames
    dropped = table[short].assign(reason=f"shorter than clips.min_frames={min_frames}")
    return table[~short].reset_index(drop=True), dropped.reset_index(drop=True)


def run_clips(manifest: Manifest, scenes_dir: str | Path, out_csv: str | Path, dropped_csv: str | Path,
              min_frames: int) -> pd.DataFrame:
    """Phase entry point (Snakemake rule ``clips_table`` and ``lvg clips``)."""
    kept, dropped = make_clip_table(manifest, scenes_dir, min_frames)
    if kept.empty:
        raise InputError(manifest.path, f"no clip of at least {min_frames} frames survives the keep-intervals "
                         "and scene cuts (lower clips.min_frames or widen the intervals)")
    with atomic_open(out_csv, "w", newline="") as f:
        kept.to_csv(f, index=False)
    with atomic_open(dropped_csv, "w", newline="") as f:
        dropped.to_csv(f, index=False)
    return kept
