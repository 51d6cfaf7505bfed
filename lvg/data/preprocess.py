"""Preprocess: clip table + raw videos -> one resolution folder of the reference dataset format.

Entry point :func:`preprocess_dataset` (Snakemake rule and ``lvg preprocess``). For each source video, in
sorted source order, the file is decoded once, sequentially, from the first frame any of its clips needs to
the last; every frame inside a clip is centre-cropped to the target aspect, resized with an antialiased
downscale filter (:func:`resize_frame`: PIL's Lanczos bit for bit, as the reference, by default, or
pixel-area averaging), JPEG-encoded once and appended to every clip that contains it (clips may overlap). Each
resolution is made independently from the source: LR is not a downsample of HR.

Throughput: the decoder's thread only decodes (without FFmpeg's frame threads, which would compete with the
pool); RGB conversion, crop, resize and JPEG run on a thread pool (all release the GIL) and come back in
decode order, so the shards are byte-identical whatever the number of threads. The default Lanczos is
Pillow's arithmetic compiled with numba (:mod:`lvg.data.resample`: the same bytes, 3.5-4.5x faster than Pillow's
scalar C); ``benchmarks/bench_preprocess.py`` measures the phase against decode-only.

The crop follows the reference's arithmetic (``dataset_tools/utils.py:center_crop_and_resize``): with
``sh = src_h / h`` and ``sw = src_w / w``, if ``sh > sw`` the crop is ``crop_h = h * sw`` rows starting at
``y0 = (src_h - crop_h) // 2`` (a float), ending at ``y0 + crop_h``; symmetrically for width; no crop when the
scales are equal. The reference hands that float box to ``PIL.Image.crop``, which rounds every coordinate
with Python's ``round`` (half to even; ``Image._crop``: ``map(int, map(round, box))``). :func:`crop_box`
returns those integer coordinates, so slicing the decoded array with it is pixel-identical to the reference.
Example: 120x200 -> 9x16 gives crop_h = 112.5, box y = 3.0 .. 115.5 -> rows 3 .. 116 (113 rows).

Atomicity: everything is written to a hidden sibling folder (:func:`lvg.io.staging_dir`) and swapped in for
``out_dir`` only when complete, so a failure (bad video, clip past the end, interrupt) leaves ``out_dir`` as it
was before; the staging folder a killed run left is removed by the next run of the same resolution.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from lvg.config import resolution_dir
from lvg.data.resample import lanczos_resize
from lvg.data.shards import SUBSAMPLING_NAMES, ShardWriter, check_clip_id, encode_jpeg
from lvg.data.video import iter_video_frames, to_rgb
from lvg.errors import InputError
from lvg.io import io_errors, replace_dir, sha256_file, staging_dir, write_json

INDEX = "index.json"
REQUIRED_COLUMNS = ("clip_id", "source", "start_frame", "end_frame")
RESIZE_FILTERS = {  # resize= choice -> what index.json records
    "area": "OpenCV INTER_AREA after centre crop (reference arithmetic); PIL LANCZOS where upscaling",
    "lanczos": "PIL LANCZOS after centre crop (reference arithmetic; lvg.data.resample, Pillow's bytes)",
}


@dataclass(frozen=True)
class Clip:
    clip_id: str
    source: str
    start_frame: int  # inclusive, counted from the first frame of the raw video
    end_frame: int  # exclusive

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame


def crop_box(src_h: int, src_w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer ``(x0, y0, x1, y1)`` of the reference's centre crop, as PIL rounds its float box."""
    height_scale = src_h / height
    width_scale = src_w / width
    box: tuple[float, float, float, float] = (0, 0, src_w, src_h)
    if height_scale > width_scale:
        crop_height = height * width_scale
        y0 = (src_h - crop_height) // 2
        box = (0, y0, src_w, y0 + crop_height)
    elif width_scale > height_scale:
        crop_width = width * height_scale
        x0 = (src_w - crop_width) // 2
        box = (x0, 0, x0 + crop_width, src_h)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return x0, y0, x1, y1


def crop_resize(frame: np.ndarray, box: tuple[int, int, int, int], height: int, width: int) -> Image.Image:
    """Crop uint8 RGB ``frame`` [H, W, 3] to ``box`` and Lanczos-resize to ``width`` x ``height`` with Pillow
    itself, as the reference does: what :func:`resize_frame`'s faster ``"lanczos"`` is tested against."""
    x0, y0, x1, y1 = box
    return Image.fromarray(frame[y0:y1, x0:x1]).resize((width, height), Image.LANCZOS)


def resize_frame(frame: np.ndarray, box: tuple[int, int, int, int], height: int, width: int,
                 resize: str = "lanczos") -> np.ndarray | Image.Image:
    """Crop ``frame`` to ``box`` and resize with filter ``resize`` (a key of :data:`RESIZE_FILTERS`).

    ``"area"`` (OpenCV ``INTER_AREA``: exact pixel-area averaging, antialiased) costs about 0.4x of PIL's
    Lanczos at 288 -> 256 and 0.25x at 288 -> 64, the difference between a resize-bound and a decode-bound
    preprocess. It is only a downscale filter, so a target larger than the crop falls back to Lanczos.
    ``"lanczos"`` is :func:`lvg.data.resample.lanczos_resize` of the crop: :func:`crop_resize`'s pixels
    (Pillow's), 3.5-4.5x faster, and it releases the GIL for the worker threads.
    """
    if resize not in RESIZE_FILTERS:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_FILTERS)}, got {resize!r}")
    x0, y0, x1, y1 = box
    if resize == "area" and y1 - y0 >= height and x1 - x0 >= width:
        return cv2.resize(frame[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_AREA)
    return lanczos_resize(frame[y0:y1, x0:x1], height, width)


def read_clip_table(clips_csv: str | Path) -> list[Clip]:
    """Parse and check the clip table (columns beyond the required ones are ignored)."""
    clips_csv = Path(clips_csv)
    try:
        with open(clips_csv, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
            fields = rows[0].keys() if rows else []
    except FileNotFoundError:
        raise InputError(clips_csv, "clip table not found") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in fields]
    if not rows:
        raise InputError(clips_csv, "the clip table lists no clips")
    if missing:
        raise InputError(clips_csv, f"missing column(s) {', '.join(missing)}")
    clips: list[Clip] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        cid = (row["clip_id"] or "").strip()
        entry = cid or f"line {n}"
        if problem := check_clip_id(cid):
            raise InputError(clips_csv, problem, entry)
        if cid in seen:
            raise InputError(clips_csv, "duplicate clip id", entry)
        seen.add(cid)
        source = (row["source"] or "").strip()
        if not source or "/" in source or "\\" in source:
            raise InputError(clips_csv, f"bad source id {source!r}", entry)
        try:
            start, end = int(row["start_frame"]), int(row["end_frame"])
        except (TypeError, ValueError):
            raise InputError(clips_csv, f"start_frame/end_frame must be integers, got "
                             f"{row['start_frame']!r}/{row['end_frame']!r}", entry) from None
        if not 0 <= start < end:
            raise InputError(clips_csv, f"need 0 <= start_frame < end_frame, got {start}, {end}", entry)
        if (nf := (row.get("num_frames") or "").strip()) and nf != str(end - start):
            raise InputError(clips_csv, f"num_frames is {nf} but end_frame - start_frame is {end - start}",
                             entry)
        clips.append(Clip(cid, source, start, end))
    return clips


def encode_frame(frame: np.ndarray | av.VideoFrame, box: tuple[int, int, int, int], height: int, width: int,
                 quality: int, subsampling: int, resize: str = "lanczos") -> bytes:
    """RGB conversion + crop + resize + JPEG of one decoded frame: a pure function of its arguments, so
    running it on worker threads (libswscale, OpenCV and PIL's resize release the GIL) cannot change a byte."""
    rgb = frame if isinstance(frame, np.ndarray) else to_rgb(frame)
    return encode_jpeg(resize_frame(rgb, box, height, width, resize), quality, subsampling)


def default_threads() -> int:
    """Worker threads for :func:`encode_frame`: one per usable core (decode runs beside them), at most 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(8, cores))


def _process_source(video: Path, clips: list[Clip], writer: ShardWriter, height: int, width: int,
                    clips_csv: Path, bar: tqdm, resize: str = "lanczos", pool: ThreadPoolExecutor | None = None,
                    window: int = 0) -> dict[str, Any]:
    """One sequential decode of ``video``; every frame inside a clip is encoded once and appended.

    With a ``pool``, frames are encoded on its threads while decoding continues; results are taken back in
    decode order, at most ``window`` pending (bounding memory), so the shard bytes are the serial path's.
    """
    order = sorted(clips, key=lambda c: (c.start_frame, c.clip_id))
    first, stop = order[0].start_frame, max(c.end_frame for c in order)
    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    shape: tuple[int, int] | None = None
    box = (0, 0, 0, 0)
    active: list[Clip] = []
    next_end = stop  # smallest end_frame among active clips
    nxt = 0
    decoded = first  # frames of the video seen so far (index of the next one)
    quality, subsampling = writer.quality, writer.subsampling
    pending: deque[tuple[Future[bytes], list[Clip]]] = deque()

    def write(jpeg: bytes, targets: list[Clip]) -> None:
        for c in targets:
            writer.add(c.clip_id, jpeg)
        bar.update(len(targets))

    try:
        # FFmpeg's own threads would compete with the pool for the cores; one decoding thread costs less CPU
        threading = "NONE" if pool else "AUTO"
        for i, frame in iter_video_frames(video, start=first, stop=stop, thread_type=threading):
            decoded = i + 1
            if i >= next_end:
                active = [c for c in active if c.end_frame > i]
                next_end = min((c.end_frame for c in active), default=stop)
            while nxt < len(order) and order[nxt].start_frame <= i:
                active.append(order[nxt])
                next_end = min(next_end, order[nxt].end_frame)
                nxt += 1
            if not active:
                continue
            if (frame.height, frame.width) != shape:  # once per source (again only if the stream changes size)
                shape = frame.height, frame.width
                box = boxes.setdefault(shape, crop_box(shape[0], shape[1], height, width))
            if pool is None:
                write(encode_frame(frame, box, height, width, quality, subsampling, resize), active)
                continue
            pending.append((pool.submit(encode_frame, frame, box, height, width, quality, subsampling, resize),
                            list(active)))
            while len(pending) > window or (pending and pending[0][0].done()):
                fut, targets = pending.popleft()
                write(fut.result(), targets)
        while pending:
            fut, targets = pending.popleft()
            write(fut.result(), targets)
    finally:
        for fut, _ in pending:  # an error: drop what is still queued
            fut.cancel()
    if decoded < stop:
        bad = min((c for c in clips if c.end_frame > decoded), key=lambda c: (c.end_frame, c.clip_id))
        raise InputError(clips_csv, f"clip ends at frame {bad.end_frame} (exclusive) but {video} has only "
                         f"{decoded if decoded > first else f'<= {first}'} frames", bad.clip_id)
    return {"crop": [{"source_size": [h, w], "box": list(b)} for (h, w), b in boxes.items()],
            "frames_decoded": decoded}


def preprocess_dataset(clips_csv: Path, raw_dir: Path, out_dir: Path, height: int, width: int,
                       partitions: int, jpeg_quality: int = 100, progress: bool = False,
                       jpeg_subsampling: int = 0, threads: int | None = None, resize: str = "lanczos") -> dict:
    """See :func:`_preprocess_dataset`; a read-only or full output folder is an OutputError naming it."""
    with io_errors(out_dir, "write"):
        return _preprocess_dataset(Path(clips_csv), Path(raw_dir), Path(out_dir), height, width, partitions,
                                   jpeg_quality, progress, jpeg_subsampling, threads, resize)


def _preprocess_dataset(clips_csv: Path, raw_dir: Path, out_dir: Path, height: int, width: int,
                        partitions: int, jpeg_quality: int = 100, progress: bool = False,
                        jpeg_subsampling: int = 0, threads: int | None = None, resize: str = "lanczos") -> dict:
    """Write ``out_dir`` (= ``data/processed/<dataset>/HHHHxWWWW``): partition zips + ``index.json``.

    ``raw_dir/<source>.mp4`` are the raw videos. ``threads``: crop/resize/JPEG worker threads beside the
    decoder (None: :func:`default_threads`; 0: all in the calling thread); the output bytes do not depend on
    it. ``resize``: the filter (:func:`resize_frame`), recorded in the index. Returns the index (also written
    to ``out_dir/index.json``).
    Raises InputError naming the clip table and clip for a clip past the end of its video, and naming the
    video for a missing, unreadable or corrupt video; ``out_dir`` is then left untouched.
    """
    clips_csv, raw_dir, out_dir = Path(clips_csv), Path(raw_dir), Path(out_dir)
    if height < 1 or width < 1:
        raise ValueError(f"bad resolution {height}x{width}")
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    threads = default_threads() if threads is None else threads
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    if resize not in RESIZE_FILTERS:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_FILTERS)}, got {resize!r}")
    if out_dir.name != resolution_dir(height, width):
        raise ValueError(f"out_dir must be the resolution folder {resolution_dir(height, width)}, got {out_dir}")
    clips = read_clip_table(clips_csv)
    by_source: dict[str, list[Clip]] = {}
    for c in clips:
        by_source.setdefault(c.source, []).append(c)

    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "output path exists and is not a folder")
    staging = staging_dir(out_dir)  # also removes what killed runs of this resolution left
    sources: dict[str, Any] = {}
    try:
        total = sum(c.num_frames for c in clips)
        with tqdm(total=total, unit="frame", desc=f"preprocess {out_dir.name}", disable=None if progress else True,
                  mininterval=10, smoothing=0.05) as bar, \
                ShardWriter(staging, [c.clip_id for c in clips], partitions, jpeg_quality,
                            jpeg_subsampling) as writer, \
                (ThreadPoolExecutor(threads, "preprocess") if threads else nullcontext()) as pool:
            for source in sorted(by_source):
                sources[source] = _process_source(raw_dir / f"{source}.mp4", by_source[source], writer,
                                                  height, width, clips_csv, bar, resize, pool,
                                                  4 * threads)
        for c in clips:  # guaranteed by the decode loop; cheap insurance against a silent short clip
            if len(writer.frames[c.clip_id]) != c.num_frames:
                raise RuntimeError(f"{c.clip_id}: wrote {len(writer.frames[c.clip_id])} of {c.num_frames} frames")
        parts = []
        for p, path in enumerate(writer.files):
            members = [c for c in clips if writer.partition_of[c.clip_id] == p]
            parts.append({"file": path.name, "sha256": sha256_file(path), "size": path.stat().st_size,
                          "num_clips": len(members), "num_frames": sum(c.num_frames for c in members)})
        index = {
            "format": "long-video-gan",
            "resolution": [height, width],
            "resolution_dir": out_dir.name,
            "jpeg": {"quality": jpeg_quality, "subsampling": SUBSAMPLING_NAMES.get(jpeg_subsampling,
                                                                                    jpeg_subsampling)},
            "resize": RESIZE_FILTERS[resize],
            "clips_csv": {"file": clips_csv.name, "sha256": sha256_file(clips_csv)},
            "num_clips": len(clips),
            "num_frames": total,
            "num_partitions": partitions,
            "sources": sources,
            "clips": [{"clip_id": c.clip_id, "source": c.source, "start_frame": c.start_frame,
                       "end_frame": c.end_frame, "num_frames": c.num_frames,
                       "partition": writer.files[writer.partition_of[c.clip_id]].name}
                      for c in sorted(clips, key=lambda c: c.clip_id)],
            "partitions": parts,
        }
        write_json(staging / INDEX, index)
        replace_dir(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return index
