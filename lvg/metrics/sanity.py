"""Does the metric mean something? A sanity ranking every detector must pass before its numbers go in a table.

Against real statistics, FVD is computed for another sample of real windows (``real``) and for that sample
degraded in four ways; a detector that measures realism ranks the real sample best and each degradation
clearly worse (:func:`lvg.evaluate.run_sanity` does it against Table 1's statistics and on the clips the
world detector never trained on):

* ``shuffled``: the frames of each clip in a random order (right frames, wrong time);
* ``frozen``: the first frame repeated (no motion at all);
* ``blurred``: a heavy Gaussian blur (sigma = 1/16 of the frame size) on every frame;
* ``blobs``: saturated colour blobs, new ones in every frame (the failure mode that fooled ``i3d-random``).

"Clearly worse" is ``FVD > factor * FVD(real)`` and beyond ``real``'s mean + 3 std over the seeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

DEGRADATIONS = ("shuffled", "frozen", "blurred", "blobs")
CLEARLY_WORSE = 2.0


def _generator(seed: int, k: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(k))


def gaussian_blur(clip: torch.Tensor, sigma: float) -> torch.Tensor:
    """uint8 ``[3, T, H, W]`` blurred per frame with a separable Gaussian (reflect padding)."""
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = (k / k.sum())
    frames = clip.permute(1, 0, 2, 3).float()  # [T, 3, H, W]
    c = frames.shape[1]
    frames = F.pad(frames, (radius, radius, radius, radius), mode="reflect")
    frames = F.conv2d(frames, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    frames = F.conv2d(frames, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return frames.round().clamp(0, 255).to(torch.uint8).permute(1, 0, 2, 3)


def colour_blobs(t: int, h: int, w: int, generator: torch.Generator, blobs: int = 4) -> torch.Tensor:
    """uint8 ``[3, T, H, W]``: per frame, ``blobs`` fully saturated colour blobs on a dark ground (all frames
    drawn at once: a per-frame loop made this the sanity rule's largest cost after the detector)."""
    centre = torch.rand(t, blobs, 2, generator=generator) * torch.tensor([h, w])
    radius = (0.1 + 0.25 * torch.rand(t, blobs, generator=generator)) * min(h, w)
    first, second = torch.randint(3, (2, t, blobs), generator=generator)
    level = torch.rand(t, blobs, generator=generator)
    colour = F.one_hot(first, 3) * 255.0 + F.one_hot(second, 3) * (255.0 * level)[..., None]  # [T, B, 3]
    yy = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    xx = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    d2 = (yy - centre[..., 0, None, None]) ** 2 + (xx - centre[..., 1, None, None]) ** 2
    mask = torch.exp(-d2 / (2 * radius[..., None, None] ** 2))  # [T, B, H, W]
    out = (colour[..., None, None] * mask[:, :, None]).amax(dim=1)  # [T, 3, H, W]
    return out.clamp(0, 255).to(torch.uint8).permute(1, 0, 2, 3).contiguous()


def degrade(clip: torch.Tensor, kind: str, seed: int, k: int) -> torch.Tensor:
    """Clip ``k`` (uint8 ``[3, T, H, W]``) degraded by ``kind`` (:data:`DEGRADATIONS`), reproducibly."""
    g = _generator(seed, k)
    _, t, h, w = clip.shape
    if kind == "shuffled":
        return clip[:, torch.randperm(t, generator=g)]
    if kind == "frozen":
        return clip[:, :1].expand(-1, t, -1, -1).contiguous()
    if kind == "blurred":
        return gaussian_blur(clip, sigma=min(h, w) / 16)
    if kind == "blobs":
        return colour_blobs(t, h, w, g)
    raise ValueError(f"unknown degradation {kind!r} (choose from {', '.join(DEGRADATIONS)})")


def degraded(clips: Iterator[torch.Tensor], kind: str, seed: int) -> Iterator[torch.Tensor]:
    for k, clip in enumerate(clips):
        yield degrade(clip, kind, seed, k)


def verdict(values: dict[str, dict[str, Any]], factor: float = CLEARLY_WORSE) -> dict[str, Any]:
    """``values[set] = {"mean", "std"}`` for ``real`` and each degradation -> pass / fail per degradation."""
    base = values["real"]
    bar = max(factor * base["mean"], base["mean"] + 3 * (base.get("std") or 0.0))
    checks = {k: {"mean": v["mean"], "ratio": v["mean"] / base["mean"] if base["mean"] > 0 else float("inf"),
                  "clearly_worse": bool(v["mean"] > bar)} for k, v in values.items() if k != "real"}
    best = min(values, key=lambda k: values[k]["mean"])
    return {"real": base, "bar": bar, "factor": factor, "degradations": checks,
            "real_best": best == "real", "passed": best == "real" and all(c["clearly_worse"]
                                                                                 for c in checks.values())}


def ranking_line(name: str, clip_len: int, result: dict[str, Any]) -> str:
    """One readable line: ``world FVD16: real 3.10, shuffled 40.2 (13x), ... -> passed``."""
    parts = [f"real {result['real']['mean']:.2f}"] + [
        f"{k} {v['mean']:.1f} ({v['ratio']:.0f}x{'' if v['clearly_worse'] else ', NOT clearly worse'})"
        for k, v in result["degradations"].items()]
    return f"{name} FVD{clip_len}: " + ", ".join(parts) + (" -> passed" if result["passed"] else " -> FAILED")


def as_uint8(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``[T, H, W, 3]`` -> ``[3, T, H, W]``."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2)
