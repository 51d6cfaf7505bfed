"""Scene-cut detection with PySceneDetect: the automatic half of the trim (the manifest is the manual half).

For each raw video we save the detected cut list with the detector settings that produced it (JSON), the
human-readable scene list (PySceneDetect's CSV without the leading cut-list line) and the per-frame stats CSV
that people use to tune thresholds (spec/data.md §7.3).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import scenedetect
from scenedetect import AdaptiveDetector, ContentDetector, detect
from scenedetect.scene_manager import write_scene_list

from lvg.data.video import probe
from lvg.errors import InputError
from lvg.io import atomic_open, atomic_path, read_json, write_json

log = logging.getLogger(__name__)


def make_detector(cfg: dict[str, Any]) -> scenedetect.detector.SceneDetector:
    """The detector named by the ``scenes`` config section."""
    if cfg["detector"] == "content":
        return ContentDetector(threshold=cfg["threshold"], min_scene_len=cfg["min_scene_len"])
    if cfg["detector"] == "adaptive":
        return AdaptiveDetector(adaptive_threshold=cfg["threshold"], min_scene_len=cfg["min_scene_len"])
    raise InputError("params.yaml", f"scenes.detector: unknown detector {cfg['detector']!r}")


def detect_cuts(video: str | Path, cfg: dict[str, Any], stats_csv: str | Path | None = None,
                progress: bool = False) -> tuple[list[int], list[tuple[Any, Any]]]:
    """Frame indices where a new scene starts (0 excluded), and PySceneDetect's scene list."""
    try:
        scenes = detect(str(video), make_detector(cfg), stats_file_path=stats_csv, show_progress=progress,
                        backend=cfg.get("backend", "opencv"))
    except Exception as e:  # PySceneDetect raises several types for unreadable input
        raise InputError(video, f"scene detection failed: {e}") from None
    cuts = [start.frame_num for start, _ in scenes[1:]]
    return cuts, scenes


def run_scenes(video: str | Path, out_json: str | Path, out_csv: str | Path, cfg: dict[str, Any],
               stats_csv: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """Phase entry point (Snakemake rule ``scenes_detect`` and ``lvg scenes``).

    The JSON also records the video's exact frame count and rate (decoded, not the container's claim), so
    the clips phase can check keep-intervals against the real length without opening the video again.
    """
    info = probe(video, count=True)
    if stats_csv is not None:
        with atomic_path(stats_csv) as tmp_stats:
            cuts, scenes = detect_cuts(video, cfg, tmp_stats, progress)
    else:
        cuts, scenes = detect_cuts(video, cfg, None, progress)
    with atomic_open(out_csv, "w", newline="") as f:
        write_scene_list(f, scenes, include_cut_list=False)
    record = {
        "video": Path(video).name,
        "fps": info.fps,
        "num_frames": info.num_frames,
        "width": info.width,
        "height": info.height,
        "cuts": cuts,
        "detector": dict(cfg),
        "scenedetect_version": scenedetect.__version__,
    }
    write_json(out_json, record)
    log.info("%s: %d frames, %d cuts", video, info.num_frames, len(cuts))
    return record


def cut_accuracy(detected: list[int], truth: list[int], tolerance: int = 1) -> dict[str, float | int]:
    """Precision/recall of detected cuts against ground truth, matching each true cut at most once within
    ``tolerance`` frames (a detector may place a cut one frame early or late at a fade-free boundary)."""
    unmatched = sorted(detected)
    tp = 0
    for cut in sorted(truth):
        hit = next((d for d in unmatched if abs(d - cut) <= tolerance), None)
        if hit is not None:
            unmatched.remove(hit)
            tp += 1
    fp, fn = len(unmatched), len(truth) - tp
    return {"true_positives": tp, "false_positives": fp, "false_negatives": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0}


def run_scene_accuracy(scene_jsons: list[str | Path], truth_jsons: list[str | Path], out_csv: str | Path,
                       tolerance: int = 1) -> pd.DataFrame:
    """Per-source and overall precision/recall of the detector on videos with known cuts (synthetic ones).

    Two rows per source: all hard cuts (including into and out of defects), and scene cuts only (the cuts
    between ride shots, the ones that must split clips)."""
    rows = []
    for sj, tj in zip(scene_jsons, truth_jsons, strict=True):
        detected, truth = read_json(sj)["cuts"], read_json(tj)
        other = [c for c in truth["cuts"] if c not in truth["scene_cuts"]]
        # Detections explained by a defect boundary are neither hits nor false alarms for scene cuts.
        scene_candidates = [d for d in detected if all(abs(d - c) > tolerance for c in other)]
        for kind, cands in (("cuts", detected), ("scene_cuts", scene_candidates)):
            rows.append({"source": Path(sj).stem, "truth": kind, **cut_accuracy(cands, truth[kind], tolerance)})
    table = pd.DataFrame(rows)
    for kind, group in table.groupby("truth"):
        tp, fp, fn = (int(group[c].sum()) for c in ("true_positives", "false_positives", "false_negatives"))
        rows.append({"source": "ALL", "truth": kind, "true_positives": tp, "false_positives": fp,
                     "false_negatives": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
                     "recall": tp / (tp + fn) if tp + fn else 1.0})
    table = pd.DataFrame(rows)
    with atomic_open(out_csv, "w", newline="") as f:
        table.to_csv(f, index=False, float_format="%.4f")
    return table
