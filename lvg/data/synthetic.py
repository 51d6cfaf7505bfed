"""The embedded default dataset: a deterministic synthetic "long-video world" of ride videos.

Each source video is a sequence of ride *shots* — a side view from a rider moving past layered parallax
scenery (sky and clouds, far mountains, rolling hills, a tree line, a field with grazing animals, fences, a
track with other riders and cyclists, near bushes and posts) — separated by hard scene cuts, plus the defects
of real uploads: an opening title card, black frames, a "subscribe" text overlay and an end card.

The world is a function of *ride time* ``u`` (seconds): time of day, cloud cover, fog, the biome's colours and
a slow colour drift all change smoothly over minutes, so the colour similarity between frame 0 and frame t
falls with t within a shot, as in real riding videos. A shot plays a stretch of ride time; a scene cut jumps
forward to another stretch of the ride, chosen so that the picture changes clearly (another biome and cloud
cover, another camera height and exposure, sometimes the other side of the track).

Everything is derived from ``SyntheticSpec.seed`` through seeded numpy Generators and a counter-based hash,
so the same spec gives bit-identical frames (on one platform: numpy's sin/cos may differ in the last bit
elsewhere), and any frame can be rendered on its own
(:meth:`SyntheticVideo.frame`). Rendering composites per-frame *index* images (layer, material, shade) from
precomputed tileable textures and sprites and maps them to RGB through one small per-frame colour table, so
all lighting, weather and biome changes cost a few thousand operations per frame.

Public API: :class:`SyntheticSpec`, :func:`plan_video` (the ground truth without rendering),
:func:`render_video` (H.264 mp4 + truth JSON, atomically), :func:`iter_frames`, :class:`SyntheticVideo`,
:func:`suggest_keep_intervals`, :func:`interval_frames`, :func:`rgb_to_yuv420p`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lvg.data.video import BT601_TV, VideoWriter
from lvg.io import atomic_open

WORLD_VERSION = 1  # bump when the same spec would render different frames
X264_PRESET = "veryfast"  # crf sets the quality; the preset only trades file size for speed
X264_THREADS = 1  # x264's output depends on its thread count: fix it so bytes match on every machine
# With macroblock-tree rate control, PyAV 18's libx264 (core 165, presets faster and slower, AVX-512 machine)
# read uninitialised memory when the width is not a multiple of 128: the bytes then depended on the heap's
# contents and changed from run to run. Without mbtree they are identical run to run and the same with
# AVX2 and AVX-512 (tests/test_synthetic.py checks this with a dirtied heap).
X264_PARAMS = "mbtree=0"

# Generator streams (SeedSequence entropy [seed, _SALT, stream]).
_SALT = 0x4C5647
_STREAM_PLAN, _STREAM_WORLD, _STREAM_CARDS = 0, 1, 2

# Defect and structure parameters (seconds).
_TITLE_S = (1.0, 2.0)
_END_S = (2.0, 3.0)
_BLACK_S = (0.1, 1.0)
_OVERLAY_S = (3.0, 6.0)
_GAP_S = (40.0, 400.0)  # ride time skipped at a scene cut
_MIN_BIOME_DIST = 35.0  # consecutive shots: biomes whose ground colours differ clearly (see _biome_dist)
_MIN_COVER_JUMP = 0.2  # ... and skies of clearly different cloud cover
_BIOME_LEN_S = (50.0, 150.0)
_BIOME_BLEND_S = 16.0
_HORIZON = (0.34, 0.62)  # horizon row as a fraction of the height
_MIN_HORIZON_JUMP = 0.18
_EXPOSURE = (0.8, 1.2)  # per-shot camera exposure and white balance
_MIN_EXPOSURE_JUMP = 0.15
_HOUR_RANGE = (6.5, 19.5)
_SLIDE_S = 0.3  # overlay slide-in / slide-out

DEFECT_KINDS = ("title_card", "black", "text_overlay", "end_card")


# ----------------------------------------------------------------------------------------------------------
# spec
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyntheticSpec:
    """One synthetic source video. ``seed`` decides everything; the other fields have dataset defaults.

    ``shot_min_s``/``shot_max_s`` bound the ride shots between scene cuts, ``defects`` switches the title
    card, black frames, overlay and end card on or off, ``crf`` is libx264's quality for :func:`render_video`.
    """

    seed: int
    duration_s: float = 40.0
    fps: int = 30
    height: int = 288
    width: int = 512
    shot_min_s: float = 5.0
    shot_max_s: float = 20.0
    defects: bool = True
    crf: int = 18

    def __post_init__(self) -> None:
        for name in ("duration_s", "shot_min_s", "shot_max_s"):
            value = getattr(self, name)
            if _is_number(value):
                object.__setattr__(self, name, float(value))
        problems = _spec_problems(self)
        if problems:
            raise ValueError("invalid synthetic spec: " + "; ".join(problems))

    @property
    def num_frames(self) -> int:
        return int(round(self.duration_s * self.fps))

    @classmethod
    def from_dict(cls, d: dict) -> SyntheticSpec:
        """Build from a manifest's dict; ValueError naming unknown, missing or invalid keys."""
        if not isinstance(d, dict):
            raise ValueError(f"synthetic spec must be a mapping, got {type(d).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(str(k) for k in d if k not in known)
        if unknown:
            raise ValueError(f"unknown key(s) in synthetic spec: {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(known)})")
        if "seed" not in d:
            raise ValueError("synthetic spec is missing the required key 'seed'")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _spec_problems(s: SyntheticSpec) -> list[str]:
    p = []
    if not _is_int(s.seed) or s.seed < 0:
        p.append(f"'seed' must be a non-negative integer, got {s.seed!r}")
    if not _is_int(s.fps) or not 1 <= s.fps <= 240:
        p.append(f"'fps' must be an integer in [1, 240], got {s.fps!r}")
    for name in ("height", "width"):
        v = getattr(s, name)
        if not _is_int(v) or v < 32 or v > 4320 or v % 2:
            p.append(f"'{name}' must be an even integer in [32, 4320] (yuv420p), got {v!r}")
    for name in ("duration_s", "shot_min_s", "shot_max_s"):
        v = getattr(s, name)
        if not _is_number(v) or not math.isfinite(v) or v <= 0:
            p.append(f"'{name}' must be a positive number, got {v!r}")
    if not p and s.shot_max_s < s.shot_min_s:
        p.append(f"'shot_max_s' ({s.shot_max_s}) must be >= 'shot_min_s' ({s.shot_min_s})")
    if not p and s.num_frames < 16:
        p.append(f"'duration_s' gives {s.num_frames} frames at {s.fps} fps; at least 16 are needed")
    if not isinstance(s.defects, (bool, np.bool_)):
        p.append(f"'defects' must be true or false, got {s.defects!r}")
    if not _is_int(s.crf) or not 0 <= s.crf <= 51:
        p.append(f"'crf' must be an integer in [0, 51], got {s.crf!r}")
    return p


# ----------------------------------------------------------------------------------------------------------
# biomes and light
# ----------------------------------------------------------------------------------------------------------

# Per biome: far hills, near hills, field, track, near ground, foliage, trunks, rocks (RGB in daylight).
_BIOMES: list[tuple[str, dict[str, tuple[int, int, int]]]] = [
    ("meadow", dict(far=(112, 132, 156), mid=(86, 128, 72), field=(112, 166, 72), track=(156, 124, 88),
                    near=(78, 138, 54), foliage=(52, 108, 46), trunk=(92, 66, 46), rock=(132, 130, 124))),
    ("autumn", dict(far=(128, 116, 128), mid=(150, 92, 52), field=(172, 122, 62), track=(118, 84, 60),
                    near=(150, 102, 50), foliage=(206, 98, 36), trunk=(82, 56, 40), rock=(122, 110, 100))),
    ("prairie", dict(far=(186, 142, 118), mid=(196, 154, 100), field=(222, 194, 118), track=(204, 162, 110),
                     near=(186, 160, 86), foliage=(118, 128, 66), trunk=(112, 86, 60), rock=(176, 122, 90))),
    ("alpine", dict(far=(132, 144, 172), mid=(74, 112, 86), field=(96, 150, 84), track=(138, 128, 118),
                    near=(84, 136, 70), foliage=(36, 78, 54), trunk=(70, 54, 44), rock=(140, 140, 146))),
    ("snow", dict(far=(196, 208, 228), mid=(214, 222, 234), field=(236, 240, 246), track=(176, 170, 166),
                  near=(226, 232, 242), foliage=(40, 66, 54), trunk=(60, 50, 44), rock=(108, 108, 114))),
    ("coast", dict(far=(62, 118, 168), mid=(176, 164, 122), field=(196, 186, 136), track=(214, 198, 150),
                   near=(118, 152, 88), foliage=(88, 130, 78), trunk=(100, 80, 60), rock=(150, 146, 136))),
    ("heath", dict(far=(118, 108, 142), mid=(112, 86, 112), field=(146, 96, 132), track=(118, 98, 80),
                   near=(102, 112, 70), foliage=(78, 108, 58), trunk=(86, 64, 50), rock=(120, 116, 118))),
]
BIOME_NAMES = tuple(name for name, _ in _BIOMES)

# Kinds of material (16 per layer, 16 shades each).
K_GROUND, K_FOLIAGE, K_TRUNK, K_ROCK, K_SNOW, K_WALL, K_ROOF = range(7)
K_COAT, K_CLOTH, K_DARK = 7, 11, 15  # 4 coats, 4 cloths
_FIXED_KINDS = {
    K_SNOW: (246, 248, 255), K_WALL: (214, 200, 178), K_ROOF: (150, 62, 50),
    K_COAT + 0: (112, 72, 42), K_COAT + 1: (42, 36, 32), K_COAT + 2: (226, 220, 210), K_COAT + 3: (156, 84, 40),
    K_CLOTH + 0: (204, 40, 40), K_CLOTH + 1: (40, 72, 176), K_CLOTH + 2: (234, 190, 40),
    K_CLOTH + 3: (236, 236, 236), K_DARK: (34, 34, 38),
}
# Layers, back to front. Each gets its own block of 16 kinds x 16 shades so haze can depend on depth.
L_FAR, L_MID, L_TREE, L_FIELD, L_ANIMAL, L_TRACK, L_RIDER, L_NEAR = range(8)
_NL, _NK, _NS = 8, 16, 16
_LAYER_GROUND = {L_FAR: "far", L_MID: "mid", L_TREE: "field", L_FIELD: "field", L_ANIMAL: "field",
                 L_TRACK: "track", L_RIDER: "track", L_NEAR: "near"}
_HAZE0 = np.array([0.32, 0.18, 0.13, 0.06, 0.09, 0.02, 0.02, 0.0])
# Fog's haze per layer, on top of _HAZE0. Fog ranges over [0, 1] (mean 0.33, std 0.29 over the world corpus).
# With fog in [0, ~0.5] and this haze at [0.55 .. 0.08], fog was faint next to cloud cover's grey: the world
# detector's held-out R² for it stayed at -0.19 / 0.06 (clips / renders); now 0.66 / 0.64 (issue #11).
_HAZE_FOG = np.array([0.60, 0.60, 0.60, 0.50, 0.55, 0.35, 0.35, 0.20])
_SHADE = 0.62 + 0.56 * np.arange(_NS) / (_NS - 1)
_SKY0 = _NL * _NK * _NS
_NG, _NC = 32, 32  # sky gradient levels x cloud levels
LUT_SIZE = _SKY0 + _NG * _NC

# Light through the day: hour -> (zenith, horizon, light multiplier), symmetric about 12:15. Up to stop 27
# the tables had no knots between 9:00 and 15:00 and changed little there (the light by 5%, less than the
# camera's exposure spread of +-11.5%), while half the shots fall between 9:40 and 13:05: the world detector
# read hours from midday with R² 0.09-0.15. The knots at 10:30 and 13:30 and a deeper noon sky with whiter
# light make the sun's height visible all day (R² 0.50 on held-out renders; benchmarks/world_detector_heads.py).
_HOURS = np.array([5.5, 7.0, 9.0, 10.5, 12.0, 13.5, 15.0, 17.5, 19.0, 20.5])
_ZENITH = np.array([(40, 50, 100), (90, 120, 180), (105, 145, 200), (80, 130, 215), (50, 105, 230), (80, 130, 215),
                    (105, 145, 200), (85, 110, 180), (70, 70, 130), (35, 35, 80)], float)
_HORIZON_SKY = np.array([(200, 120, 100), (250, 190, 150), (225, 215, 205), (205, 215, 230), (180, 205, 245),
                         (205, 215, 230), (225, 215, 205), (250, 200, 150), (250, 140, 90), (120, 70, 80)], float)
_LIGHT = np.array([(0.55, 0.45, 0.50), (0.95, 0.80, 0.70), (0.97, 0.88, 0.78), (1.02, 0.98, 0.92), (1.08, 1.08, 1.08),
                   (1.02, 0.98, 0.92), (0.97, 0.88, 0.78), (1.0, 0.85, 0.70), (0.80, 0.55, 0.45), (0.45, 0.35, 0.45)])


def _code(layer: int, kind: int, shade: int | np.ndarray = 0) -> Any:
    return (layer * _NK + kind) * _NS + shade


def _smoothstep(a: float, b: float, x: Any) -> Any:
    t = np.clip((np.asarray(x, float) - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _interp_rows(x: float, xs: np.ndarray, table: np.ndarray) -> np.ndarray:
    return np.array([np.interp(x, xs, table[:, c]) for c in range(table.shape[1])])


def _pingpong(x: float, lo: float, hi: float) -> float:
    span = hi - lo
    t = (x - lo) % (2 * span)
    return lo + (t if t <= span else 2 * span - t)


def _waves(rng: np.random.Generator, n: int, amp: tuple[float, float], period: tuple[float, float],
           channels: int = 1) -> np.ndarray:
    """Coefficients of a sum of ``n`` sinusoids per channel: [n, channels, 3] (amplitude, period, phase)."""
    a = rng.uniform(*amp, size=(n, channels))
    p = rng.uniform(*period, size=(n, channels))
    ph = rng.uniform(0, 2 * np.pi, size=(n, channels))
    return np.stack([a, p, ph], axis=-1)


def _wave(u: float, coef: np.ndarray) -> np.ndarray:
    return (coef[..., 0] * np.sin(2 * np.pi * u / coef[..., 1] + coef[..., 2])).sum(axis=0)


# ----------------------------------------------------------------------------------------------------------
# plan: the ground truth
# ----------------------------------------------------------------------------------------------------------

def _weather(w: dict, u: float) -> tuple[float, float]:
    """(fog, cloud cover) in [0, 1] at ride time ``u``."""
    fog = float(np.clip(w["fog_mean"] + _wave(u, w["fog_coef"])[0], 0, 1))
    cover = float(np.clip(w["cover_mean"] + _wave(u, w["cover_coef"])[0], 0, 1))
    return fog, cover


def _partition(rng: np.random.Generator, total: int, k: int, lo: int, hi: int) -> list[int]:
    """``k`` integers in [lo, hi] (relaxed if infeasible) summing to ``total``, randomly spread."""
    lo = min(lo, total // k)
    hi = max(hi, -(-total // k))
    lengths = np.full(k, lo, dtype=np.int64)
    extra = total - k * lo
    while extra > 0:
        room = hi - lengths
        w = rng.random(k) * (room > 0)
        add = np.minimum(room, np.floor(extra * w / w.sum()).astype(np.int64))
        if add.sum() == 0:
            add[int(rng.choice(np.flatnonzero(room > 0)))] = 1
        lengths += add
        extra -= int(add.sum())
    return [int(v) for v in lengths]


def _biome_at(bounds: np.ndarray, ids: np.ndarray, u: float) -> int:
    return int(ids[int(np.searchsorted(bounds, u, side="right")) - 1])


def _rgb_to_hsv_cv(rgb: tuple[int, int, int]) -> np.ndarray:
    """OpenCV's 8-bit HSV (H in [0, 180)) of one colour, as PySceneDetect sees it."""
    r, g, b = (c / 255.0 for c in rgb)
    mx, mn = max(r, g, b), min(r, g, b)
    d = mx - mn
    if d == 0:
        h = 0.0
    elif mx == r:
        h = (60 * (g - b) / d) % 360
    elif mx == g:
        h = 60 * (b - r) / d + 120
    else:
        h = 60 * (r - g) / d + 240
    return np.array([h / 2, 255 * (d / mx if mx else 0.0), 255 * mx])


def _biome_dist(a: int, b: int) -> float:
    """Mean |dH|, |dS|, |dV| (OpenCV scale) between two biomes' ground colours."""
    pa, pb = _BIOMES[a][1], _BIOMES[b][1]
    return float(np.mean([np.abs(_rgb_to_hsv_cv(pa[k]) - _rgb_to_hsv_cv(pb[k])).mean()
                          for k in ("field", "near", "track", "mid")]))


def _draw_apart(rng: np.random.Generator, lo_hi: tuple[float, float], prev: float | None, gap: float) -> float:
    """Uniform in ``lo_hi`` and at least ``gap`` away from ``prev``."""
    lo, hi = lo_hi
    if prev is None:
        return float(rng.uniform(lo, hi))
    below, above = max(0.0, prev - gap - lo), max(0.0, hi - prev - gap)
    if below + above <= 0:
        return float(lo if prev - lo > hi - prev else hi)
    v = float(rng.uniform(0.0, below + above))
    return lo + v if v < below else prev + gap + (v - below)


def _plan(spec: SyntheticSpec) -> dict:
    """Internal plan: the truth dict plus what the renderer needs (under ``"_internal"``)."""
    rng = np.random.default_rng([spec.seed, _SALT, _STREAM_PLAN])
    fps, n = spec.fps, spec.num_frames

    def dur(lo_hi: tuple[float, float], cap: float) -> int:
        return max(2, min(int(round(rng.uniform(*lo_hi) * fps)), int(cap * n)))

    title = end = blacks_wanted = 0
    if spec.defects:
        title, end = dur(_TITLE_S, 0.1), dur(_END_S, 0.1)
        blacks_wanted = 1 + int(rng.random() < 0.5)
    body = n - title - end
    lo = max(1, int(round(spec.shot_min_s * fps)))
    hi = max(lo, int(round(spec.shot_max_s * fps)))
    k_lo, k_hi = max(1, -(-body // hi)), max(1, body // lo)
    k = int(np.clip(round(body / ((lo + hi) / 2)), k_lo, max(k_lo, k_hi)))
    n_black = min(blacks_wanted, k - 1)
    black_lens = [dur(_BLACK_S, 0.05) for _ in range(n_black)]
    shot_lens = _partition(rng, body - sum(black_lens), k, lo, hi)
    black_after = set(int(j) for j in rng.choice(k - 1, n_black, replace=False)) if n_black else set()

    # The ride: a biome sequence along ride time, shots at increasing ride times.
    ride_needed = k * (hi / fps + _GAP_S[1]) + 2 * _BIOME_LEN_S[1] + 60.0
    bounds, ids = [0.0], [int(rng.integers(len(_BIOMES)))]
    while bounds[-1] < ride_needed:
        bounds.append(bounds[-1] + float(rng.uniform(*_BIOME_LEN_S)))
        far = [i for i in range(len(_BIOMES)) if _biome_dist(ids[-1], i) >= _MIN_BIOME_DIST]
        ids.append(int(far[int(rng.integers(len(far)))]))
    bounds_a, ids_a = np.array(bounds), np.array(ids)
    hour0 = float(rng.uniform(6.5, 10.0))
    day_rate = float(rng.uniform(15.0, 25.0))  # day seconds per ride second
    weather = {"fog_mean": float(rng.uniform(0.0, 0.75)), "fog_coef": _waves(rng, 3, (0.12, 0.28), (60, 400)),
               "cover_mean": float(rng.uniform(0.15, 0.65)),
               "cover_coef": _waves(rng, 3, (0.1, 0.18), (60, 400))}

    def hour(u: float) -> float:
        return _pingpong(hour0 + u * day_rate / 3600.0, *_HOUR_RANGE)

    def settled(u: float) -> bool:  # not inside a biome transition
        j = int(np.searchsorted(bounds_a, u, side="right")) - 1
        near = min(u - bounds_a[j], (bounds_a[j + 1] - u) if j + 1 < len(bounds_a) else 1e9)
        return j == 0 and u < bounds_a[1] - _BIOME_BLEND_S or near > _BIOME_BLEND_S

    # A scene cut must change the picture clearly (PySceneDetect's ContentDetector at threshold 27 must
    # see it): the next shot is in a biome of clearly different colours, at another camera height and
    # exposure. Candidates are drawn until one qualifies (the best one is kept otherwise).
    shots = []
    u_prev_end, h_prev, e_prev = None, None, None
    for j in range(k):
        if u_prev_end is None:
            u0 = float(rng.uniform(0.0, 60.0))
        else:
            b_prev = _biome_at(bounds_a, ids_a, u_prev_end)
            c_prev = _weather(weather, u_prev_end)[1]
            best: tuple = ((-1.0, -1.0), u_prev_end + _GAP_S[0])
            for _ in range(300):
                cand = u_prev_end + float(rng.uniform(*_GAP_S))
                if not settled(cand):
                    continue
                d = _biome_dist(b_prev, _biome_at(bounds_a, ids_a, cand)) / _MIN_BIOME_DIST
                dc = abs(_weather(weather, cand)[1] - c_prev) / _MIN_COVER_JUMP
                score = (min(d, 1.0), min(dc, 1.0))  # the biome first, then the sky
                if score > best[0]:
                    best = (score, cand)
                if score == (1.0, 1.0):
                    break
            u0 = best[1]
        horizon = _draw_apart(rng, _HORIZON, h_prev, _MIN_HORIZON_JUMP)
        exposure = _draw_apart(rng, _EXPOSURE, e_prev, _MIN_EXPOSURE_JUMP)
        warmth = float(rng.uniform(-1.0, 1.0))
        direction = 1 if rng.random() < 0.75 else -1
        shots.append({"u0": u0, "horizon": horizon, "direction": direction, "exposure": exposure,
                      "warmth": warmth, "frames": shot_lens[j]})
        u_prev_end, h_prev, e_prev = u0 + shot_lens[j] / fps, horizon, exposure

    # Timeline.
    segments: list[dict] = []
    pos = 0
    if title:
        segments.append({"kind": "title_card", "start_frame": 0, "end_frame": title})
        pos = title
    for j, sh in enumerate(shots):
        segments.append({
            "kind": "shot", "start_frame": pos, "end_frame": pos + sh["frames"], "shot": j,
            "ride_start_s": round(sh["u0"], 6), "horizon": round(sh["horizon"], 6),
            "direction": sh["direction"], "exposure": round(sh["exposure"], 6), "warmth": round(sh["warmth"], 6),
            "biome": BIOME_NAMES[_biome_at(bounds_a, ids_a, sh["u0"])],
            "hour": round(hour(sh["u0"]), 4), "fog": round(_weather(weather, sh["u0"])[0], 4),
            "cloud_cover": round(_weather(weather, sh["u0"])[1], 4),
        })
        pos += sh["frames"]
        if j in black_after:
            blen = black_lens[sorted(black_after).index(j)]
            segments.append({"kind": "black", "start_frame": pos, "end_frame": pos + blen})
            pos += blen
    if end:
        segments.append({"kind": "end_card", "start_frame": pos, "end_frame": pos + end})
        pos += end
    assert pos == n, (pos, n)

    overlays = []
    if spec.defects:
        shot_segs = [s for s in segments if s["kind"] == "shot"]
        longest = max(s["end_frame"] - s["start_frame"] for s in shot_segs)
        candidates = [s for s in shot_segs if s["end_frame"] - s["start_frame"] >= 0.6 * longest]
        seg = candidates[int(rng.integers(len(candidates)))]
        length = seg["end_frame"] - seg["start_frame"]
        o_len = max(2, min(int(round(rng.uniform(*_OVERLAY_S) * fps)), int(0.5 * length)))
        o_start = seg["start_frame"] + int(round(rng.uniform(0.15, 0.35) * length))
        overlays.append({"kind": "text_overlay", "start_frame": o_start, "end_frame": o_start + o_len,
                         "shot": seg["shot"], "text": "SUBSCRIBE"})
        seg["overlays"] = [[o_start, o_start + o_len]]

    defects = [{"kind": s["kind"], "start_frame": s["start_frame"], "end_frame": s["end_frame"]}
               for s in segments if s["kind"] != "shot"]
    defects += [{k2: o[k2] for k2 in ("kind", "start_frame", "end_frame")} for o in overlays]
    defects.sort(key=lambda d: (d["start_frame"], d["end_frame"]))
    cuts = [s["start_frame"] for s in segments[1:]]
    scene_cuts = [b["start_frame"] for a, b in zip(segments, segments[1:], strict=False)
                  if a["kind"] == "shot" and b["kind"] == "shot"]
    truth = {
        "generator": f"lvg.data.synthetic/world-v{WORLD_VERSION}",
        "spec": spec.to_dict(),
        "fps": fps,
        "num_frames": n,
        "width": spec.width,
        "height": spec.height,
        "cuts": cuts,
        "scene_cuts": scene_cuts,
        "defects": defects,
        "segments": segments,
    }
    internal = {"bounds": bounds_a, "ids": ids_a, "hour0": hour0, "day_rate": day_rate, "weather": weather,
                "ride_end": max(s["u0"] + s["frames"] / fps for s in shots), "overlays": overlays}
    return {"truth": truth, "_internal": internal}


def plan_video(spec: SyntheticSpec) -> dict:
    """Deterministic structure of the video from the seed, WITHOUT rendering: the ground truth.

    ``{"spec", "fps", "num_frames", "width", "height", "generator", "cuts", "scene_cuts", "defects",
    "segments"}``: ``cuts`` are the first frames after every hard content change (including into and out of
    title cards, black frames and end cards); ``scene_cuts`` the subset between two ride shots; ``defects``
    every title card, black segment, text overlay and end card as ``{"kind", "start_frame", "end_frame"}``
    (end exclusive); ``segments`` partition the timeline into shots and full-frame defects (a text overlay
    lies on top of a shot and is listed in that shot's ``"overlays"``).
    """
    return _plan(spec)["truth"]


# ----------------------------------------------------------------------------------------------------------
# keep-intervals
# ----------------------------------------------------------------------------------------------------------

def _format_ms(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, frac = divmod(rest, 1000)
    return f"{h}:{m:02d}:{s:02d}.{frac:03d}" if h else f"{m}:{s:02d}.{frac:03d}"


def _frame_time_str(frame: int, fps: int) -> str:
    # floor to the millisecond: (frame-1)/fps < t <= frame/fps, so "start <= i/fps" selects exactly i >= frame.
    return _format_ms(frame * 1000 // fps)


def suggest_keep_intervals(truth: dict, margin_frames: int = 2) -> list[str]:
    """Manual-trim keep-intervals that exclude every defect (plus ``margin_frames`` around each).

    Strings ``"m:ss.mmm m:ss.mmm"`` (``h:mm:ss.mmm`` past an hour): start inclusive, end exclusive, seconds;
    frame i is kept if ``start <= i/fps < end``. Times are floored to the millisecond, which selects exactly
    the intended frames for any fps <= 1000 (see :func:`interval_frames`).
    """
    n, fps = int(truth["num_frames"]), int(truth["fps"])
    bad = sorted((max(0, d["start_frame"] - margin_frames), min(n, d["end_frame"] + margin_frames))
                 for d in truth["defects"])
    keep, pos = [], 0
    for a, b in bad:
        if a > pos:
            keep.append((pos, a))
        pos = max(pos, b)
    if pos < n:
        keep.append((pos, n))
    return [f"{_frame_time_str(a, fps)} {_frame_time_str(b, fps)}" for a, b in keep if b > a]


def _parse_ms(text: str) -> int:
    parts = text.split(":")
    sec, _, frac = parts[-1].partition(".")
    ms = int(sec) * 1000 + int((frac + "000")[:3])
    mult = 60_000
    for p in reversed(parts[:-1]):
        ms += int(p) * mult
        mult *= 60
    return ms


def interval_frames(interval: str, fps: int) -> tuple[int, int]:
    """Exact half-open frame range ``[a, b)`` of a keep-interval string at integer ``fps``."""
    start, end = (_parse_ms(t) for t in interval.split())
    return -(-start * fps // 1000), -(-end * fps // 1000)


# ----------------------------------------------------------------------------------------------------------
# textures, hashing, sprites
# ----------------------------------------------------------------------------------------------------------

def _noise(rng: np.random.Generator, h: int, w: int, octaves: list[tuple[float, float, float]]) -> np.ndarray:
    """Periodic (tileable) smooth noise, zero mean, unit std: sum of Gaussian-filtered white noise octaves
    given as (correlation length x, correlation length y, weight) in pixels."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    total = np.zeros((h, w))
    for sx, sy, weight in octaves:
        spec = np.fft.rfft2(rng.standard_normal((h, w)))
        filt = np.exp(-2 * np.pi ** 2 * ((fx * sx) ** 2 + (fy * sy) ** 2))
        layer = np.fft.irfft2(spec * filt, s=(h, w))
        total += weight * layer / (layer.std() + 1e-12)
    return (total - total.mean()) / (total.std() + 1e-12)


def _shades(n: np.ndarray, mid: float, spread: float) -> np.ndarray:
    return np.clip(np.round(mid + spread * n), 0, _NS - 1).astype(np.int64)


_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _hash(key: int, cells: np.ndarray, salt: int = 0) -> np.ndarray:
    """splitmix64 of (key, salt, cell) -> uniform floats in [0, 1), vectorised over integer ``cells``."""
    with np.errstate(over="ignore"):
        z = np.asarray(cells, np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64((key * 0x632BE59BD9B4E019 + salt * 0x85EBCA77C2B2AE63) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class _Sprite:
    """Index-image sprite: ``idx`` (uint16 codes) where ``mask``; anchored at its bottom row."""

    __slots__ = ("idx", "mask", "h", "w")

    def __init__(self, idx: np.ndarray, mask: np.ndarray):
        self.idx, self.mask = idx, mask
        self.h, self.w = idx.shape

    def flipped(self) -> _Sprite:
        return _Sprite(np.ascontiguousarray(self.idx[:, ::-1]), np.ascontiguousarray(self.mask[:, ::-1]))


class _Pen:
    """Draw (kind, shade) regions with PIL into an integer image, then convert to a layer's index sprite."""

    def __init__(self, w: float, h: float, scale: float):
        from PIL import Image, ImageDraw

        self.s = scale
        self.img = Image.new("I", (max(1, int(math.ceil(w * scale))), max(1, int(math.ceil(h * scale)))), 0)
        self.draw = ImageDraw.Draw(self.img)

    def _pts(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * self.s, y * self.s) for x, y in pts]

    def ellipse(self, box: tuple[float, float, float, float], kind: int, shade: int) -> None:
        x0, y0, x1, y1 = (v * self.s for v in box)
        self.draw.ellipse((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), fill=kind * _NS + shade + 1)

    def ring(self, box: tuple[float, float, float, float], kind: int, shade: int, width: float) -> None:
        x0, y0, x1, y1 = (v * self.s for v in box)
        self.draw.ellipse((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=kind * _NS + shade + 1,
                          width=max(1, int(round(width * self.s))))

    def polygon(self, pts: list[tuple[float, float]], kind: int, shade: int) -> None:
        self.draw.polygon(self._pts(pts), fill=kind * _NS + shade + 1)

    def rect(self, box: tuple[float, float, float, float], kind: int, shade: int) -> None:
        x0, y0, x1, y1 = (v * self.s for v in box)
        self.draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), fill=kind * _NS + shade + 1)

    def line(self, pts: list[tuple[float, float]], kind: int, shade: int, width: float) -> None:
        self.draw.line(self._pts(pts), fill=kind * _NS + shade + 1, width=max(1, int(round(width * self.s))))

    def sprite(self, layer: int) -> _Sprite:
        a = np.asarray(self.img, dtype=np.int64)
        mask = a > 0
        if not mask.any():
            mask[-1, 0] = True
            a[-1, 0] = K_DARK * _NS + 1
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        mask = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        idx = np.where(mask, layer * _NK * _NS + a - 1, 0).astype(np.uint16)
        return _Sprite(idx, mask)


def _paste(canvas: np.ndarray, sp: _Sprite, x: int, bottom: int) -> None:
    """Paste ``sp`` with its left column at ``x`` and its last row at ``bottom - 1``; clipped to the canvas."""
    H, W = canvas.shape
    y = bottom - sp.h
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + sp.w, W), min(bottom, H)
    if x0 >= x1 or y0 >= y1:
        return
    np.copyto(canvas[y0:y1, x0:x1], sp.idx[y0 - y:y1 - y, x0 - x:x1 - x], where=sp.mask[y0 - y:y1 - y, x0 - x:x1 - x])


# Sprite designs (units: pixels at height 288; scaled by the pen).

def _tree_deciduous(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * rng.uniform(0.55, 0.85)
    pen = _Pen(w, h, s)
    tw = max(1.0, w * 0.12)
    pen.rect((w / 2 - tw / 2, h * 0.55, w / 2 + tw / 2, h), K_TRUNK, 6)
    for _ in range(7):
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.22, 0.55) * h
        rx, ry = rng.uniform(0.2, 0.32) * w, rng.uniform(0.14, 0.24) * h
        pen.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), K_FOLIAGE, int(rng.integers(5, 11)))
    pen.ellipse((w * 0.3, h * 0.08, w * 0.62, h * 0.3), K_FOLIAGE, 11)
    return pen.sprite(layer)


def _tree_conifer(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * rng.uniform(0.35, 0.5)
    pen = _Pen(w, h, s)
    pen.rect((w * 0.44, h * 0.8, w * 0.56, h), K_TRUNK, 5)
    for i, (top, bot) in enumerate([(0.0, 0.45), (0.2, 0.68), (0.4, 0.9)]):
        half = w * (0.28 + 0.11 * i)
        pen.polygon([(w / 2, h * top), (w / 2 - half, h * bot), (w / 2 + half, h * bot)], K_FOLIAGE, 5 + i)
    return pen.sprite(layer)


def _bush(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * rng.uniform(1.3, 2.2)
    pen = _Pen(w, h, s)
    for _ in range(6):
        cx = rng.uniform(0.2, 0.8) * w
        rx, ry = rng.uniform(0.15, 0.28) * w, rng.uniform(0.3, 0.5) * h
        pen.ellipse((cx - rx, h - 2 * ry, cx + rx, h), K_FOLIAGE, int(rng.integers(5, 12)))
    return pen.sprite(layer)


def _house(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * rng.uniform(1.1, 1.6)
    pen = _Pen(w, h, s)
    pen.rect((w * 0.08, h * 0.42, w * 0.92, h), K_WALL, int(rng.integers(7, 11)))
    pen.polygon([(0, h * 0.44), (w * 0.5, h * 0.02), (w, h * 0.44)], K_ROOF, int(rng.integers(6, 10)))
    for fx in (0.25, 0.62):
        pen.rect((w * fx, h * 0.58, w * (fx + 0.12), h * 0.74), K_DARK, 8)
    return pen.sprite(layer)


def _rock(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * rng.uniform(1.2, 2.0)
    pen = _Pen(w, h, s)
    pen.polygon([(0, h), (w * 0.15, h * 0.3), (w * 0.5, 0), (w * 0.85, h * 0.35), (w, h)], K_ROCK, 7)
    pen.polygon([(w * 0.15, h * 0.3), (w * 0.5, 0), (w * 0.45, h * 0.5)], K_ROCK, 11)
    return pen.sprite(layer)


def _animal(rng: np.random.Generator, h: float, s: float, layer: int, sheep: bool) -> _Sprite:
    w = h * 1.6
    pen = _Pen(w, h, s)
    coat = K_COAT + (2 if sheep else int(rng.integers(0, 4)))
    for lx in (0.25, 0.35, 0.62, 0.72):
        pen.rect((w * lx, h * 0.6, w * lx + max(1 / s, w * 0.06), h), K_DARK if sheep else coat, 5)
    pen.ellipse((w * 0.15, h * 0.2, w * 0.82, h * 0.72), coat, 10)
    if not sheep and rng.random() < 0.5:
        pen.ellipse((w * 0.35, h * 0.3, w * 0.55, h * 0.55), K_COAT + 2, 9)
    pen.ellipse((w * 0.74, h * 0.38, w * 0.98, h * 0.7), K_DARK if sheep else coat, 7)  # grazing head
    return pen.sprite(layer)


def _post(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * 0.12
    pen = _Pen(w, h, s)
    pen.rect((0, 0, w, h), K_TRUNK, 8)
    pen.rect((w * 0.6, 0, w, h), K_TRUNK, 5)
    return pen.sprite(layer)


def _grass_tuft(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * 0.9
    pen = _Pen(w, h, s)
    for _ in range(18):
        x = rng.uniform(0.1, 0.9) * w
        pen.line([(x, h), (x + rng.uniform(-0.25, 0.25) * w, rng.uniform(0.0, 0.5) * h)], K_FOLIAGE,
                 int(rng.integers(6, 13)), 2.5)
    return pen.sprite(layer)


def _near_trunk(rng: np.random.Generator, h: float, s: float, layer: int) -> _Sprite:
    w = h * 0.5
    pen = _Pen(w, h, s)
    pen.rect((w * 0.35, 0, w * 0.62, h), K_TRUNK, 6)
    pen.rect((w * 0.52, 0, w * 0.62, h), K_TRUNK, 4)
    pen.line([(w * 0.5, h * 0.2), (w * 0.05, h * 0.02)], K_TRUNK, 5, h * 0.03)
    pen.ellipse((0, -h * 0.05, w, h * 0.25), K_FOLIAGE, 7)
    return pen.sprite(layer)


def _horse_rider(coat: int, cloth: int, gait: int, s: float) -> _Sprite:
    pen = _Pen(64, 70, s)
    ph = 2 * np.pi * gait / 4
    for i, (lx, lp) in enumerate([(17, 0.5), (22, 0.0), (40, 0.25), (45, 0.75)]):
        dx = 5 * math.sin(ph + 2 * np.pi * lp)
        shade = 6 if i % 2 == 0 else 8
        pen.line([(lx, 38), (lx + dx, 67)], K_COAT + coat, shade, 3.2)
        pen.rect((lx + dx - 2, 66, lx + dx + 2, 70), K_DARK, 4)
    pen.polygon([(13, 29), (6, 46), (10, 47), (16, 33)], K_DARK, 6)  # tail
    pen.ellipse((11, 25, 49, 43), K_COAT + coat, 9)  # body
    pen.polygon([(41, 31), (46, 14), (53, 11), (52, 33)], K_COAT + coat, 10)  # neck
    pen.polygon([(49, 9), (63, 17), (61, 23), (49, 18)], K_COAT + coat, 11)  # head
    pen.polygon([(44, 17), (50, 9), (49, 21), (45, 27)], K_DARK, 7)  # mane
    pen.polygon([(27, 25), (35, 25), (34, 38), (29, 38)], K_DARK, 8)  # leg
    pen.polygon([(25, 8), (34, 8), (36, 26), (26, 26)], K_CLOTH + cloth, 9)  # torso
    pen.line([(33, 13), (42, 22)], K_CLOTH + cloth, 7, 3)  # arm
    pen.ellipse((26, 0, 34, 8), K_WALL, 10)  # head
    pen.ellipse((25, -1, 35, 5), K_DARK, 9)  # helmet
    return pen.sprite(L_RIDER)


def _bike_rider(cloth: int, gait: int, s: float) -> _Sprite:
    pen = _Pen(60, 66, s)
    for cx in (12, 46):
        pen.ring((cx - 11, 43, cx + 11, 65), K_DARK, 4, 2.5)
        pen.line([(cx - 10, 54), (cx + 10, 54)], K_DARK, 8, 0.8)
    pen.line([(12, 54), (26, 41), (46, 54)], K_CLOTH + (cloth + 1) % 4, 6, 2.5)
    pen.line([(26, 41), (41, 38), (46, 54)], K_CLOTH + (cloth + 1) % 4, 6, 2.5)
    pen.line([(41, 38), (43, 31)], K_DARK, 6, 2)
    th = 2 * np.pi * gait / 4
    foot = (26 + 6 * math.cos(th), 50 + 6 * math.sin(th))
    pen.line([(25, 33), ((25 + foot[0]) / 2 + 5, (33 + foot[1]) / 2 - 2), foot], K_DARK, 7, 3.5)
    pen.polygon([(21, 33), (27, 21), (41, 27), (35, 35)], K_CLOTH + cloth, 9)  # torso
    pen.line([(38, 28), (43, 33)], K_CLOTH + cloth, 7, 3)  # arm
    pen.ellipse((37, 14, 46, 23), K_WALL, 10)
    pen.ellipse((36, 12, 47, 19), K_CLOTH + (cloth + 2) % 4, 10)  # helmet
    return pen.sprite(L_RIDER)


def _bird(flap: int, s: float) -> _Sprite:
    pen = _Pen(24, 14, s)
    y = 0 if flap else 12
    pen.line([(0, y), (12, 7), (24, y)], K_DARK, 3, 3.2)
    return pen.sprite(L_TREE)


# ----------------------------------------------------------------------------------------------------------
# cards and overlay (PIL)
# ----------------------------------------------------------------------------------------------------------

def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=max(6, size))
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def _center_text(draw: Any, xy: tuple[float, float], text: str, font: Any, fill: tuple) -> None:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text((xy[0] - (x1 - x0) / 2 - x0, xy[1] - (y1 - y0) / 2 - y0), text, font=font, fill=fill)


_TITLES = ["Trail Ride", "Morning Ride", "Full Ride POV", "Ride Along", "Country Loop", "Long Ride"]


def _title_card(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    H, W = spec.height, spec.width
    bg = tuple(int(v) for v in rng.integers(10, 70, 3))
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    accent = tuple(int(v) for v in rng.integers(150, 256, 3))
    title = f"{_TITLES[int(rng.integers(len(_TITLES)))]} #{spec.seed}"
    _center_text(d, (W / 2, H * 0.42), title, _font(int(H * 0.13)), (245, 245, 240))
    d.rectangle((W * 0.3, H * 0.56, W * 0.7, H * 0.56 + max(1, H * 0.012)), fill=accent)
    _center_text(d, (W / 2, H * 0.66), f"part {int(rng.integers(1, 9))}  -  full ride, no music",
                 _font(int(H * 0.055)), accent)
    return np.asarray(img, dtype=np.uint8).copy()


def _end_card(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    H, W = spec.height, spec.width
    bg = tuple(int(v) for v in rng.integers(20, 90, 3))
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    _center_text(d, (W / 2, H * 0.16), "THANKS FOR WATCHING!", _font(int(H * 0.09)), (250, 250, 250))
    for fx in (0.06, 0.53):  # end-screen video slots
        d.rectangle((W * fx, H * 0.3, W * (fx + 0.41), H * 0.72), fill=(200, 200, 205), outline=(255, 255, 255),
                    width=max(1, H // 150))
        _center_text(d, (W * (fx + 0.205), H * 0.51), "NEXT RIDE  >", _font(int(H * 0.06)), (40, 40, 40))
    d.rounded_rectangle((W * 0.36, H * 0.78, W * 0.64, H * 0.9), radius=H * 0.03, fill=(204, 0, 0))
    _center_text(d, (W / 2, H * 0.84), "SUBSCRIBE", _font(int(H * 0.055)), (255, 255, 255))
    return np.asarray(img, dtype=np.uint8).copy()


def _banner(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """The subscribe banner as (rgb [h, w, 3], mask [h, w])."""
    from PIL import Image, ImageDraw

    H, W = spec.height, spec.width
    bw, bh = max(8, int(W * 0.36)), max(6, int(H * 0.12))
    img = Image.new("RGBA", (bw, bh), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, bw - 1, bh - 1), radius=bh * 0.25, fill=(210, 16, 16, 255))
    d.ellipse((bh * 0.2, bh * 0.2, bh * 0.8, bh * 0.8), fill=(255, 255, 255, 255))  # bell button
    d.polygon([(bh * 0.42, bh * 0.34), (bh * 0.42, bh * 0.66), (bh * 0.68, bh * 0.5)], fill=(210, 16, 16, 255))
    _center_text(d, (bh + (bw - bh) / 2, bh / 2), "SUBSCRIBE", _font(int(bh * 0.5)), (255, 255, 255, 255))
    a = np.asarray(img, dtype=np.uint8)
    return a[..., :3].copy(), a[..., 3] > 127


# ----------------------------------------------------------------------------------------------------------
# the world
# ----------------------------------------------------------------------------------------------------------

class _World:
    """Textures, sprites and the smooth functions of ride time for one video; renders shots."""

    def __init__(self, spec: SyntheticSpec, internal: dict):
        H, W = spec.height, spec.width
        self.H, self.W, self.fps = H, W, spec.fps
        self.key = int(spec.seed)
        rng = np.random.default_rng([spec.seed, _SALT, _STREAM_WORLD])
        s = H / 288.0
        self.s = s
        self.Wt = 1 << int(math.ceil(math.log2(2 * W)))  # tile width (power of two >= 2W)
        self.bob_max = max(1, int(round(0.010 * H)))
        self.bounds, self.ids = internal["bounds"], internal["ids"]
        self.hour0, self.day_rate = internal["hour0"], internal["day_rate"]

        # Camera: reference speed (px/frame at ground row k_ref below the horizon) and its variation.
        self.k_ref = 0.45 * H
        self.v_ref = W * rng.uniform(0.018, 0.024)
        self.speed_coef = np.array([[rng.uniform(0.08, 0.14), rng.uniform(20, 40), rng.uniform(0, 2 * np.pi)],
                                    [rng.uniform(0.03, 0.06), rng.uniform(5, 11), rng.uniform(0, 2 * np.pi)]])
        self.gait_hz = rng.uniform(1.5, 2.1)
        self.bob_phase = rng.uniform(0, 2 * np.pi, 2)

        # Weather and colour drift as smooth functions of ride time.
        self.weather_params = internal["weather"]
        self.drift_coef = _waves(rng, 3, (5.0, 10.0), (20, 90), channels=3)
        self.foliage_drift_coef = _waves(rng, 2, (6.0, 12.0), (25, 80), channels=3)
        self.wind = rng.choice([-1, 1]) * rng.uniform(0.1, 0.4) * s

        # Colour tables per biome: [8 layers, 16 kinds, 3].
        tables = []
        for _, pal in _BIOMES:
            t = np.zeros((_NL, _NK, 3))
            for k, rgb in _FIXED_KINDS.items():
                t[:, k] = rgb
            for layer, name in _LAYER_GROUND.items():
                t[layer, K_GROUND] = pal[name]
            t[:, K_FOLIAGE], t[:, K_TRUNK], t[:, K_ROCK] = pal["foliage"], pal["trunk"], pal["rock"]
            tables.append(t)
        self.biome_tables = np.stack(tables)
        self.sky_t = (np.arange(_NG) / (_NG - 1)) ** 1.6
        self.cloud_v = np.arange(_NC) / (_NC - 1)

        # Hill silhouettes: sums of sinusoids over world x, amplitude modulated along x.
        self.hills = {}
        for name, n_waves, lam, amp_range in (("far", 6, (0.12, 2.5), (0.05, 0.26)),
                                              ("mid", 5, (0.15, 1.2), (0.03, 0.10))):
            lam_px = rng.uniform(*lam, size=n_waves) * W
            coef = np.stack([lam_px / lam_px.max(), lam_px, rng.uniform(0, 2 * np.pi, n_waves)], axis=1)
            amp_lam = rng.uniform(3, 8) * W
            self.hills[name] = (coef, amp_lam, rng.uniform(0, 2 * np.pi), amp_range)
        self.s_far, self.s_mid = 0.012, 0.05

        # Textures (codes including the layer/kind base), extended by W columns for wrap-free slicing.
        Ht = H + 2 * self.bob_max + 2
        Wt = self.Wt

        def tex(octaves: list, mid: float, spread: float, layer: int, kind: int = K_GROUND) -> np.ndarray:
            sh = _shades(_noise(rng, Ht, Wt, [(a * s, b * s, c) for a, b, c in octaves]), mid, spread)
            t = _code(layer, kind, sh).astype(np.uint16)
            return np.concatenate([t, t[:, :W]], axis=1)

        self.tex_far = tex([(40, 20, 1.0), (8, 5, 0.4)], 7.5, 1.8, L_FAR)
        self.tex_mid = tex([(30, 12, 1.0), (6, 3, 0.5)], 7.5, 2.2, L_MID)
        self.tex_field = tex([(60, 2.5, 1.0), (6, 1.2, 0.6), (160, 14, 0.8)], 7.5, 2.0, L_FIELD)
        track = _shades(_noise(rng, Ht, Wt, [(30 * s, 1.5 * s, 1.0), (2 * s, 1 * s, 0.7)]), 8.0, 2.0)
        self.track_shade = np.concatenate([track, track[:, :W]], axis=1)
        self.tex_near = tex([(2.0, 14, 1.0), (1.0, 4, 0.7), (40, 8, 0.5)], 7.5, 2.6, L_NEAR)
        clouds = _noise(rng, Ht, Wt, [(90 * s, 22 * s, 1.0), (25 * s, 8 * s, 0.5), (6 * s, 3 * s, 0.2)])
        ramp = np.clip(np.arange(Ht) / (0.12 * H), 0.0, 1.0)[:, None]  # thin out towards the horizon
        c = np.clip(np.round((0.5 + 0.2 * clouds) * ramp * (_NC - 1)), 0, _NC - 1).astype(np.uint16)
        self.tex_cloud = np.concatenate([c, c[:, :W]], axis=1)

        # Sprites. Houses (in the tree line), grazing animals and birds are drawn about twice the size they
        # were up to stop 27 (houses 0.9-1.3 tree heights, animals 0.042 H, birds 10 x 6 px at 288 rows): at
        # the detector's 64x64 they covered ~16, ~9 and ~3 pixels, specks after the resize (issue #11).
        tree_h = 0.07 * H / s
        self.trees = ([_tree_deciduous(rng, tree_h * rng.uniform(1, 2.3), s, L_TREE) for _ in range(5)]
                      + [_tree_conifer(rng, tree_h * rng.uniform(1.2, 2.6), s, L_TREE) for _ in range(4)]
                      + [_bush(rng, tree_h * rng.uniform(0.4, 0.7), s, L_TREE) for _ in range(3)]
                      + [_house(rng, tree_h * rng.uniform(1.8, 2.4), s, L_TREE) for _ in range(2)]
                      + [_rock(rng, tree_h * rng.uniform(0.4, 0.8), s, L_TREE) for _ in range(2)])
        self.tree_p = np.array([3] * 5 + [3] * 4 + [2] * 3 + [1.0] * 2 + [0.8] * 2, float)
        self.tree_p = np.cumsum(self.tree_p / self.tree_p.sum())
        ah = 0.075 * H / s
        self.animals = ([_animal(rng, ah * rng.uniform(0.8, 1.0), s, L_ANIMAL, True) for _ in range(2)]
                        + [_animal(rng, ah * rng.uniform(1.1, 1.4), s, L_ANIMAL, False) for _ in range(3)])
        self.animals += [a.flipped() for a in self.animals]
        self.copse = ([_tree_deciduous(rng, tree_h * rng.uniform(2.4, 3.4), s, L_ANIMAL) for _ in range(3)]
                      + [_tree_conifer(rng, tree_h * rng.uniform(2.8, 3.8), s, L_ANIMAL) for _ in range(2)])
        nh = H / s
        self.near = ([_bush(rng, nh * rng.uniform(0.18, 0.32), s, L_NEAR) for _ in range(3)]
                     + [_post(rng, nh * rng.uniform(0.35, 0.5), s, L_NEAR) for _ in range(2)]
                     + [_grass_tuft(rng, nh * rng.uniform(0.15, 0.25), s, L_NEAR) for _ in range(3)]
                     + [_near_trunk(rng, nh * 1.3, s, L_NEAR)])
        self.near_p = np.cumsum(np.array([3, 3, 3, 2, 2, 3, 3, 3, 1.0]) / 23.0)
        self.fence = self._fence_strip(s)
        self.birds = [_bird(0, s), _bird(1, s)]
        self._riders: dict[tuple, _Sprite] = {}
        self.ride_bike = bool(rng.random() < 0.4)

        # Agents: riders passing on the track, birds crossing the sky (events in ride time).
        ride_end = internal["ride_end"] + 30.0
        n_r = int(rng.poisson(ride_end / 9.0)) + 1
        self.r_u = np.sort(rng.uniform(-20.0, ride_end, n_r))
        oncoming = rng.random(n_r) < 0.2
        speed = np.where(oncoming, -rng.uniform(0.5, 0.9, n_r), rng.choice([-1, 1], n_r) * rng.uniform(0.05, 0.2, n_r))
        self.r_w = speed * W  # screen px per second of ride time (relative to the camera)
        self.r_lane = rng.uniform(-0.04, 0.04, n_r)
        self.r_bike = np.where(rng.random(n_r) < 0.15, not self.ride_bike, self.ride_bike)
        self.r_coat = rng.integers(0, 4, n_r)
        self.r_cloth = rng.integers(0, 4, n_r)
        self.r_face_left = oncoming
        self.r_phase = rng.uniform(0, 4, n_r)
        self.r_gait = rng.uniform(1.6, 2.4, n_r)
        self.r_dur = (W + 70 * s) / np.abs(self.r_w)
        n_b = int(rng.poisson(ride_end / 14.0)) + 1
        self.b_u = np.sort(rng.uniform(-20.0, ride_end, n_b))
        self.b_w = rng.choice([-1, 1], n_b) * rng.uniform(0.08, 0.25, n_b) * W
        self.b_h = rng.uniform(0.35, 0.85, n_b)
        self.b_n = rng.integers(2, 8, n_b)
        self.b_dur = (W + 110 * s) / np.abs(self.b_w)
        self.b_off = rng.uniform(-1, 1, (n_b, 7, 2)) * np.array([45 * s, 14 * s])

        self._shot_cache: tuple[int, dict] | None = None

    # -- smooth functions of ride time ------------------------------------------------------------------

    def camera_x(self, u: float) -> float:
        """Ground position (px at row k_ref): integral of the camera speed, closed form."""
        c = self.speed_coef
        x = u + sum(a * p / (2 * np.pi) * (math.cos(ph) - math.cos(2 * np.pi * u / p + ph)) for a, p, ph in c)
        return self.v_ref * self.fps * x

    def bob(self, u: float) -> int:
        w = 2 * np.pi * self.gait_hz * u
        v = 0.7 * math.sin(w + self.bob_phase[0]) + 0.3 * math.sin(2 * w + self.bob_phase[1])
        return int(round(self.bob_max * v))

    def hour(self, u: float) -> float:
        return _pingpong(self.hour0 + u * self.day_rate / 3600.0, *_HOUR_RANGE)

    def weather(self, u: float) -> tuple[float, float]:
        return _weather(self.weather_params, u)

    def palette(self, u: float) -> np.ndarray:
        b, ids = self.bounds, self.ids
        j = int(np.searchsorted(b, u, side="right")) - 1
        half = _BIOME_BLEND_S / 2
        t = self.biome_tables[ids[j]]
        if j > 0 and u - b[j] < half:
            w = float(_smoothstep(-half, half, u - b[j]))
            t = (1 - w) * self.biome_tables[ids[j - 1]] + w * t
        elif j + 1 < len(b) and b[j + 1] - u < half:
            w = float(_smoothstep(-half, half, u - b[j + 1]))
            t = (1 - w) * t + w * self.biome_tables[ids[j + 1]]
        t = t.copy()
        t[:, K_GROUND] += _wave(u, self.drift_coef)
        t[:, K_FOLIAGE] += _wave(u, self.foliage_drift_coef)
        return t

    def lut(self, u: float, exposure: float = 1.0, warmth: float = 0.0) -> np.ndarray:
        hour = self.hour(u)
        zen, hor, light = (_interp_rows(hour, _HOURS, tab) for tab in (_ZENITH, _HORIZON_SKY, _LIGHT))
        fog, cover = self.weather(u)
        lm = float(light.mean())
        light = light * (1 - 0.35 * cover)
        light = light + (light.mean() - light) * 0.6 * cover
        grey = np.array([168.0, 172.0, 178.0]) * (0.6 + 0.4 * lm)
        zen = zen + (grey * 0.95 - zen) * 0.75 * cover
        hor = hor + (grey * 1.05 - hor) * 0.6 * cover
        fogc = 0.5 * hor + 0.5 * np.array([205.0, 208.0, 212.0]) * lm
        cols = self.palette(u) * light
        cols = cols[:, :, None, :] * _SHADE[None, None, :, None]
        haze = np.clip(_HAZE0 + fog * _HAZE_FOG, 0, 0.95)[:, None, None, None]
        cols = cols * (1 - haze) + fogc * haze
        sky = zen * (1 - self.sky_t[:, None]) + hor * self.sky_t[:, None]
        sky = sky + (fogc - sky) * 0.5 * fog
        thr = 0.85 - 0.6 * cover
        alpha = _smoothstep(thr, thr + 0.25, self.cloud_v) * 0.95
        cloud = light * 240.0 * (1 - 0.3 * cover) * (0.8 + 0.2 * self.cloud_v)[:, None]
        skyc = sky[:, None, :] * (1 - alpha)[None, :, None] + cloud[None, :, :] * alpha[None, :, None]
        lut = np.concatenate([cols.reshape(-1, 3), skyc.reshape(-1, 3)])
        lut *= exposure * np.array([1 + 0.06 * warmth, 1.0, 1 - 0.06 * warmth])
        return np.clip(lut + 0.5, 0, 255).astype(np.uint8)

    # -- geometry -------------------------------------------------------------------------------------

    def _fence_strip(self, s: float) -> np.ndarray:
        """A tileable fence (posts and two rails) of height ~0.06H, period dividing the tile width."""
        fh = max(4, int(round(0.065 * self.H)))
        period = self.Wt // max(1, int(round(self.Wt / (0.09 * self.W))))
        strip = np.zeros((fh, self.Wt), np.uint16)
        pw = max(1, int(round(3 * s)))
        rail = max(1, int(round(1.6 * s)))
        for y in (int(fh * 0.15), int(fh * 0.55)):
            strip[y:y + rail] = _code(L_FIELD, K_TRUNK, 7)
        for x in range(0, self.Wt, period):
            strip[:, x:x + pw] = _code(L_FIELD, K_TRUNK, 9)
            strip[:, x + pw - max(1, pw // 3):x + pw] = _code(L_FIELD, K_TRUNK, 5)
        return np.concatenate([strip, strip[:, :self.W]], axis=1)

    def _hill_tops(self, name: str, x0: float, base: float) -> np.ndarray:
        coef, amp_lam, amp_ph, (a_lo, a_hi) = self.hills[name]
        x = x0 + np.arange(self.W, dtype=np.float64)
        p = (coef[:, 0, None] * np.sin(2 * np.pi * x[None, :] / coef[:, 1, None] + coef[:, 2, None])).sum(0)
        p = 0.5 + 0.5 * np.tanh(p / (0.9 * math.sqrt(0.5 * float((coef[:, 0] ** 2).sum()))))
        if name == "far":
            p = p ** 1.4
        amp = a_lo + (a_hi - a_lo) * (0.5 + 0.5 * np.sin(2 * np.pi * x / amp_lam + amp_ph))
        return np.round(base - self.H * amp * p).astype(np.int64)

    def _shot_setup(self, shot_id: int, horizon: float) -> dict:
        if self._shot_cache is not None and self._shot_cache[0] == shot_id:
            return self._shot_cache[1]
        H, W, Wt = self.H, self.W, self.Wt
        y_h0 = int(round(horizon * H))
        G = H - y_h0
        Kmax = H - y_h0 + self.bob_max + 1  # ground rows below the horizon, bob included
        ks = np.arange(Kmax)
        kinds = np.where(ks < 0.55 * G, 0, np.where(ks < 0.72 * G, 1, 2))
        ground = np.empty((Kmax, Wt + W), np.uint16)
        t0, t1 = int(math.ceil(0.55 * G)), int(math.ceil(0.72 * G))
        ground[kinds == 0] = self.tex_field[ks[kinds == 0]]
        ground[kinds == 2] = self.tex_near[ks[kinds == 2]]
        tr = np.flatnonzero(kinds == 1)
        rel = (tr - t0) / max(1, t1 - t0)
        rut = np.where((np.abs(rel - 0.3) < 0.1) | (np.abs(rel - 0.75) < 0.1), -3, 0)
        rut += np.where(rel < 0.12, -1, 0)  # edge of the track
        sh = np.clip(self.track_shade[tr] + rut[:, None], 0, _NS - 1)
        ground[tr] = _code(L_TRACK, K_GROUND, sh).astype(np.uint16)
        setup = {
            "y_h0": y_h0, "G": G, "ground": ground, "speed": ks / self.k_ref,
            "row_start": ks * (Wt + W),
            "k_tree": 0.12 * G, "k_animal": 0.3 * G, "k_fence": 0.5 * G, "k_rider": 0.68 * G,
            "k_near": G + 0.03 * H,
        }
        self._shot_cache = (shot_id, setup)
        return setup

    def _place(self, idx: np.ndarray, offset: float, cell: float, density: float, sprites: list[_Sprite],
               cum_p: np.ndarray | None, bottom: int, salt: int, max_w: int) -> None:
        c0 = int(math.floor((offset - max_w) / cell))
        c1 = int(math.floor((offset + self.W) / cell)) + 1
        cells = np.arange(c0, c1 + 1, dtype=np.int64)
        present = _hash(self.key, cells, salt) < density
        if not present.any():
            return
        cells = cells[present]
        pick = _hash(self.key, cells, salt + 1)
        jitter = _hash(self.key, cells, salt + 2)
        dy = _hash(self.key, cells, salt + 3)
        types = (np.searchsorted(cum_p, pick, side="right") if cum_p is not None
                 else (pick * len(sprites)).astype(np.int64))
        for c, t, j, d in zip(cells, types, jitter, dy, strict=True):
            sp = sprites[min(int(t), len(sprites) - 1)]
            x = int(math.floor(c * cell + j * cell * 0.7 - offset))
            _paste(idx, sp, x, bottom + int(round((d - 0.5) * 0.02 * self.H)))

    def active_riders(self, u: float) -> list[int]:
        """Riders crossing the picture at ride time ``u``, far lane first (the order they are drawn in)."""
        a, z = np.searchsorted(self.r_u, [u - float(self.r_dur.max()), u], side="right")
        act = [i for i in range(a, z) if u - self.r_u[i] < self.r_dur[i]]
        return sorted(act, key=lambda i: self.r_lane[i])

    def active_flocks(self, u: float) -> list[int]:
        """Flocks of birds crossing the sky at ride time ``u``."""
        a, z = np.searchsorted(self.b_u, [u - float(self.b_dur.max()), u], side="right")
        return [i for i in range(a, z) if u - self.b_u[i] < self.b_dur[i]]

    def speed(self, u: float) -> float:
        """Camera speed: ground pixels per frame at the reference row, as a fraction of the width."""
        return (self.camera_x(u + 1 / self.fps) - self.camera_x(u)) / self.W

    def biome(self, u: float) -> tuple[int, float]:
        """(dominant biome id, its weight) at ride time ``u``: 1 away from a transition, >= 0.5 in one."""
        b, ids = self.bounds, self.ids
        j = int(np.searchsorted(b, u, side="right")) - 1
        half = _BIOME_BLEND_S / 2
        if j > 0 and u - b[j] < half:
            w = float(_smoothstep(-half, half, u - b[j]))
            return (int(ids[j]), w) if w >= 0.5 else (int(ids[j - 1]), 1 - w)
        if j + 1 < len(b) and b[j + 1] - u < half:
            w = float(_smoothstep(-half, half, u - b[j + 1]))
            return (int(ids[j + 1]), w) if w > 0.5 else (int(ids[j]), 1 - w)
        return int(ids[j]), 1.0

    def _rider_sprite(self, bike: bool, coat: int, cloth: int, gait: int, flip: bool) -> _Sprite:
        key = (bike, coat if not bike else 0, cloth, gait, flip)
        sp = self._riders.get(key)
        if sp is None:
            sp = _bike_rider(cloth, gait, self.s) if bike else _horse_rider(coat, cloth, gait, self.s)
            sp = sp.flipped() if flip else sp
            self._riders[key] = sp
        return sp

    def render_shot(self, shot_id: int, horizon: float, direction: int, u: float) -> np.ndarray:
        """uint16 index image [H, W] of the ride at ride time ``u``."""
        H, W, Wt = self.H, self.W, self.Wt
        st = self._shot_setup(shot_id, horizon)
        b = self.bob(u)
        y_h = st["y_h0"] + b
        X = self.camera_x(u)
        idx = np.empty((H, W), np.uint16)

        # Sky with clouds (texture rows counted up from the horizon).
        sky_rows = np.arange(y_h)
        g = np.round((sky_rows / max(1, y_h - 1)) * (_NG - 1)).astype(np.uint16)
        cx = int(math.floor(X * 0.004 + self.wind * u * self.fps)) % Wt
        np.add(self.tex_cloud[y_h - 1::-1][:y_h, cx:cx + W] if y_h > 0 else self.tex_cloud[:0, :W],
               (_SKY0 + g * _NC)[:, None], out=idx[:y_h])

        # Ground: each row scrolls at its own speed (perspective parallax).
        nk = H - y_h
        offs = np.floor(X * st["speed"][:nk]).astype(np.int64) % Wt
        flat = (st["row_start"][:nk] + offs)[:, None] + np.arange(W)[None, :]
        np.take(st["ground"].ravel(), flat, out=idx[y_h:])

        # Far mountains (with snow on the high ones) and nearer hills.
        m = self.bob_max + 1
        tops = self._hill_tops("far", X * self.s_far, y_h + 1)
        r0 = max(0, int(tops.min()))
        r1 = min(H, y_h + 2)
        if r1 > r0:
            rows = np.arange(r0, r1)[:, None]
            tex = self.tex_far[r0 - b + m - 1:r1 - b + m - 1, (int(X * self.s_far) % Wt):][:, :W]
            region = idx[r0:r1]
            np.copyto(region, tex, where=rows >= tops[None, :])
            height = (y_h + 1) - tops
            cap = tops + np.maximum(0, height - 0.13 * H) * 0.45
            snow = (rows >= tops[None, :]) & (rows < cap[None, :])
            if snow.any():
                np.copyto(region, tex + np.uint16((K_SNOW - K_GROUND) * _NS), where=snow)
        base_mid = y_h + int(round(0.05 * st["G"]))
        tops = self._hill_tops("mid", X * self.s_mid, base_mid)
        r0, r1 = max(0, int(tops.min())), min(H, base_mid)
        if r1 > r0:
            rows = np.arange(r0, r1)[:, None]
            o = int(X * self.s_mid) % Wt
            tex = self.tex_mid[r0 - b + m - 1:r1 - b + m - 1, o:o + W]
            np.copyto(idx[r0:r1], tex, where=rows >= tops[None, :])

        # Tree line, grazing animals, fence.
        k = st["k_tree"]
        self._place(idx, X * k / self.k_ref, 0.055 * W, 0.6, self.trees, self.tree_p, y_h + int(k), 10,
                    int(0.3 * H))
        k = st["k_animal"]
        self._place(idx, X * k / self.k_ref, 0.3 * W, 0.25, self.copse, None, y_h + int(k) - 1, 50, int(0.3 * H))
        self._place(idx, X * k / self.k_ref, 0.22 * W, 0.22, self.animals, None, y_h + int(k), 20, int(0.1 * H))
        k = st["k_fence"]
        fo = X * k / self.k_ref
        cells = np.floor((fo + np.arange(W)) / (1.5 * W)).astype(np.int64)
        on = _hash(self.key, np.unique(cells), 30) < 0.45
        if on.any():
            col_on = on[np.searchsorted(np.unique(cells), cells)]
            fs = self.fence
            bottom = y_h + int(k)
            o = int(math.floor(fo)) % Wt
            y0 = max(0, bottom - fs.shape[0])
            strip = fs[fs.shape[0] - (bottom - y0):, o:o + W]
            np.copyto(idx[y0:bottom], strip, where=(strip != 0) & col_on[None, :])

        # Riders on the track (far lane first).
        for i in self.active_riders(u):
            t = u - self.r_u[i]
            gait = int(math.floor(t * self.r_gait[i] * 4 + self.r_phase[i])) % 4
            sp = self._rider_sprite(bool(self.r_bike[i]), int(self.r_coat[i]), int(self.r_cloth[i]), gait,
                                    bool(self.r_face_left[i]))
            w = self.r_w[i]
            x = -sp.w + w * t if w > 0 else W + w * t
            lift = 1 if gait % 2 else 0
            _paste(idx, sp, int(math.floor(x)), y_h + int(st["k_rider"] + self.r_lane[i] * H) - lift)

        # Birds.
        for i in self.active_flocks(u):
            t = u - self.b_u[i]
            w = self.b_w[i]
            x = -55 * self.s + w * t if w > 0 else W + w * t
            for j in range(int(self.b_n[i])):
                flap = int(math.floor((t + 0.13 * j) * 6)) % 2
                dx, dy = self.b_off[i, j]
                _paste(idx, self.birds[flap], int(x + dx), int(y_h * (1 - self.b_h[i]) + dy))

        # Near bushes, posts, grass and the odd tree trunk, fast.
        k = st["k_near"]
        self._place(idx, X * k / self.k_ref, 0.45 * W, 0.4, self.near, self.near_p, y_h + int(k), 40, int(0.6 * W))
        return idx if direction > 0 else idx[:, ::-1]


# ----------------------------------------------------------------------------------------------------------
# video
# ----------------------------------------------------------------------------------------------------------

class SyntheticVideo:
    """Random access to the frames of one synthetic video: ``video.frame(i)`` or iterate in order."""

    def __init__(self, spec: SyntheticSpec):
        self.spec = spec
        plan = _plan(spec)
        self.truth = plan["truth"]
        self._internal = plan["_internal"]
        self._segments = self.truth["segments"]
        self._starts = np.array([s["start_frame"] for s in self._segments])
        self._world: _World | None = None
        self._cards: dict[str, np.ndarray] = {}
        self._banner: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.truth["num_frames"]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.frame(i)

    @property
    def world(self) -> _World:
        if self._world is None:
            self._world = _World(self.spec, self._internal)
        return self._world

    def _card(self, kind: str) -> np.ndarray:
        if not self._cards:
            rng = np.random.default_rng([self.spec.seed, _SALT, _STREAM_CARDS])
            self._cards = {"title_card": _title_card(self.spec, rng), "end_card": _end_card(self.spec, rng),
                           "black": np.zeros((self.spec.height, self.spec.width, 3), np.uint8)}
        return self._cards[kind]

    def segment_at(self, i: int) -> dict:
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} outside [0, {len(self)})")
        return self._segments[int(np.searchsorted(self._starts, i, side="right")) - 1]

    def ride_time(self, i: int) -> float | None:
        seg = self.segment_at(i)
        if seg["kind"] != "shot":
            return None
        return seg["ride_start_s"] + (i - seg["start_frame"]) / self.spec.fps

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as a new contiguous uint8 array [H, W, 3]."""
        return self.frame_and_state(i)[0]

    def frame_and_state(self, i: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Frame ``i`` and the state of the world it shows (:data:`WORLD_COLUMNS`; see :func:`frame_state`)."""
        seg = self.segment_at(i)
        if seg["kind"] != "shot":
            return self._card(seg["kind"]).copy(), {"frame": i, "kind": seg["kind"]}
        world = self.world
        u = self.ride_time(i)
        idx = world.render_shot(seg["shot"], seg["horizon"], seg["direction"], u)
        out = np.take(world.lut(u, seg["exposure"], seg["warmth"]), idx, axis=0)
        overlay = False
        for a, b in seg.get("overlays", ()):
            if a <= i < b:
                self._draw_banner(out, i - a, b - a)
                overlay = True
        return out, frame_state(world, seg, i, u, idx, overlay)

    def _draw_banner(self, out: np.ndarray, t: int, length: int) -> None:
        if self._banner is None:
            self._banner = _banner(self.spec)
        rgb, mask = self._banner
        H, W = self.spec.height, self.spec.width
        bh, bw = mask.shape
        slide = max(1, int(round(_SLIDE_S * self.spec.fps)))
        p = min(1.0, (t + 1) / slide, (length - t) / slide)
        x_final = int(round(0.04 * W))
        x = int(round(x_final - (1 - p) * (bw + x_final)))
        y = int(round(0.8 * H)) - bh // 2
        x0, x1 = max(0, x), min(W, x + bw)
        y0, y1 = max(0, y), min(H, y + bh)
        if x0 < x1 and y0 < y1:
            np.copyto(out[y0:y1, x0:x1], rgb[y0 - y:y1 - y, x0 - x:x1 - x],
                      where=mask[y0 - y:y1 - y, x0 - x:x1 - x, None])


# What a frame of the world shows (``<id>.world.csv``, one row per frame: the world detector's labels).
# Shot frames carry the world's state at their ride time; coverage columns are the fractions of the centre
# square (what the default square preprocessing keeps) that each class of thing covers, so "in view" is
# coverage > 0. Title cards, black frames and end cards have only ``frame`` and ``kind``.
OBJECT_CLASSES = ("trees", "houses", "animals", "near_objects", "fence", "riders", "birds")
WORLD_COLUMNS = ("frame", "kind", "shot", "biome", "biome_weight", "hour", "fog", "cloud_cover", "speed",
                 "direction", "horizon", "exposure", "warmth", "overlay", "sky", *OBJECT_CLASSES)


def _coverage(idx: np.ndarray, horizon_row: int) -> dict[str, float]:
    """Fractions of the centre square of the index image covered by the sky and each class of object, from
    the layer and material every pixel was drawn with (birds: dark strokes above the horizon)."""
    h, w = idx.shape
    x0 = max(0, (w - h) // 2)
    sq = idx[:, x0:x0 + min(h, w)]
    n = sq.size
    lk = np.minimum(sq // _NS, _NL * _NK)  # layer * 16 + kind; sky -> 128
    counts = np.bincount(lk.ravel(), minlength=_NL * _NK + 1)

    def c(layer: int, *kinds: int) -> int:
        return int(sum(counts[layer * _NK + k] for k in kinds))

    birds = int((lk[:max(0, horizon_row)] == L_TREE * _NK + K_DARK).sum())
    return {
        "sky": counts[_NL * _NK] / n,
        "trees": c(L_TREE, K_FOLIAGE, K_TRUNK, K_ROCK) / n,
        "houses": sum(c(layer, K_WALL, K_ROOF) for layer in range(_NL)) / n,
        "animals": c(L_ANIMAL, *range(K_COAT, K_COAT + 4)) / n,
        "near_objects": sum(c(L_NEAR, k) for k in range(1, _NK)) / n,
        "fence": c(L_FIELD, K_TRUNK) / n,
        "riders": sum(c(L_RIDER, k) for k in range(1, _NK)) / n,
        "birds": birds / n,
    }


def frame_state(world: _World, seg: dict, i: int, u: float, idx: np.ndarray, overlay: bool) -> dict[str, Any]:
    """The world state of shot frame ``i`` at ride time ``u`` (rendered index image ``idx``)."""
    biome, weight = world.biome(u)
    fog, cover = world.weather(u)
    y_h = int(round(seg["horizon"] * world.H)) + world.bob(u)
    return {
        "frame": i, "kind": "shot", "shot": seg["shot"], "biome": BIOME_NAMES[biome], "biome_weight": weight,
        "hour": world.hour(u), "fog": fog, "cloud_cover": cover, "speed": world.speed(u),
        "direction": seg["direction"], "horizon": y_h / world.H, "exposure": seg["exposure"],
        "warmth": seg["warmth"], "overlay": overlay, **_coverage(idx, y_h),
    }


def write_world_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The per-frame world states as CSV (atomically), one row per frame, columns :data:`WORLD_COLUMNS`."""
    import csv

    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=WORLD_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else int(v) if isinstance(v, bool) else v)
                             for k, v in row.items()})


def iter_frames(spec: SyntheticSpec) -> Iterator[np.ndarray]:
    """uint8 [H, W, 3] RGB frames in order, constant memory."""
    return iter(SyntheticVideo(spec))


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] (H, W even) -> I420 planes stacked as [H * 3 // 2, W] (BT.601, limited range).

    Integer arithmetic, so the result never depends on SIMD paths or memory alignment (FFmpeg's swscale,
    which PyAV would use, does: its output varied between runs in one process). Chroma is the 2x2 mean.
    """
    h, w, _ = frame.shape
    r, g, b = (frame[..., c].astype(np.uint16) for c in range(3))
    out = np.empty((h * 3 // 2, w), np.uint8)
    y = r * np.uint16(66)  # Y = ((66 R + 129 G + 25 B + 128) >> 8) + 16 <= 235 fits in uint16 throughout
    y += g * np.uint16(129)
    y += b * np.uint16(25)
    y += np.uint16(128 + (16 << 8))
    y >>= 8
    out[:h] = y

    def sum4(c: np.ndarray) -> np.ndarray:  # 4 x the 2x2 mean
        s = c[0::2, 0::2] + c[1::2, 0::2]
        s += c[0::2, 1::2]
        s += c[1::2, 1::2]
        return s.astype(np.int32)

    r4, g4, b4 = sum4(r), sum4(g), sum4(b)
    u = (112 * b4 - 38 * r4 - 74 * g4 + (512 + (128 << 10))) >> 10
    v = (112 * r4 - 94 * g4 - 18 * b4 + (512 + (128 << 10))) >> 10
    out[h:h + h // 4] = u.reshape(h // 4, w)
    out[h + h // 4:] = v.reshape(h // 4, w)
    return out


def render_video(spec: SyntheticSpec, out_path: Path, truth_path: Path | None = None,
                 progress: bool = False, world_path: Path | None = None) -> dict:
    """Render and encode an H.264 mp4 atomically; optionally write the truth JSON and the per-frame world
    states (:func:`write_world_csv`), atomically too.

    yuv420p (BT.601, limited range, converted by :func:`rgb_to_yuv420p`), ``spec.fps``, libx264 at crf
    ``spec.crf``, preset ``X264_PRESET``, one thread, ``X264_PARAMS``: the same spec gives the same bytes
    (checked run to run on x86-64 with AVX2/AVX-512; x264's plain-C build gives other bytes). Frames are
    streamed: memory does not grow with the duration. Returns the truth dict.
    """
    out_path, video = Path(out_path), SyntheticVideo(spec)
    frames: Any = range(len(video))
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc=f"render {out_path.name}", unit="frame")
    options = {"preset": X264_PRESET, "x264-params": X264_PARAMS}
    states = []
    with VideoWriter(out_path, spec.fps, crf=spec.crf, upscale=1, options=options, threads=X264_THREADS,
                     color=BT601_TV) as writer:
        for i in frames:
            frame, state = video.frame_and_state(i)
            writer.write_yuv420p(rgb_to_yuv420p(frame))
            states.append(state)
    if world_path is not None:
        write_world_csv(states, Path(world_path))
    if truth_path is not None:
        with atomic_open(truth_path, "w", encoding="utf-8") as f:
            f.write(json.dumps(video.truth, indent=1) + "\n")
    return video.truth
