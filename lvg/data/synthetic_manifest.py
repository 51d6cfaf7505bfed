"""The shipped manifest of the synthetic dataset, derived once from the renderer's ground truth.

The keep-intervals play the part of a human's manual trim: they exclude every title card, black segment,
text overlay and end card of each video, exactly as a person would after watching it. The file is generated
by ``lvg manifest synthetic`` and committed; tests check it still removes every defect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lvg.data.synthetic import SyntheticSpec, plan_video, suggest_keep_intervals


def synthetic_manifest(count: int = 8, seed: int = 0, min_seconds: float = 30.0, max_seconds: float = 60.0,
                       height: int = 288, width: int = 512, fps: int = 30, shot_min_s: float = 4.0,
                       shot_max_s: float = 12.0) -> dict[str, Any]:
    """Manifest dict for ``count`` synthetic rides with durations uniform in [min_seconds, max_seconds]."""
    rng = np.random.default_rng(seed)
    durations = np.round(rng.uniform(min_seconds, max_seconds, size=count), 1)
    sources = {}
    for i, duration in enumerate(durations):
        spec = SyntheticSpec(seed=seed * 1000 + i, duration_s=float(duration), fps=fps, height=height, width=width,
                             shot_min_s=shot_min_s, shot_max_s=shot_max_s)
        truth = plan_video(spec)
        sources[f"ride_{i:03d}"] = {"kind": "synthetic", "synthetic": spec.to_dict(),
                                    "keep": suggest_keep_intervals(truth)}
    return {
        "dataset": "synthetic",
        "description": "Rendered rides through a layered parallax world with slow global change, hard scene "
                       "cuts and upload defects (title cards, black frames, text overlays, end cards).",
        "licence": "CC0-1.0",
        "attribution": "lvg synthetic world (lvg.data.synthetic)",
        "origin": f"lvg manifest synthetic --count {count} --seed {seed}",
        "sources": sources,
    }
