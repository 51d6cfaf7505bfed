"""The synthetic world's ground truth, frame by frame, for the processed clips: what the `world` detector
learns from (:mod:`lvg.metrics.world`).

The renderer writes, beside every synthetic source video, ``<id>.world.csv``: the state of the world in each
frame (:data:`lvg.data.synthetic.WORLD_COLUMNS`: biome, time of day, fog, cloud cover, camera speed and
direction, horizon, exposure, warmth, and how much of the picture each class of object covers). The
provenance record names it (``world_file``). :func:`write_clip_states` cuts those tables along the clip
table into ``data/processed/<dataset>/world.csv``: one row per frame of every clip, keyed by ``clip_id`` and
``frame`` (0-based within the clip: the same indices as the shards), so a training window of a clip has its
labels by slicing.

:class:`WorldLabels` reads that table back as per-clip arrays of the label targets (:data:`TARGETS`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lvg.data.synthetic import BIOME_NAMES, OBJECT_CLASSES
from lvg.errors import InputError
from lvg.io import atomic_open, read_json

# What the detector predicts. Regression targets are standardised by fixed units (so that a model trained
# on one dataset reads the same units on another): the mean and standard deviation of each state over the
# world's own distribution (measured on the 256 shots of lvg.data.world_corpus), so that every target
# weighs the same in the loss. (With the world's full ranges instead, time of day had a variance of 0.02
# against ~0.3 for the others, and the network ignored it: held-out R² below 0.) Objects enter as in-view
# classes, not as coverage: at 64x64 a house or a flock covers a handful of pixels, and regressing on it only
# added noise (held-out R² from -1 to -13 per class).
# Time of day enters as hours from midday: the renderer's light tables are symmetric about 12:15 (9:00 and
# 15:00 have the same sky and light, 7:00 and 17:30 nearly), so no detector can tell morning from afternoon;
# regressed on the hour itself, the held-out R² stayed below 0 (-0.3 to -2.2 in every setting tried).
NOON = 12.25
REGRESSION = {  # name -> (column, offset, scale): target = (f(column) - offset) / scale (f: TRANSFORMS or none)
    "sun": ("hour", 2.15, 1.5),  # hours from midday
    "fog": ("fog", 0.33, 0.29),
    "cloud_cover": ("cloud_cover", 0.4, 0.23),
    "speed": ("speed", 0.021, 0.0026),
    "horizon": ("horizon", 0.48, 0.085),
    "exposure": ("exposure", 1.0, 0.115),
    "warmth": ("warmth", 0.0, 0.6),
    "sky": ("sky", 0.4, 0.1),
}
TRANSFORMS = {"sun": lambda hour: np.abs(hour - NOON)}
TARGETS = ("biome", "direction", *(f"in_view_{c}" for c in OBJECT_CLASSES), *REGRESSION)


def _clip_hash(clip_id: str) -> float:
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "big") / 2**64


def heldout_clips(clip_ids: list[str], fraction: float) -> set[str]:
    """The held-out ``fraction`` of the clips, by a hash of each id (the same split in every run and process,
    and a clip keeps its side when others are added). At least one clip is held out and one kept (a tiny
    dataset never has an empty side). The world detector never trains on held-out clips; the sanity ranking
    scores them."""
    ids = sorted(set(clip_ids), key=_clip_hash)
    if len(ids) < 2:
        raise InputError("clips", f"{len(ids)} clip(s): at least 2 are needed to hold one out")
    held = {c for c in ids if _clip_hash(c) < fraction} or {ids[0]}
    return held - {ids[-1]} if len(held) == len(ids) else held


def write_clip_states(clips_csv: str | Path, raw_dir: str | Path, out_csv: str | Path) -> pd.DataFrame:
    """The world state of every frame of every clip (see the module doc); returns the table written."""
    clips = pd.read_csv(clips_csv)
    raw_dir = Path(raw_dir)
    parts = []
    tables: dict[str, pd.DataFrame] = {}
    for clip in clips.to_dict("records"):
        source = clip["source"]
        if source not in tables:
            prov_path = raw_dir / f"{source}.provenance.json"
            prov = read_json(prov_path)
            name = prov.get("world_file")
            if not name:
                raise InputError(prov_path, "no 'world_file': the world's ground truth exists only for synthetic "
                                 "sources (kind: synthetic), rendered by this version of lvg")
            tables[source] = pd.read_csv(raw_dir / name).set_index("frame")
        a, b = int(clip["start_frame"]), int(clip["end_frame"])
        rows = tables[source].loc[a:b - 1].reset_index()
        if len(rows) != b - a or (rows["kind"] != "shot").any():
            raise InputError(clips_csv, f"clip {clip['clip_id']!r}: frames [{a}, {b}) of {source} are not all "
                             "ride frames of its world table", clip["clip_id"])
        rows.insert(0, "clip_id", clip["clip_id"])
        rows["frame"] = np.arange(b - a)
        parts.append(rows)
    table = pd.concat(parts, ignore_index=True)
    with atomic_open(out_csv, "w", encoding="utf-8", newline="") as f:
        table.to_csv(f, index=False, lineterminator="\n", float_format="%.6g")
    return table


@dataclass
class WorldLabels:
    """Per-clip label arrays from ``world.csv``: ``labels[clip_id][target]`` is ``[num_frames]`` (int64 for
    ``biome`` (index into BIOME_NAMES), ``direction`` (0 = left, 1 = right) and ``in_view_*`` (0/1); float32
    standardised for the regression targets)."""

    labels: dict[str, dict[str, np.ndarray]]

    @classmethod
    def read(cls, path: str | Path, in_view_min: float = 0.0) -> WorldLabels:
        """``in_view_min``: the coverage (fraction of the frame) above which an object class counts as in view
        (the detector's: a few pixels at its input size; 0 = any pixel of the source frame)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "world ground truth not found (built for synthetic datasets by the "
                             "preprocess_world rule)")
        table = pd.read_csv(path)
        missing = {"clip_id", "frame", "biome", "direction", *OBJECT_CLASSES} - set(table.columns)
        if missing:
            raise InputError(path, f"missing columns {sorted(missing)}")
        labels = {}
        for clip_id, rows in table.groupby("clip_id", sort=False):
            rows = rows.sort_values("frame")
            out: dict[str, np.ndarray] = {
                "biome": rows["biome"].map({b: i for i, b in enumerate(BIOME_NAMES)}).to_numpy(np.int64),
                "direction": (rows["direction"].to_numpy() > 0).astype(np.int64),
            }
            for c in OBJECT_CLASSES:
                out[f"in_view_{c}"] = (rows[c].to_numpy() > in_view_min).astype(np.int64)
            for name, (col, offset, scale) in REGRESSION.items():
                v = rows[col].to_numpy(np.float64)
                v = TRANSFORMS[name](v) if name in TRANSFORMS else v
                out[name] = ((v - offset) / scale).astype(np.float32)
            labels[str(clip_id)] = out
        return cls(labels)

    def window(self, clip_id: str, start: int, length: int) -> dict[str, np.ndarray]:
        """The labels of frames ``start .. start + length - 1`` of one clip."""
        clip = self.labels.get(clip_id)
        if clip is None:
            raise KeyError(f"clip {clip_id!r} has no world ground truth")
        return {k: v[start:start + length] for k, v in clip.items()}


def describe_targets() -> dict[str, Any]:
    """The label encodings, for records: class lists and regression units."""
    return {"biome": list(BIOME_NAMES), "direction": ["left", "right"], "objects": list(OBJECT_CLASSES),
            "regression": {k: {"column": c, "offset": o, "scale": s,
                               **({"transform": f"abs(hour - {NOON})"} if k in TRANSFORMS else {})}
                           for k, (c, o, s) in REGRESSION.items()}}
