"""Sample sets: the videos the metrics phase reads, one folder per method, written and read here only.

A sample set is a folder with lossless mp4s (H.264, yuv444p, native size: :data:`SAMPLE_ENCODING`, so the
metrics see the generator's frames rather than codec artefacts) and ``index.json`` listing ``videos`` (each
with ``file`` and ``num_frames``) plus how they were made (models, seeds, start frames, grids, encoding).
``index.json`` is written last, so its presence means the set is complete; an interrupted run with the same
settings resumes and keeps the finished videos (:class:`SampleSetWriter`). :class:`SampleSet` reads one back.

Writers, one per kind of set:

* :func:`generate_sample_set`: our LR (+ SR) generator, video ``seed`` from frame ``t0`` (by default the
  seed's random phase of the 1/32 grid, :func:`phase_t0`), streamed by :mod:`lvg.generate`;
* :func:`superres_from_real`: super-resolution of REAL low-res clips (the paper's Fig. 6(c) control);
* :func:`baseline_sample_set`: a baseline by its own long-video mechanism
  (:func:`lvg.baselines.common.generate_frames`);
* :func:`import_sample_set`: a folder of videos made elsewhere (e.g. by the original code, config
  ``baselines.<method>.samples_from``), indexed in place; nothing is re-encoded;
* :func:`untrained_sample_set`: our networks exactly as training initialises them, the control row of
  Table 1 that a trained model must beat.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lvg.data.video import VideoWriter, iter_frames, probe, write_video
from lvg.errors import InputError, LvgError
from lvg.generate import (
    DEFAULT_LR_GRID,
    DEFAULT_SR_GRID,
    deterministic_backends,
    device_of,
    iter_lowres,
    iter_superres,
    output_stem,
    superres_latent,
)
from lvg.io import read_json, write_json
from lvg.memory import plan_chunks
from lvg.models import model_id
from lvg.plan import released_resolution  # noqa: F401 - lvg.sample_sets's API

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
SAMPLE_ENCODING = {"crf": 0, "pix_fmt": "yuv444p", "upscale": 1}  # lossless H.264, native size
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov")
BASELINE_PHASE = 32  # random phase of a baseline's first frame, as for our model's 1/32 grid
SUPERRES_LATENT = "sha256('lvg.superres.z:<seed>') -> torch.randn"


def phase_t0(seed: int, period: int) -> int:
    """A deterministic "random" phase in ``[0, period)`` for video ``seed`` (sample sets' default ``t0``).

    The reference evaluates crops at a random phase of the 1/32 grid; here it is derived from the seed
    (``sha256("lvg.phase:<seed>")``) so that sample sets are reproducible.
    """
    digest = hashlib.sha256(f"lvg.phase:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % period


@dataclass
class SampleSetWriter:
    """Writes one sample set: ``index.partial.json`` (the header) while videos are added, ``index.json``
    (header + ``videos``) when complete. ``start`` says whether an interrupted run with an identical header
    left videos here that can be kept."""

    out_dir: Path
    header: dict[str, Any]
    videos: list[dict[str, Any]] = field(default_factory=list)

    def resume_ok(self) -> bool:
        """True if a previous, interrupted run with identical settings left its videos here."""
        partial = self.out_dir / "index.partial.json"
        try:
            return partial.is_file() and read_json(partial) == json.loads(json.dumps(self.header, default=str))
        except ValueError:
            return False

    def start(self) -> bool:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        ok = self.resume_ok()
        write_json(self.out_dir / "index.partial.json", self.header)
        return ok

    def finish(self) -> Path:
        index = self.out_dir / "index.json"
        write_json(index, {**self.header, "videos": self.videos})
        (self.out_dir / "index.partial.json").unlink(missing_ok=True)
        return index


def seed_list(seeds: int | Sequence[int], num_videos: int) -> list[int]:
    seeds = list(range(seeds, seeds + num_videos)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if len(seeds) != num_videos:
        raise ValueError(f"{len(seeds)} seeds for {num_videos} videos")
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be distinct")
    return seeds


def generate_sample_set(G_lr: nn.Module, G_sr: nn.Module | None, num_videos: int, num_frames: int,
                        seeds: int | Sequence[int], out_dir: str | Path, resolution: str = "lr", *,
                        t0: int | Sequence[int] | str = "phase", fps: float = 30, encoding: dict | None = None,
                        lr_grid: int = DEFAULT_LR_GRID, sr_grid: int = DEFAULT_SR_GRID,
                        model_ids: dict[str, str] | None = None, max_memory: int | str | None = None) -> Path:
    """``num_videos`` generated videos of ``num_frames`` frames as mp4 files plus ``out_dir/index.json``.

    Args:
        seeds: one per video, or the first of ``num_videos`` consecutive seeds.
        resolution: ``"lr"`` (LR frames) or ``"hr"`` (super-resolved; needs ``G_sr``).
        t0: per-video first frame: an int, one per video, or ``"phase"`` (default): :func:`phase_t0` of the
            seed in ``[0, 32)``, the reference's random phase of the 1/32 grid, made reproducible.
        encoding: :class:`VideoWriter` options; default lossless H.264 yuv444p at native size, so metrics see
            the generator's frames rather than codec artefacts (:data:`SAMPLE_ENCODING`).
        model_ids: recorded in the index (default :func:`model_id` of each module).
        max_memory: memory budget (:func:`lvg.memory.plan_chunks`): the grids shrink to fit it; the index
            records the grids used.

    Files are ``seed=S_t0=T_len=L_{lres,sres}.mp4``, each written atomically. ``index.json`` (written last,
    so its presence means the set is complete) lists seeds, t0s, lengths, files, sizes, model ids, grids and
    encoding. An interrupted run with the same settings resumes: finished videos are kept.
    """
    if resolution not in ("lr", "hr"):
        raise ValueError(f"resolution must be 'lr' or 'hr', got {resolution!r}")
    if resolution == "hr" and G_sr is None:
        raise LvgError("a super-resolution model is needed for resolution='hr'")
    seeds = seed_list(seeds, num_videos)
    lr_grid, sr_grid = plan_chunks(G_lr, G_sr if resolution == "hr" else None, lr_grid=lr_grid, sr_grid=sr_grid,
                                   max_memory=max_memory, device=device_of(G_lr))
    if t0 == "phase":
        t0s = [phase_t0(s, G_lr.temporal_scale) for s in seeds]
    elif isinstance(t0, int):
        t0s = [t0] * num_videos
    else:
        t0s = [int(t) for t in t0]
        if len(t0s) != num_videos:
            raise ValueError(f"{len(t0s)} t0 values for {num_videos} videos")
    enc = {**SAMPLE_ENCODING, **(encoding or {})}
    ids = model_ids or {"lowres": model_id(G_lr),
                        "superres": model_id(G_sr) if (G_sr is not None and resolution == "hr") else None}
    suffix = "lres" if resolution == "lr" else "sres"
    header = {"format": INDEX_FORMAT, "kind": "generated", "resolution": resolution, "num_videos": num_videos,
              "num_frames": num_frames, "fps": fps, "encoding": enc, "models": ids, "lr_grid": lr_grid,
              "sr_grid": sr_grid if resolution == "hr" else None, "seeds": seeds, "t0s": t0s,
              "superres_latent": SUPERRES_LATENT if resolution == "hr" else None,
              "device": str(device_of(G_lr)), "torch": torch.__version__, "threads": torch.get_num_threads()}
    sset = SampleSetWriter(Path(out_dir), header)
    resume = sset.start()
    for seed, t in zip(seeds, t0s, strict=True):
        name = f"{output_stem(seed, t, num_frames)}_{suffix}.mp4"
        path = sset.out_dir / name
        if not (resume and path.is_file()):
            frames = (iter_lowres(G_lr, seed, t, num_frames, lr_grid=lr_grid) if resolution == "lr" else
                      iter_superres(G_lr, G_sr, seed, t, num_frames, lr_grid=lr_grid, sr_grid=sr_grid))
            write_video(frames, path, fps=fps, **enc)
        sset.videos.append({"file": name, "seed": seed, "t0": t, "num_frames": num_frames})
    return sset.finish()


def superres_from_real(G_sr: nn.Module, reader: Any, num_videos: int, num_frames: int, out_dir: str | Path, *,
                       seeds: int | Sequence[int] = 0, fps: float = 30, encoding: dict | None = None,
                       sr_grid: int = DEFAULT_SR_GRID, save_lowres: bool = False,
                       model_ids: dict[str, str] | None = None) -> Path:
    """Super-resolve REAL low-res clips (the paper's Fig. 6(c) comparison): mp4 files plus ``index.json``.

    ``reader`` is a :class:`lvg.data.reader.VideoDataset` at the LR resolution (``read_window(clip, start,
    length)``, ``num_frames(clip)``, ``clip_ids``). Video ``i`` uses seed ``seeds[i]``: the clip (uniform over
    clips with at least ``num_frames + 8`` frames) and the window start (uniform) come from
    :func:`lvg.data.reader.derived_generator` of the seed, and ``z`` is :func:`superres_latent` of the seed.
    The output covers real frames ``start + 4 .. start + 4 + num_frames - 1`` (every HR frame has its full
    9-frame real context); it is computed in ``sr_grid``-frame chunks read from the reader, so memory does not
    depend on ``num_frames``. The index records clip ids, starts (of the output, i.e. real frame indices of
    output frame 0) and seeds. ``save_lowres`` also writes the real LR input frames of the same span.
    """
    from lvg.data.reader import derived_generator

    cfg = G_sr.cfg
    k = cfg.temporal_context
    if (reader.height, reader.width) != (cfg.lr_height, cfg.lr_width):
        raise LvgError(f"the reader gives {reader.height}x{reader.width} frames but the super-res generator "
                       f"expects {cfg.lr_height}x{cfg.lr_width}")
    need = num_frames + 2 * k
    eligible = [c for c in range(len(reader)) if reader.num_frames(c) >= need]
    if not eligible:
        raise LvgError(f"no real clip has the {need} frames needed for {num_frames} super-resolved frames "
                       f"(+ {k} context frames per side)")
    seeds = seed_list(seeds, num_videos)
    enc = {**SAMPLE_ENCODING, **(encoding or {})}
    clip_ids = reader.clip_ids
    header = {"format": INDEX_FORMAT, "kind": "superres_from_real", "resolution": "hr",
              "num_videos": num_videos, "num_frames": num_frames, "fps": fps, "encoding": enc,
              "models": model_ids or {"lowres": None, "superres": model_id(G_sr)}, "sr_grid": sr_grid,
              "seeds": seeds, "superres_latent": SUPERRES_LATENT,
              "dataset": str(getattr(reader, "dataset_dir", ""))}
    sset = SampleSetWriter(Path(out_dir), header)
    resume = sset.start()
    device = device_of(G_sr)
    for seed in seeds:
        g = derived_generator(seed)
        clip = eligible[int(torch.randint(len(eligible), (), generator=g))]
        first = int(torch.randint(reader.num_frames(clip) - need + 1, (), generator=g)) + k  # first output frame
        stem = f"seed={seed}_clip={clip}_start={first}_len={num_frames}"
        entry = {"file": f"{stem}_sres.mp4", "seed": seed, "clip_index": clip, "clip_id": clip_ids[clip],
                 "start": first, "num_frames": num_frames}
        if save_lowres:
            entry["lowres_file"] = f"{stem}_lres.mp4"
        done = resume and (sset.out_dir / entry["file"]).is_file() and (
            not save_lowres or (sset.out_dir / entry["lowres_file"]).is_file())
        if not done:
            z = superres_latent(seed, cfg.z_dim, device)
            with contextlib.ExitStack() as stack:
                hr_w = stack.enter_context(VideoWriter(sset.out_dir / entry["file"], fps, **enc))
                lr_w = (stack.enter_context(VideoWriter(sset.out_dir / entry["lowres_file"], fps, **enc))
                        if save_lowres else None)
                for a in range(0, num_frames, sr_grid):
                    n = min(sr_grid, num_frames - a)
                    lr = reader.read_window(clip, first + a - k, n + 2 * k).to(device)
                    with torch.inference_mode(), deterministic_backends():
                        hr = G_sr(lr[None], z)[0]
                    hr_w.write(hr)
                    if lr_w is not None:
                        lr_w.write(lr[:, k:k + n])
        sset.videos.append(entry)
    return sset.finish()


def baseline_sample_set(G: nn.Module, method: str, num_videos: int, num_frames: int, seeds: int | Sequence[int],
                        out_dir: str | Path, *, t0: int | None = None, fps: float = 30) -> Path:
    """``num_videos`` videos of ``num_frames`` frames of a baseline generator, plus ``index.json``; each
    starts at its seed's random phase, or at ``t0`` when given. The videos a resumed run still needs are
    rendered together (:func:`lvg.baselines.common.generate_videos`)."""
    from lvg.baselines.common import generate_videos

    seeds = seed_list(seeds, num_videos)
    t0s = [phase_t0(s, BASELINE_PHASE) if t0 is None else t0 for s in seeds]
    header = {"format": INDEX_FORMAT, "kind": "generated", "method": method, "num_videos": num_videos,
              "num_frames": num_frames, "fps": fps, "encoding": SAMPLE_ENCODING,
              "models": {method: model_id(G)}, "seeds": seeds, "t0s": t0s,
              "mechanism": type(G).__name__ + " via lvg.baselines.common.generate_videos",
              "torch": torch.__version__}
    sset = SampleSetWriter(Path(out_dir), header)
    resume = sset.start()
    names = [f"{output_stem(seed, start, num_frames)}.mp4" for seed, start in zip(seeds, t0s, strict=True)]
    todo = [i for i, name in enumerate(names) if not (resume and (sset.out_dir / name).is_file())]
    if todo:
        videos = generate_videos(G, [seeds[i] for i in todo], [t0s[i] for i in todo], num_frames)
        for i, frames in zip(todo, videos, strict=True):
            write_video([frames], sset.out_dir / names[i], fps=fps, **SAMPLE_ENCODING)
    for seed, start, name in zip(seeds, t0s, names, strict=True):
        sset.videos.append({"file": name, "seed": seed, "t0": start, "num_frames": num_frames})
    log.info("%s: %d videos of %d frames -> %s", method, num_videos, num_frames, out_dir)
    return sset.finish()


def import_sample_set(folder: str | Path, out_dir: str | Path, *, min_frames: int = 16,
                      field: str = "samples_from") -> Path:
    """Index a folder of videos (``VIDEO_SUFFIXES``, sorted by name) produced outside lvg."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, f"{field}: not a folder of videos")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not files:
        raise InputError(folder, f"{field}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    videos = []
    for p in files:
        info = probe(p, count=True)
        if info.num_frames < min_frames:
            raise InputError(p, f"{field}: has {info.num_frames} frames, at least {min_frames} are needed")
        videos.append({"file": str(p.resolve()), "num_frames": info.num_frames,
                       "size": [info.height, info.width]})
    header = {"format": INDEX_FORMAT, "kind": "external", "source": str(folder.resolve()),
              "num_videos": len(videos), "models": {"external": str(folder.resolve())}}
    sset = SampleSetWriter(Path(out_dir), header)
    sset.start()
    sset.videos = videos
    return sset.finish()


def untrained_models(lowres: dict[str, Any], superres: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
    """The LR and SR generators as training initialises them from their ``train_lowres`` /
    ``train_superres`` sections (same presets, overrides and seeds)."""
    from lvg.config import validate_section
    from lvg.train import lowres as lr_train
    from lvg.train import superres as sr_train

    # the control is the networks at their random init, also when training fine-tunes from init_from
    lowres, superres = (validate_section(name, dict(sec)) | {"init_from": None}
                        for name, sec in ((lr_train.SECTION, lowres), (sr_train.SECTION, superres)))
    G_lr, _ = lr_train.build_networks(lr_train.LowResTrainConfig.from_dict(lowres))
    G_sr, _ = sr_train.build_networks(sr_train.SRTrainConfig.from_dict(superres))
    return G_lr.eval().requires_grad_(False), G_sr.eval().requires_grad_(False)


def untrained_sample_set(lowres: dict[str, Any], superres: dict[str, Any], samples: dict[str, Any],
                         out_dir: str | Path) -> Path:
    """The ``ours_untrained`` control: the ``samples`` settings, networks at their initialisation."""
    G_lr, G_sr = untrained_models(lowres, superres)
    s = samples
    return generate_sample_set(G_lr, G_sr if s["resolution"] == "hr" else None, s["num_videos"], s["num_frames"],
                               s["seed"], out_dir, resolution=s["resolution"], max_memory=s.get("max_memory"))


# ============================================================================================ reading
@dataclass
class SampleSet:
    """A generated (or imported) sample set: its directory, index and video paths with their lengths.

    Decoded frames are kept (up to ``cache_bytes``) so that the FVD16, FVD128 and colour passes over the
    same videos decode each video once; beyond the budget (the paper's 2048-video sets) they are re-read.
    """

    root: Path
    index: dict[str, Any]
    paths: list[Path]
    lengths: list[int]
    cache_bytes: int = 2 << 30
    _decoded: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, samples_dir: str | Path) -> SampleSet:
        root = Path(samples_dir)
        index_path = root / "index.json"
        index = read_json(index_path)
        videos = index.get("videos")
        if not isinstance(videos, list) or not videos:
            raise InputError(index_path, "no videos listed (field 'videos')")
        paths, lengths = [], []
        for i, v in enumerate(videos):
            if not isinstance(v, dict) or "file" not in v or "num_frames" not in v:
                raise InputError(index_path, "each video needs 'file' and 'num_frames'", f"videos[{i}]")
            p = Path(v["file"])
            p = p if p.is_absolute() else root / p
            if not p.is_file():
                raise InputError(index_path, f"listed video {p} does not exist", f"videos[{i}]")
            paths.append(p)
            lengths.append(int(v["num_frames"]))
        return cls(root, index, paths, lengths)

    def sha256(self) -> str:
        """Hash of the index file: identifies the sample set in the records."""
        return hashlib.sha256((self.root / "index.json").read_bytes()).hexdigest()

    def long_videos(self, min_frames: int) -> list[int]:
        """Indices of the videos with at least ``min_frames`` frames (what the semantic-change metrics read)."""
        return [i for i, n in enumerate(self.lengths) if n >= min_frames]

    def read(self, video: int, start: int, length: int) -> np.ndarray:
        """uint8 [T, H, W, 3] frames ``start .. start + length - 1`` of one video."""
        stop = start + length
        cached = self._decoded.get(video)
        if cached is not None and len(cached) >= stop:
            return cached[start:stop]
        used = sum(a.nbytes for k, a in self._decoded.items() if k != video)
        frame_bytes = next((a[0].nbytes for a in self._decoded.values()), 0)
        whole = used + frame_bytes * self.lengths[video] <= self.cache_bytes  # decode it all, keep it
        frames = [f for _, f in iter_frames(self.paths[video], 0, max(stop, self.lengths[video]) if whole else stop)]
        if len(frames) < stop:
            raise InputError(self.paths[video], f"has {len(frames)} frames, {stop} needed")
        decoded = np.stack(frames)
        if whole and used + decoded.nbytes <= self.cache_bytes:
            self._decoded[video] = decoded
        return decoded[start:stop]
