"""Long videos of any length from any time offset, streamed in constant memory, reproducible frame by frame.

This is the ``generate`` phase (``lvg generate`` calls :func:`generate`); :mod:`lvg.sample_sets` writes the
metrics' sample sets with the same streams, :mod:`lvg.data.video` encodes the frames, :mod:`lvg.models`
loads the generators.

**What "video ``seed``" means.** The low-res generator's noise is indexed by absolute frame
(:mod:`lvg.lowres.generator`), so every seed names one *endless* video; any integer frame index, negative ones
included, is a frame of it. The super-res stage adds one latent ``z`` per video, drawn from the seed alone
(:func:`superres_latent`: independent of ``t0`` and of the length), so HR frame ``t`` is also a function of
``(weights, seed, t)``.

**Internal chunk grids (what makes frames bit-identical).** The generators are convolutional in time, but float
rounding depends on tensor shapes (conv algorithms are chosen by shape). So frames are never computed for "the
window the user asked for":

* LR frames come from fixed chunks of ``lr_grid`` frames (a multiple of the generator's 1/32 temporal scale)
  aligned to the absolute grid ``[k * lr_grid, (k + 1) * lr_grid)``; chunk ``k`` is exactly
  ``G_lr(seed, t0=k * lr_grid, num_frames=lr_grid)`` (batch of one), which the generator serves with the
  counter-based noise of exactly those frames plus its own receptive-field margins.
* HR frames come from fixed chunks of ``sr_grid`` frames aligned to ``[j * sr_grid, (j + 1) * sr_grid)``; chunk
  ``j`` is ``G_sr(lr[j * sr_grid - 4 : (j + 1) * sr_grid + 4], z)``: every HR frame sees LR frames
  ``t - 4 .. t + 4`` (spec model.md §6). The LR context before ``t0`` and after the end is generated like any
  other frame: the video is endless, so there are no edge effects.

Requests (``t0``, ``num_frames``, the user-visible ``chunk``) only decide which grid chunks are computed and how
they are sliced, never how a chunk is computed. Hence frame ``t`` is **bit-identical** however it was reached
(a long run, a window starting anywhere, any ``chunk``), for a fixed ``(weights, seed, lr_grid, sr_grid)`` on
one device type and software stack. Float rounding (about 1e-7 to 1e-6) does differ between CPU and GPU,
library versions, and, on a CPU, ``torch.get_num_threads()`` (measured: 1 vs 2 threads); the info files
record device, torch version and thread count. A "one-pass" video is the same computation, so it is also
bit-identical; a *naive* single forward over a whole window differs only by rounding (about 1e-6). Only a
bounded number of grid chunks is cached, so memory does not grow with the length of the video.

**Files.** :func:`generate` writes ``seed=S_t0=T_len=L_lres.mp4`` / ``..._sres.mp4`` (:class:`lvg.data.video.
VideoWriter`, atomic) plus ``..._info.json`` (seed, window, grids, model ids, encoding), and optionally one
PNG per frame at native size in ``..._frames/`` (``lres_<t>.png`` / ``sres_<t>.png``, ``t`` the absolute frame
index).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lvg.data.video import VideoWriter, write_png_frames
from lvg.errors import LvgError
from lvg.io import user_error, write_json
from lvg.memory import plan_chunks
from lvg.models import load_generator, model_id

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LR_GRID",
    "DEFAULT_SR_GRID",
    "MODES",
    "PRECISIONS",
    "FrameSource",
    "LowResStream",
    "SuperResStream",
    "deterministic_backends",
    "device_of",
    "generate",
    "generate_lowres",
    "generate_superres",
    "iter_lowres",
    "iter_superres",
    "lowres_stream",
    "output_stem",
    "sequential_lowres",
    "superres_latent",
]

DEFAULT_LR_GRID = 256  # LR frames per internal chunk (a multiple of the 32x temporal scale)
DEFAULT_SR_GRID = 16  # HR frames per internal chunk (the reference's SR segment length)
EXACT_MARGIN = 5  # the smallest per-level time margin that keeps every kept frame exact (fast mode)


# ============================================================================================ latents
def superres_latent(seed: int, z_dim: int, device: str | torch.device = "cpu") -> Tensor:
    """The super-res latent ``z [1, z_dim]`` of video ``seed``.

    Standard normal, drawn on the CPU from a ``torch.Generator`` seeded with the first 63 bits of
    ``sha256("lvg.superres.z:<seed>")`` (decimal seed). It depends on the seed only: not on ``t0``, the
    length, or the LR noise (a different stream from the LR generator's counter noise by construction).
    """
    digest = hashlib.sha256(f"lvg.superres.z:{int(seed)}".encode()).digest()
    g = torch.Generator(device="cpu").manual_seed(int.from_bytes(digest[:8], "big") >> 1)
    return torch.randn(1, z_dim, generator=g, dtype=torch.float32).to(device)


def device_of(module: nn.Module) -> torch.device:
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


# ============================================================================================ streaming
class FrameSource:
    """Frames ``[3, T, H, W]`` of an endless video served from fixed, aligned chunks of ``grid`` frames.

    ``make_chunk(k)`` must return frames ``[origin + k * grid, origin + (k + 1) * grid)``. At most
    ``cache_size`` chunks are kept (least recently used evicted), so memory is bounded by the chunk size, not
    the video length.
    ``chunks_computed`` and ``max_cached_bytes`` expose the streaming state for tests and benchmarks.
    """

    def __init__(self, make_chunk: Callable[[int], Tensor], grid: int, cache_size: int = 2, origin: int = 0) -> None:
        if grid < 1 or cache_size < 1:
            raise ValueError(f"grid and cache_size must be >= 1, got {grid}, {cache_size}")
        self.make_chunk, self.grid, self.cache_size, self.origin = make_chunk, grid, cache_size, origin
        self._cache: OrderedDict[int, Tensor] = OrderedDict()
        self.chunks_computed = 0
        self.max_cached_bytes = 0

    @property
    def cached_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self._cache.values())

    def chunk(self, k: int) -> Tensor:
        """Grid chunk ``k`` (cached; do not modify it)."""
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        while len(self._cache) >= self.cache_size:
            self._cache.popitem(last=False)
        x = self.make_chunk(k)
        if x.shape[1] != self.grid:
            raise RuntimeError(f"chunk {k} has {x.shape[1]} frames, expected {self.grid}")
        self._cache[k] = x
        self.chunks_computed += 1
        self.max_cached_bytes = max(self.max_cached_bytes, self.cached_bytes)
        return x

    def frames(self, start: int, stop: int) -> Tensor:
        """Frames ``[start, stop)`` (absolute indices, any integers) as a new tensor ``[3, stop - start, ...]``."""
        if stop <= start:
            raise ValueError(f"empty frame range [{start}, {stop})")
        g, start, stop = self.grid, start - self.origin, stop - self.origin
        parts = []
        for k in range(start // g, (stop - 1) // g + 1):
            lo, hi = max(start, k * g) - k * g, min(stop, (k + 1) * g) - k * g
            parts.append(self.chunk(k)[:, lo:hi])
        return parts[0].clone() if len(parts) == 1 else torch.cat(parts, dim=1)

    def iter_frames(self, t0: int, num_frames: int, chunk: int | None = None) -> Iterator[Tensor]:
        """Frames ``[t0, t0 + num_frames)`` in pieces: of ``chunk`` frames each (the last may be shorter), or,
        with ``chunk=None``, cut at the internal grid's boundaries."""
        if num_frames < 1:
            raise ValueError(f"num_frames must be positive, got {num_frames}")
        if chunk is not None and chunk < 1:
            raise ValueError(f"chunk must be positive, got {chunk}")
        t, end, g, o = t0, t0 + num_frames, self.grid, self.origin
        while t < end:
            stop = min(end, t + chunk) if chunk else min(end, ((t - o) // g + 1) * g + o)
            yield self.frames(t, stop)
            t = stop


def _check_grid(G_lr: nn.Module, lr_grid: int) -> None:
    s = G_lr.temporal_scale
    if lr_grid < s or lr_grid % s:
        raise ValueError(f"lr_grid must be a positive multiple of the generator's temporal scale {s}, "
                         f"got {lr_grid}")


class LowResStream(FrameSource):
    """The endless LR video of ``seed``: ``[3, T, h, w]`` frames on ``G_lr``'s device (see the module doc).

    The default (*exact*) stream computes absolute grid chunks ``[k * lr_grid, (k + 1) * lr_grid)``, so frame
    ``t`` is bit-identical however it is reached. ``origin`` and a generator with smaller margins
    (:func:`sequential_lowres`) make the *fast* stream instead.
    """

    def __init__(self, G_lr: nn.Module, seed: int, lr_grid: int = DEFAULT_LR_GRID, cache_size: int = 2, *,
                 precision: str = "fp32", origin: int = 0) -> None:
        _check_grid(G_lr, lr_grid)
        self.G_lr, self.seed, self.precision = G_lr, int(seed), check_precision(precision)
        super().__init__(self._make, lr_grid, cache_size, origin)

    def _make(self, k: int) -> Tensor:
        with torch.inference_mode(), deterministic_backends(), autocast(self.G_lr, self.precision):
            video = self.G_lr([self.seed], t0=self.origin + k * self.grid, num_frames=self.grid)[0]
        return video.float()


def exact_margin_generator(G_lr: nn.Module) -> nn.Module:
    """``G_lr`` (same parameters, shared) with every level's time margin cut to :data:`EXACT_MARGIN` samples.

    The margins of ``temporal_padding`` (8) per side and level only absorb zero-padding effects: two 3-tap
    convs and a linear x2 upsampling spread a border error by 2 + 1 samples, the crop removes the margin,
    so 5 samples keep every level clean (4 do not: ``tests/test_generate.py`` checks both). With 5 the frames
    are the same function of the noise up to float rounding, at ~6 % less work per chunk. Applies only where
    windows are exact at all (``style_norm="none"``, ``latent_margin >= 5``); otherwise ``G_lr`` itself.
    """
    cfg = G_lr.cfg
    if cfg.temporal_padding <= EXACT_MARGIN or cfg.style_norm != "none" or cfg.latent_margin < 5:
        return G_lr
    fast = copy.copy(G_lr)  # a shallow copy shares every submodule and parameter
    fast.cfg = dataclasses.replace(cfg, temporal_padding=EXACT_MARGIN)
    return fast


def sequential_lowres(G_lr: nn.Module, seed: int, t0: int, num_frames: int, *, segment: int = DEFAULT_LR_GRID,
                      precision: str = "fp32", cache_size: int = 2) -> LowResStream:
    """The *fast* LR stream for one sequential request ``[t0, t0 + num_frames)``: an explicit choice.

    Segments start at the request (``t0`` rounded down to the 1/32 grid) instead of the absolute grid, are
    no longer than needed (a 128-frame request computes 128 frames, not a 256-frame chunk), and use the
    smallest exact margins (:func:`exact_margin_generator`). Frames equal the exact stream's up to float
    rounding (``benchmarks/bench_generate.py`` prints the maximum deviation; tests bound it by 1e-5
    relative), but depend on ``t0``: for bit-identical random access use the exact stream.
    """
    s = G_lr.temporal_scale
    origin = t0 // s * s
    needed = -(-(t0 + num_frames - origin) // s) * s
    return LowResStream(exact_margin_generator(G_lr), seed, min(segment, needed), cache_size,
                        precision=precision, origin=origin)


class SuperResStream(FrameSource):
    """The endless HR video of ``seed``: :class:`LowResStream` frames through ``G_sr`` in aligned chunks."""

    def __init__(self, G_lr: nn.Module, G_sr: nn.Module, seed: int, lr_grid: int = DEFAULT_LR_GRID,
                 sr_grid: int = DEFAULT_SR_GRID, *, precision: str = "fp32",
                 lowres: LowResStream | None = None) -> None:
        cfg = G_sr.cfg
        if (G_lr.cfg.height, G_lr.cfg.width) != (cfg.lr_height, cfg.lr_width):
            raise LvgError(f"the low-res generator makes {G_lr.cfg.height}x{G_lr.cfg.width} frames but the "
                           f"super-res generator expects {cfg.lr_height}x{cfg.lr_width} input")
        if sr_grid < 1:
            raise ValueError(f"sr_grid must be positive, got {sr_grid}")
        self.context = cfg.temporal_context
        # an HR chunk reads sr_grid + 2 * context LR frames: keep every LR chunk it can touch
        if lowres is None:
            lowres = LowResStream(G_lr, seed, lr_grid, precision=precision)
        lowres.cache_size = max(2, math.ceil((sr_grid + 2 * self.context) / lowres.grid) + 1)
        self.lowres, self.precision = lowres, check_precision(precision)
        self.G_sr, self.seed = G_sr, int(seed)
        self.z = superres_latent(seed, cfg.z_dim, device_of(G_sr))
        super().__init__(self._make, sr_grid, cache_size=1)

    def _make(self, j: int) -> Tensor:
        k, g = self.context, self.grid
        lr = self.lowres.frames(j * g - k, (j + 1) * g + k).to(device_of(self.G_sr))
        with torch.inference_mode(), deterministic_backends(), autocast(self.G_sr, self.precision):
            return self.G_sr(lr[None], self.z)[0].float()

    @property
    def max_cached_bytes_total(self) -> int:
        """Peak bytes held by both caches (HR chunk + LR chunks)."""
        return self.max_cached_bytes + self.lowres.max_cached_bytes


@contextlib.contextmanager
def deterministic_backends() -> Iterator[None]:
    """cuDNN: no benchmark-mode autotuning (it may pick different kernels on different runs)."""
    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic)
    cudnn.benchmark, cudnn.deterministic = False, True
    try:
        yield
    finally:
        cudnn.benchmark, cudnn.deterministic = saved


PRECISIONS = ("fp32", "bf16")
MODES = ("exact", "fast")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise LvgError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def autocast(module: nn.Module, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on the module's device for ``precision="bf16"`` (convolutions and matmuls in bf16, the
    rest in fp32: on CPUs with AMX about 1.6x faster, up to ~4e-2 of the peak value from fp32); fp32: nothing."""
    if check_precision(precision) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_of(module).type, dtype=torch.bfloat16)


def lowres_stream(G: nn.Module, seed: int, t0: int, num_frames: int, *, mode: str = "exact",
                  lr_grid: int = DEFAULT_LR_GRID, precision: str = "fp32") -> LowResStream:
    """The exact stream (absolute ``lr_grid`` chunks) or, for ``mode="fast"``, :func:`sequential_lowres`."""
    if mode == "exact":
        return LowResStream(G, seed, lr_grid, precision=precision)
    if mode == "fast":
        return sequential_lowres(G, seed, t0, num_frames, segment=lr_grid, precision=precision)
    raise LvgError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def _superres_stream(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int, lr_grid: int,
                     sr_grid: int, mode: str, precision: str) -> SuperResStream:
    """HR chunks always sit on the absolute ``sr_grid``; the fast mode changes only how LR frames are made
    (one sequential LR stream over exactly the LR frames those HR chunks read)."""
    lowres = None
    if mode != "exact":
        k = G_sr.cfg.temporal_context
        first = t0 // sr_grid * sr_grid - k
        last = -(-(t0 + num_frames) // sr_grid) * sr_grid + k
        lowres = lowres_stream(G_lr, seed, first, last - first, mode=mode, lr_grid=lr_grid, precision=precision)
    return SuperResStream(G_lr, G_sr, seed, lr_grid, sr_grid, precision=precision, lowres=lowres)


def iter_lowres(G: nn.Module, seed: int, t0: int, num_frames: int, chunk: int | None = None, *,
                lr_grid: int = DEFAULT_LR_GRID, mode: str = "exact", precision: str = "fp32") -> Iterator[Tensor]:
    """LR frames ``t0 .. t0 + num_frames - 1`` of video ``seed``, streamed: tensors ``[3, T_chunk, h, w]``.

    Pieces have ``chunk`` frames (the last may be shorter); ``chunk=None`` cuts at the internal grid. In the
    exact mode frame ``t`` is bit-identical for every ``t0``, ``num_frames`` and ``chunk`` (fixed
    ``lr_grid``); ``mode="fast"`` is :func:`sequential_lowres` (``lr_grid`` is then the longest segment).
    """
    stream = lowres_stream(G, seed, t0, num_frames, mode=mode, lr_grid=lr_grid, precision=precision)
    yield from stream.iter_frames(t0, num_frames, chunk)


def _iter_pairs(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int, chunk: int | None,
                lr_grid: int, sr_grid: int, *, mode: str = "exact",
                precision: str = "fp32") -> Iterator[tuple[Tensor, Tensor]]:
    """(LR piece, HR piece) of the same frames: LR and HR written in one pass, LR computed once."""
    stream = _superres_stream(G_lr, G_sr, seed, t0, num_frames, lr_grid, sr_grid, mode, precision)
    t = t0
    for hr in stream.iter_frames(t0, num_frames, chunk):
        n = hr.shape[1]
        yield stream.lowres.frames(t, t + n), hr
        t += n


def iter_superres(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int,
                  chunk: int | None = None, *, lr_grid: int = DEFAULT_LR_GRID,
                  sr_grid: int = DEFAULT_SR_GRID, mode: str = "exact",
                  precision: str = "fp32") -> Iterator[Tensor]:
    """HR frames aligned with LR frames ``t0 .. t0 + num_frames - 1`` of video ``seed``: ``[3, T_chunk, H, W]``.

    HR frame ``t`` comes from LR frames ``t - 4 .. t + 4`` (generated, also outside the window) and
    :func:`superres_latent` of the seed. In the exact mode bit-identical for every ``t0``, ``num_frames`` and
    ``chunk``; ``mode="fast"`` makes the LR frames with :func:`sequential_lowres`.
    """
    stream = _superres_stream(G_lr, G_sr, seed, t0, num_frames, lr_grid, sr_grid, mode, precision)
    yield from stream.iter_frames(t0, num_frames, chunk)


def generate_lowres(G: nn.Module, seed: int, t0: int, num_frames: int, *,
                    lr_grid: int = DEFAULT_LR_GRID, mode: str = "exact", precision: str = "fp32") -> Tensor:
    """The one-pass LR video ``[3, num_frames, h, w]`` (the same grid chunks as streaming: identical frames)."""
    return torch.cat(list(iter_lowres(G, seed, t0, num_frames, lr_grid=lr_grid, mode=mode,
                                      precision=precision)), dim=1)


def generate_superres(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int, *,
                      lr_grid: int = DEFAULT_LR_GRID, sr_grid: int = DEFAULT_SR_GRID, mode: str = "exact",
                      precision: str = "fp32") -> Tensor:
    """The one-pass HR video ``[3, num_frames, H, W]`` (identical to streaming)."""
    return torch.cat(list(iter_superres(G_lr, G_sr, seed, t0, num_frames, lr_grid=lr_grid, sr_grid=sr_grid,
                                        mode=mode, precision=precision)), dim=1)


# ============================================================================================ entry points
def output_stem(seed: int, t0: int, num_frames: int) -> str:
    return f"seed={seed}_t0={t0}_len={num_frames}"


def _as_module(x: nn.Module | str | Path, kind: str, device: str | torch.device) -> nn.Module:
    """A module as is; a path through :func:`lvg.models.load_generator`; a reference ``.pkl`` converted first
    (once, into the cache: :func:`lvg.reference.cached_import`)."""
    if isinstance(x, nn.Module):
        return x.to(device)
    from lvg.reference import resolve_generator

    return load_generator(resolve_generator(x, kind), kind, device)


def generate(lowres_ckpt: nn.Module | str | Path, superres_ckpt: nn.Module | str | Path | None, seed: int,
             t0: int, num_frames: int, out_dir: str | Path, save_lowres: bool = False,
             save_frames: bool | str | Path = False, *, device: str | torch.device = "cpu", fps: float = 30,
             crf: int | None = None, bitrate: int | None = None, lr_grid: int = DEFAULT_LR_GRID,
             sr_grid: int = DEFAULT_SR_GRID, mode: str = "exact", precision: str = "fp32",
             max_memory: int | str | None = None) -> dict[str, Path]:
    """The ``generate`` phase: frames ``[t0, t0 + num_frames)`` of video ``seed`` as mp4 files in ``out_dir``.

    With a super-res model, writes ``seed=S_t0=T_len=L_sres.mp4`` (and the LR video too if ``save_lowres``);
    without one, the LR video ``..._lres.mp4``. ``save_frames`` also writes native-size PNGs
    (``lres_<t>.png`` / ``sres_<t>.png``, ``t`` the absolute frame index) into ``out_dir/..._frames/``, or
    into ``save_frames`` itself when it is a path. Always writes ``..._info.json`` (no timings in it: same
    inputs, same bytes). Everything is streamed: memory does not depend on ``num_frames``. Checkpoints are
    paths (:func:`lvg.models.load_generator`; a reference ``.pkl`` is converted into the cache first) or
    modules. ``mode`` (``exact`` or ``fast``) and ``precision`` (``fp32`` or ``bf16``) are described in
    :func:`sequential_lowres` and :func:`autocast`; ``max_memory`` (bytes or ``"4G"``; default: 80 % of what
    is available) bounds the chunk sizes (:func:`lvg.memory.plan_chunks`). Returns the written paths under the
    keys ``lowres``, ``superres``, ``frames_dir``, ``info``.
    """
    if num_frames < 1:
        raise LvgError(f"num_frames must be positive, got {num_frames}")
    if mode not in MODES:
        raise LvgError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    check_precision(precision)
    out_dir = Path(out_dir)
    G_lr = _as_module(lowres_ckpt, "lowres", device)
    G_sr = None if superres_ckpt is None else _as_module(superres_ckpt, "superres", device)
    lr_grid, sr_grid = plan_chunks(G_lr, G_sr, lr_grid=lr_grid, sr_grid=sr_grid, max_memory=max_memory,
                                   device=device)
    stem = output_stem(seed, t0, num_frames)
    paths: dict[str, Path] = {}
    want_lr = save_lowres or G_sr is None
    if want_lr:
        paths["lowres"] = out_dir / f"{stem}_lres.mp4"
    if G_sr is not None:
        paths["superres"] = out_dir / f"{stem}_sres.mp4"
    if isinstance(save_frames, (str, Path)):
        frames_dir: Path | None = Path(save_frames)
    else:
        frames_dir = out_dir / f"{stem}_frames" if save_frames else None
    if frames_dir is not None:
        paths["frames_dir"] = frames_dir
        frames_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        lr_writer = stack.enter_context(VideoWriter(paths["lowres"], fps, crf, bitrate)) if want_lr else None
        hr_writer = (stack.enter_context(VideoWriter(paths["superres"], fps, crf, bitrate))
                     if G_sr is not None else None)
        t = t0
        if G_sr is None:
            pieces: Iterator[tuple[Tensor, Tensor | None]] = (
                (lr, None) for lr in iter_lowres(G_lr, seed, t0, num_frames, lr_grid=lr_grid, mode=mode,
                                                 precision=precision))
        else:
            pieces = _iter_pairs(G_lr, G_sr, seed, t0, num_frames, None, lr_grid, sr_grid, mode=mode,
                                 precision=precision)
        for lr, hr in pieces:
            if lr_writer is not None:
                lr_writer.write(lr)
            if hr_writer is not None:
                hr_writer.write(hr)
            if frames_dir is not None:
                if want_lr:
                    write_png_frames(lr, frames_dir, t, "lres")
                if hr is not None:
                    write_png_frames(hr, frames_dir, t, "sres")
            t += lr.shape[1]
    seconds = time.perf_counter() - start
    info = {
        "seed": seed, "t0": t0, "num_frames": num_frames, "fps": fps,
        "lr_grid": lr_grid, "sr_grid": sr_grid if G_sr is not None else None, "mode": mode, "precision": precision,
        "models": {"lowres": model_id(G_lr), "superres": model_id(G_sr) if G_sr is not None else None},
        "sources": {"lowres": _source(lowres_ckpt), "superres": _source(superres_ckpt)},
        "superres_latent": "sha256('lvg.superres.z:<seed>') -> torch.randn" if G_sr is not None else None,
        "files": {k: p.name for k, p in paths.items()},
        "encoding": (lr_writer or hr_writer).encoding,
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    paths["info"] = out_dir / f"{stem}_info.json"
    write_json(paths["info"], info)
    log.info("generated %d frames of seed %d from t0 = %d in %.1f s -> %s", num_frames, seed, t0, seconds,
             ", ".join(str(p) for p in paths.values()))
    return paths


def _source(x: Any) -> str | None:
    if x is None:
        return None
    if isinstance(x, nn.Module):
        return getattr(x, "model_source", type(x).__name__)
    return str(x)


# ============================================================================================ CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``lvg generate`` options (for :mod:`lvg.cli` to register; :func:`main` runs them standalone)."""
    p.add_argument("--lres", required=True, help="low-res generator: G_ema.safetensors or its directory, or a "
                   "released reference pickle (*_lres.pkl: converted once into the cache, nothing executed)")
    p.add_argument("--sres", default=None, help="super-res generator, likewise (omit for low-res only)")
    p.add_argument("--seed", type=int, required=True, help="video seed (any integer)")
    p.add_argument("--t0", type=int, default=0, help="first absolute frame (any integer, negative too)")
    p.add_argument("--len", dest="num_frames", type=int, default=301, help="number of frames")
    p.add_argument("--outdir", type=Path, required=True, help="output directory")
    p.add_argument("--save-lres", action="store_true", help="also write the low-res video when --sres is given")
    p.add_argument("--frames-dir", nargs="?", const=True, default=False, metavar="DIR",
                   help="also write one PNG per frame at native size (into DIR, default <outdir>/<name>_frames)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--fps", type=float, default=30)
    p.add_argument("--crf", type=int, default=None, help="x264 CRF (default: 16 Mbit/s, as the reference)")
    p.add_argument("--lr-grid", type=int, default=DEFAULT_LR_GRID,
                   help="internal LR chunk (frames are reproducible for a fixed grid)")
    p.add_argument("--sr-grid", type=int, default=DEFAULT_SR_GRID, help="internal SR chunk")
    p.add_argument("--mode", choices=MODES, default="exact",
                   help="exact: frame t bit-identical however reached (default); fast: one sequential run, "
                        "segments from t0 and the smallest exact margins (differs from exact by ~1e-6)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16: autocast, ~1.6x faster on CPUs with AMX; frames differ from fp32 by up to ~4e-2 of "
                        "their peak value (default fp32)")
    p.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory budget, e.g. 4G: chunk sizes are reduced to fit, or the run is refused "
                        "(default: 80%% of the memory available)")


def run_cli(args: argparse.Namespace) -> int:
    paths = generate(args.lres, args.sres, args.seed, args.t0, args.num_frames, args.outdir,
                     save_lowres=args.save_lres, save_frames=args.frames_dir, device=args.device, fps=args.fps,
                     crf=args.crf, lr_grid=args.lr_grid, sr_grid=args.sr_grid, mode=args.mode,
                     precision=args.precision, max_memory=args.max_memory)
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lvg.generate", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except (LvgError, OSError) as e:
        err = user_error(e)
        if err is None:
            raise
        print(f"error: {err}")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
