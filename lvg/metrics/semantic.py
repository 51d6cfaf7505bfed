"""Semantic change: does new content appear at the right rate? Measured on the `world` detector's readout of
long videos (:meth:`lvg.metrics.world.WorldDetector.readout`), generated and real alike.

LongVideoGAN's claim is about the time axis: over thousands of frames the scenery should change (a new
biome, the light of another hour) as often as in the real videos, not freeze (StyleGAN-V, DIGAN) nor churn
(MoCoGAN-HD, TATS). Colour similarity (Fig. 5) sees this through colour histograms; these metrics see it
through what the world detector recognises:

* ``biome_changes_per_min``: changes of the recognised biome per minute of video (30 fps). The per-frame
  biome probabilities are averaged over a one-second window before the argmax, so a single misread frame
  is not a change.
* ``hour_drift_per_1k``: how fast the time of day moves, in hours per 1,000 frames: the absolute slope of a
  least-squares line through the recognised hours from midday (the detector's ``sun`` head: the light
  shows how far the day is from noon, not on which side, :data:`lvg.data.world.NOON`).
* ``drift``: the mean absolute change of the standardised regression readout (time of day, fog, cloud
  cover, camera speed, horizon, exposure, warmth, and sky fraction) between frames ``t`` and
  ``t + lag``, for lags 1 .. 512: a semantic counterpart of the colour-similarity curve.

Totals pool all videos: changes over total minutes, the mean slope, and per lag the mean over every pair
of frames that far apart.

Only heads that beat chance by 0.1 on the detector's held-out clips and renders (not
:func:`unreliable_heads`) enter a metric: a
head that reads noise would report drift that is not there (on the default world the hour head does not:
the light moves less across hours 9-15 than the per-shot exposure does). A metric whose head is left out
is ``None``, and the record names every head left out with its held-out score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lvg.data.world import REGRESSION

LAGS = (1, 4, 16, 64, 128, 256, 512)
SMOOTH_FRAMES = 31  # ~1 s at 30 fps
HOUR_SCALE = REGRESSION["sun"][2]  # standardised hours from midday -> hours
REGRESSION_NAMES = list(REGRESSION)


def biome_changes(probs: np.ndarray, smooth: int = SMOOTH_FRAMES) -> int:
    """Changes of the argmax of ``probs`` ``[T, K]`` after a centred moving average over ``smooth`` frames."""
    if len(probs) < 2:
        return 0
    k = min(smooth, len(probs))
    kernel = np.ones(k) / k
    sm = np.stack([np.convolve(probs[:, j], kernel, mode="same") for j in range(probs.shape[1])], axis=1)
    labels = sm.argmax(axis=1)
    return int((labels[1:] != labels[:-1]).sum())


def hour_slope(regression: np.ndarray) -> float:
    """|d hour / d frame| in hours per frame, from the standardised readout of hours from midday (``sun``)."""
    hours = regression[:, list(REGRESSION).index("sun")] * HOUR_SCALE
    t = np.arange(len(hours), dtype=np.float64)
    return float(abs(np.polyfit(t, hours, 1)[0])) if len(hours) > 2 else 0.0


MIN_LIFT = 0.1  # how far above chance a head must score on held-out data to enter a metric


def unreliable_heads(heldout: Mapping[str, Mapping[str, float]] | None,
                     renders: Mapping[str, Mapping[str, float]] | None = None,
                     margin: float = MIN_LIFT) -> dict[str, str]:
    """``{head: why}`` for the heads left out: those that do not beat their chance level by ``margin`` on the
    held-out clips (``heldout``, as :func:`lvg.train.world.evaluate_heads` writes it) and, where given, on the
    held-out renders (``renders``); ``None`` leaves nothing out. Why both: the dataset holds out ~8 shots, and
    a head can beat chance on so few by luck (fog: R² 0.12 on the clips, 0.02 on ~47 renders)."""
    out = {}
    for head, h in (heldout or {}).items():
        for where, r in (("held-out clips", h), ("held-out renders", (renders or {}).get(head))):
            if r is not None and not r["value"] > r["chance"] + margin:
                out[head] = f"{where}: {r['metric']} {r['value']:.3f}, not {margin} above chance {r['chance']:.3f}"
                break
    return out


def change_summary(readouts: Iterable[dict[str, np.ndarray]], fps: float = 30.0, lags: Sequence[int] = LAGS,
                   left_out: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The pooled metrics (see the module doc) of several videos' readouts, without the heads ``left_out``
    (``{head: why}``, :func:`unreliable_heads`)."""
    left_out = dict(left_out or {})
    cols = [i for i, head in enumerate(REGRESSION) if head not in left_out]
    changes, minutes, slopes, frames = 0, 0.0, [], []
    sums = np.zeros(len(lags))
    counts = np.zeros(len(lags))
    for r in readouts:
        n = len(r["regression"])
        frames.append(n)
        changes += biome_changes(r["biome"])
        minutes += n / fps / 60
        slopes.append(hour_slope(r["regression"]))
        reg = r["regression"][:, cols]
        for i, lag in enumerate(lags):
            if lag < n:
                d = np.abs(reg[lag:] - reg[:-lag]).mean(axis=1)
                sums[i] += d.sum()
                counts[i] += len(d)
    drift = [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
    return {"num_videos": len(frames), "frames": frames, "fps": fps,
            "biome_changes_per_min": changes / minutes if minutes and "biome" not in left_out else None,
            "hour_drift_per_1k": float(np.mean(slopes)) * 1000 if slopes and "sun" not in left_out else None,
            "drift": {"lags": list(lags), "mean": drift, "heads": [REGRESSION_NAMES[i] for i in cols]},
            "left_out": left_out}
