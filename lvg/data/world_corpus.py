"""Extra labelled renders of the synthetic world for the `world` detector (:mod:`lvg.metrics.world`).

Why: a dataset's clips are few (the default has ~44, one per shot), and the states that are drawn once per
shot or per ride (time of day, exposure, warmth, weather) then have ~36 training examples. The detector
memorised them: training losses near 0, held-out R² of time of day at -2. The world is ours, so more of it
can be rendered: ``num_shots`` short shots, in rides of :data:`SHOTS_PER_RIDE` from their own seeds (each ride
its own day and weather, each shot its own place along the ride, camera height, exposure and warmth), drawn
with the dataset's renderer
(:class:`lvg.data.synthetic.SyntheticVideo`) at a reduced size, centre-cropped and Lanczos-resized as
preprocessing does, and written in the dataset format (:class:`lvg.data.shards.ShardWriter`) with a
``world.csv`` in the layout of :func:`lvg.data.world.write_clip_states`. The detector trains on the real
training clips *and* these, split like the dataset's clips (a hash of the clip id, ``world_detector.holdout``):
the held-out renders and the dataset's held-out clips stay unseen and measure it.

Differences from the dataset's frames, on purpose and small: no H.264 (the dataset's crf 18 is close to
lossless at 64x64 after a 4.5x downscale), and the render is smaller than the dataset's source videos (the
downscale to the detector's size is 2.25x instead of 4.5x) because rendering costs in proportion to pixels.
Ride seeds are ``1_000_000 + 10_000 * seed + i``: never a dataset's (``lvg manifest synthetic`` uses
``1000 * seed + i``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lvg.config import resolution_dir
from lvg.data.preprocess import crop_box, resize_frame
from lvg.data.shards import ShardWriter
from lvg.data.synthetic import WORLD_COLUMNS, SyntheticSpec, SyntheticVideo
from lvg.io import atomic_open

SEED_BASE = 1_000_000
SHOTS_PER_RIDE = 6  # the default dataset has 5.5 clips per source video
WORLD_CSV = "world.csv"


def ride_seed(seed: int, ride: int) -> int:
    """The render seed of corpus ride ``ride``: disjoint from every dataset's seeds (see the module doc)."""
    return SEED_BASE + 10_000 * seed + ride


def clip_id(ride: int, shot: int) -> str:
    return f"corpus_{ride:04d}_{shot}"


def render_ride(seed: int, shots: int, frames: int, fps: int, render_height: int, height: int, width: int
                ) -> Iterator[tuple[int, np.ndarray, dict[str, Any]]]:
    """(shot, uint8 [height, width, 3] frame, world state) for each frame of one ride of ``shots`` shots of
    ``frames`` frames each, rendered at ``render_height`` x 16:9 (the dataset's aspect), centre-cropped and
    resized. Between shots the ride skips ahead as in the dataset's videos, so later shots are later in the
    day, in other weather and biomes: one-shot rides all began in the morning (hours 6.5-10), the dataset's
    shots span 7-16."""
    render_width = 2 * int(round(render_height * 16 / 9 / 2))
    shot_s = frames / fps
    spec = SyntheticSpec(seed=seed, duration_s=shots * shot_s, fps=fps, height=render_height, width=render_width,
                         shot_min_s=shot_s, shot_max_s=shot_s, defects=False)
    video = SyntheticVideo(spec)
    box = crop_box(render_height, render_width, height, width)
    for i in range(len(video)):
        frame, state = video.frame_and_state(i)
        if state["kind"] != "shot":  # a ride without defects is all shots; guard the assumption
            raise RuntimeError(f"corpus seed {seed}: frame {i} is a {state['kind']!r} frame, not a ride frame")
        yield int(state["shot"]), np.asarray(resize_frame(frame, box, height, width)), state


def write_corpus(out_dir: str | Path, num_shots: int, frames: int, height: int, width: int, seed: int = 0,
                 render_height: int = 144, fps: int = 30, shots_per_ride: int = SHOTS_PER_RIDE,
                 partitions: int = 2, quality: int = 100, progress: bool = False) -> pd.DataFrame:
    """Render ``num_shots`` shots (rides of ``shots_per_ride``) into ``out_dir/<HHHHxWWWW>/partition_*.zip``
    and ``out_dir/world.csv`` (atomically: the shards are renamed into place only when complete, the table
    written last); return the table. Each shot is one clip, its frames numbered from 0."""
    out_dir = Path(out_dir)
    rides = [(r, min(shots_per_ride, num_shots - r * shots_per_ride)) for r in range(-(-num_shots // shots_per_ride))]
    ids = [clip_id(r, j) for r, k in rides for j in range(k)]
    todo: Any = rides
    if progress:
        from tqdm import tqdm

        todo = tqdm(rides, desc="world corpus", unit="ride")
    rows = []
    with ShardWriter(out_dir / resolution_dir(height, width), ids, partitions, quality=quality) as writer:
        for r, k in todo:
            first: dict[int, int] = {}
            for i, (shot, image, state) in enumerate(render_ride(ride_seed(seed, r), k, frames, fps, render_height,
                                                                 height, width)):
                cid = clip_id(r, shot)
                writer.add_image(cid, image)
                rows.append({"clip_id": cid, **state, "frame": i - first.setdefault(shot, i),
                             "overlay": int(state["overlay"])})
    table = pd.DataFrame(rows, columns=["clip_id", *WORLD_COLUMNS])
    with atomic_open(out_dir / WORLD_CSV, "w", encoding="utf-8", newline="") as f:
        table.to_csv(f, index=False, lineterminator="\n", float_format="%.6g")
    return table
