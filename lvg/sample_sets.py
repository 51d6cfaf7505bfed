"""Sample sets of the methods other than our trained model: baselines, imported folders, the untrained control.

Every set has the layout :func:`lvg.generate.generate_sample_set` writes (``index.json`` listing ``videos``
with ``file`` and ``num_frames``; lossless yuv444p mp4s), so :mod:`lvg.evaluate` reads them all the same way.

* :func:`baseline_sample_set`: video ``seed`` of a trained baseline from frame ``t0`` (the seed's random
  phase in ``[0, 32)``, as for our model), rendered by the method's own long-video mechanism
  (:func:`lvg.baselines.train.generate_frames`).
* :func:`import_sample_set`: a folder of videos made elsewhere (e.g. by the original code, config
  ``baselines.<method>.samples_from``) is indexed in place; nothing is re-encoded.
* :func:`untrained_sample_set`: our networks exactly as training initialises them (same config, same seed),
  the control row of Table 1 that a trained model must beat.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lvg.config import validate_config
from lvg.data.video import probe
from lvg.errors import InputError
from lvg.generate import (
    INDEX_FORMAT,
    SAMPLE_ENCODING,
    _SampleSet,
    _seed_list,
    generate_sample_set,
    model_id,
    output_stem,
    phase_t0,
    write_video,
)

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov")
BASELINE_PHASE = 32  # random phase of the first frame, as for our model's 1/32 grid


def baseline_sample_set(G: nn.Module, method: str, num_videos: int, num_frames: int, seeds: int | Sequence[int],
                        out_dir: str | Path, *, t0: int | None = None, fps: float = 30) -> Path:
    """``num_videos`` videos of ``num_frames`` frames of a baseline generator, plus ``index.json``; each
    starts at its seed's random phase, or at ``t0`` when given."""
    from lvg.baselines.train import generate_frames

    seeds = _seed_list(seeds, num_videos)
    t0s = [phase_t0(s, BASELINE_PHASE) if t0 is None else t0 for s in seeds]
    header = {"format": INDEX_FORMAT, "kind": "generated", "method": method, "num_videos": num_videos,
              "num_frames": num_frames, "fps": fps, "encoding": SAMPLE_ENCODING,
              "models": {method: model_id(G)}, "seeds": seeds, "t0s": t0s,
              "mechanism": type(G).__name__ + " via lvg.baselines.train.generate_frames",
              "torch": torch.__version__}
    sset = _SampleSet(Path(out_dir), header)
    resume = sset.start()
    for seed, start in zip(seeds, t0s, strict=True):
        name = f"{output_stem(seed, start, num_frames)}.mp4"
        if not (resume and (sset.out_dir / name).is_file()):
            frames = generate_frames(G, seed, start, num_frames)
            write_video([frames], sset.out_dir / name, fps=fps, **SAMPLE_ENCODING)
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
    sset = _SampleSet(Path(out_dir), header)
    sset.start()
    sset.videos = videos
    return sset.finish()


def untrained_models(cfg: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
    """The LR and SR generators as training initialises them (same presets, overrides and seeds)."""
    from lvg.train import lowres, superres

    config = validate_config(copy.deepcopy(cfg), source="config")
    G_lr, _ = lowres.build_networks(lowres.LowResTrainConfig.from_dict(config["train_lowres"]))
    G_sr, _ = superres.build_networks(superres.SRTrainConfig.from_dict(config["train_superres"]))
    return G_lr.eval().requires_grad_(False), G_sr.eval().requires_grad_(False)


def untrained_sample_set(cfg: dict[str, Any], out_dir: str | Path) -> Path:
    """The ``ours_untrained`` control: ``samples`` settings, networks at their initialisation."""
    G_lr, G_sr = untrained_models(cfg)
    s = cfg["samples"]
    return generate_sample_set(G_lr, G_sr if s["resolution"] == "hr" else None, s["num_videos"], s["num_frames"],
                               s["seed"], out_dir, resolution=s["resolution"])
