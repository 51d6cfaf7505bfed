"""Pillow's Lanczos resize of uint8 RGB frames, bit for bit, as compiled loops that release the GIL (issue #13).

Why: the spec (data.md §4) and the reference resize with ``PIL.Image.resize(..., LANCZOS)``, and preprocessing
promises the reference's pixels. Pillow's resample is scalar C (no SIMD): at 288 -> 256 it costs more than
decoding the frame, which made the 256² preprocess resize-bound. The arithmetic below is Pillow's
(``libImaging/Resample.c``), so the output is identical (tests/test_resample.py compares against Pillow on
down- and upscales, odd sizes and random images), but the loops are compiled by numba so that each pass runs
along contiguous memory and vectorises.

Pillow's algorithm, reproduced:
- per output pixel ``xx`` of an axis ``in_size -> out_size``: ``scale = in_size / out_size``,
  ``filterscale = max(scale, 1)``, ``support = 3 * filterscale``; ``center = (xx + 0.5) * scale``; taps
  ``xmin = int(center - support + 0.5)`` (clamped to 0) up to ``int(center + support + 0.5)`` (clamped to
  ``in_size``); weight of tap ``x``: ``lanczos((x + xmin - center + 0.5) / filterscale)`` with
  ``lanczos(t) = sinc(t) sinc(t / 3)`` on ``[-3, 3)``; weights divided by their sum, then made fixed point:
  ``round-half-away(w * 2**22)`` (``PRECISION_BITS`` = 22, ``normalize_coeffs_8bpc``).
- Horizontal pass first (when the width changes), into uint8, then vertical (when the height changes). Each
  output value is ``clip8((2**21 + sum(tap * weight)) >> 22)``, accumulated in int32 as Pillow does.
The weights are computed in Python floats (C doubles, the same libm ``sin``), in Pillow's operation order.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

import numpy as np

PRECISION_BITS = 22
SUPPORT = 3.0  # Lanczos-3


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3)
    return 0.0


@lru_cache(maxsize=64)
def coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's taps for one axis: ``first`` [out] int32 (first input index), ``weights`` [out, ksize] int32
    (fixed point, zero past each pixel's tap count)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = SUPPORT * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    first = np.zeros(out_size, np.int32)
    weights = np.zeros((out_size, ksize), np.int32)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = [_lanczos((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for v in w:
            ww += v
        for x, v in enumerate(w):
            k = v / ww if ww != 0.0 else v
            fixed = k * (1 << PRECISION_BITS)
            weights[xx, x] = int(fixed - 0.5) if k < 0 else int(fixed + 0.5)
        first[xx] = xmin
    return first, weights


@cache  # once per process (two pool threads racing here would only compile twice)
def _compile():  # noqa: ANN202 - numba dispatchers
    """The two passes, compiled on first use (2.6 s; numba's on-disk cache in ``__pycache__`` lets later
    processes load them in ~0.5 s)."""
    from numba import njit

    @njit(nogil=True, cache=True)
    def rows(src: np.ndarray, first: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
        """out[r] = clip8(sum_k src[first[r] + k] * weights[r, k]) for 2-D uint8 src [in, n], out [out, n]:
        one output row at a time, along contiguous memory (vectorised)."""
        n = src.shape[1]
        acc = np.empty(n, np.int32)
        for r in range(out.shape[0]):
            for i in range(n):
                acc[i] = 1 << (PRECISION_BITS - 1)
            for k in range(weights.shape[1]):
                w = weights[r, k]
                if w == 0:
                    continue
                row = src[first[r] + k]
                for i in range(n):
                    acc[i] += np.int32(row[i]) * w
            for i in range(n):
                v = acc[i] >> PRECISION_BITS
                out[r, i] = 0 if v < 0 else (255 if v > 255 else v)

    @njit(nogil=True, cache=True)
    def transpose(src: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
        """out[x, y, c] = src[y, x, c] (src may be a strided crop view); RGB unrolled (4x faster)."""
        if src.shape[2] == 3:
            for y in range(src.shape[0]):
                for x in range(src.shape[1]):
                    out[x, y, 0] = src[y, x, 0]
                    out[x, y, 1] = src[y, x, 1]
                    out[x, y, 2] = src[y, x, 2]
            return
        for y in range(src.shape[0]):
            for x in range(src.shape[1]):
                for c in range(src.shape[2]):
                    out[x, y, c] = src[y, x, c]

    return rows, transpose


def lanczos_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``Image.fromarray(image).resize((width, height), Image.LANCZOS)`` as an array, bit for bit.

    ``image``: uint8 [H, W, C] (a strided view such as a crop is fine). Returns a new uint8 [height, width, C].
    The width pass runs on the transposed image so that both passes read rows. A zero weight (a clamped tap
    that Pillow leaves at 0) is skipped: adding 0 changes nothing, so the sums are Pillow's.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected a uint8 [H, W, C] image, got {image.dtype} {image.shape}")
    rows, transpose = _compile()
    h, w, c = image.shape
    out: np.ndarray = image
    if width != w:  # horizontal: on the transposed image, [W, H*C] -> [width, H*C], transposed back
        t = np.empty((w, h, c), np.uint8)
        transpose(image, t)
        first, weights = coefficients(w, width)
        t_out = np.empty((width, h, c), np.uint8)
        rows(t.reshape(w, h * c), first, weights, t_out.reshape(width, h * c))
        out = np.empty((h, width, c), np.uint8)
        transpose(t_out, out)
    if height != h:
        first, weights = coefficients(h, height)
        src = np.ascontiguousarray(out)
        res = np.empty((height, src.shape[1], c), np.uint8)
        rows(src.reshape(h, -1), first, weights, res.reshape(height, -1))
        out = res
    return out if out is not image else image.copy()
