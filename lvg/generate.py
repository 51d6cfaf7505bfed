"""Long videos of any length from any time offset, streamed in constant memory, reproducible frame by frame.

This is the ``generate`` phase (``lvg generate`` and the Snakemake rule both call :func:`generate`) and the
sample-set writer the metrics phase reads (:func:`generate_sample_set`, :func:`superres_from_real`).

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
record device, torch version and thread count. A
"one-pass" video is the same computation, so it is also bit-identical; a *naive* single forward over a whole
window differs only by rounding (about 1e-6). Only a bounded number of grid chunks is cached, so memory does not
grow with the length of the video.

**Files.** :class:`VideoWriter` writes H.264 mp4 through PyAV, atomically (temporary name, renamed when
complete). Floats in ``[-1, 1]`` become uint8 as ``clamp(127.5 * x + 128, 0, 255)`` truncated (the reference's
conversion). Like the reference, frames are nearest-upsampled by the smallest integer factor that makes both
sides multiples of 16 (36x64 -> 144x256, 32x32 stays, 8x8 -> 16x16); ``upscale=1`` keeps the native size.
:func:`generate` writes ``seed=S_t0=T_len=L_lres.mp4`` / ``..._sres.mp4`` plus ``..._info.json`` (seed, window,
grids, model ids, encoding), and optionally one PNG per frame at native size in ``..._frames/``
(``lres_<t>.png`` / ``sres_<t>.png``, ``t`` the absolute frame index).

**Checkpoints.** :func:`load_lowres` / :func:`load_superres` read a ``.safetensors`` state dict plus a JSON
config (never a pickle); see :func:`find_generator_files` for where the JSON is looked for and which key holds
the config.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from torch import Tensor, nn

from lvg.errors import InputError, LvgError
from lvg.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LR_GRID",
    "DEFAULT_SR_GRID",
    "FrameSource",
    "LowResStream",
    "SuperResStream",
    "VideoWriter",
    "auto_upscale",
    "find_generator_files",
    "generate",
    "generate_lowres",
    "generate_sample_set",
    "generate_superres",
    "iter_lowres",
    "iter_superres",
    "load_lowres",
    "load_superres",
    "model_id",
    "output_stem",
    "superres_from_real",
    "superres_latent",
    "to_uint8",
    "write_video",
]

DEFAULT_LR_GRID = 256  # LR frames per internal chunk (a multiple of the 32x temporal scale)
DEFAULT_SR_GRID = 16  # HR frames per internal chunk (the reference's SR segment length)
DEFAULT_BITRATE = 16_000_000  # the reference's 16 Mbit/s
INDEX_FORMAT = 1


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


def phase_t0(seed: int, period: int) -> int:
    """A deterministic "random" phase in ``[0, period)`` for video ``seed`` (sample sets' default ``t0``).

    The reference evaluates crops at a random phase of the 1/32 grid; here it is derived from the seed
    (``sha256("lvg.phase:<seed>")``) so that sample sets are reproducible.
    """
    digest = hashlib.sha256(f"lvg.phase:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % period


def _device_of(module: nn.Module) -> torch.device:
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


# ============================================================================================ streaming
class FrameSource:
    """Frames ``[3, T, H, W]`` of an endless video served from fixed, aligned chunks of ``grid`` frames.

    ``make_chunk(k)`` must return frames ``[k * grid, (k + 1) * grid)``. At most ``cache_size`` chunks are
    kept (least recently used evicted), so memory is bounded by the chunk size, not the video length.
    ``chunks_computed`` and ``max_cached_bytes`` expose the streaming state for tests and benchmarks.
    """

    def __init__(self, make_chunk: Callable[[int], Tensor], grid: int, cache_size: int = 2) -> None:
        if grid < 1 or cache_size < 1:
            raise ValueError(f"grid and cache_size must be >= 1, got {grid}, {cache_size}")
        self.make_chunk, self.grid, self.cache_size = make_chunk, grid, cache_size
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
        g = self.grid
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
        t, end = t0, t0 + num_frames
        while t < end:
            stop = min(end, t + chunk) if chunk else min(end, (t // self.grid + 1) * self.grid)
            yield self.frames(t, stop)
            t = stop


def _check_grid(G_lr: nn.Module, lr_grid: int) -> None:
    s = G_lr.temporal_scale
    if lr_grid < s or lr_grid % s:
        raise ValueError(f"lr_grid must be a positive multiple of the generator's temporal scale {s}, "
                         f"got {lr_grid}")


class LowResStream(FrameSource):
    """The endless LR video of ``seed``: ``[3, T, h, w]`` frames on ``G_lr``'s device (see the module doc)."""

    def __init__(self, G_lr: nn.Module, seed: int, lr_grid: int = DEFAULT_LR_GRID, cache_size: int = 2) -> None:
        _check_grid(G_lr, lr_grid)
        self.G_lr, self.seed = G_lr, int(seed)
        super().__init__(self._make, lr_grid, cache_size)

    def _make(self, k: int) -> Tensor:
        with torch.inference_mode(), _deterministic_backends():
            return self.G_lr([self.seed], t0=k * self.grid, num_frames=self.grid)[0]


class SuperResStream(FrameSource):
    """The endless HR video of ``seed``: :class:`LowResStream` frames through ``G_sr`` in aligned chunks."""

    def __init__(self, G_lr: nn.Module, G_sr: nn.Module, seed: int, lr_grid: int = DEFAULT_LR_GRID,
                 sr_grid: int = DEFAULT_SR_GRID) -> None:
        cfg = G_sr.cfg
        if (G_lr.cfg.height, G_lr.cfg.width) != (cfg.lr_height, cfg.lr_width):
            raise LvgError(f"the low-res generator makes {G_lr.cfg.height}x{G_lr.cfg.width} frames but the "
                           f"super-res generator expects {cfg.lr_height}x{cfg.lr_width} input")
        if sr_grid < 1:
            raise ValueError(f"sr_grid must be positive, got {sr_grid}")
        self.context = cfg.temporal_context
        # an HR chunk reads sr_grid + 2 * context LR frames: keep every LR chunk it can touch
        lr_cache = max(2, math.ceil((sr_grid + 2 * self.context) / lr_grid) + 1)
        self.lowres = LowResStream(G_lr, seed, lr_grid, cache_size=lr_cache)
        self.G_sr, self.seed = G_sr, int(seed)
        self.z = superres_latent(seed, cfg.z_dim, _device_of(G_sr))
        super().__init__(self._make, sr_grid, cache_size=1)

    def _make(self, j: int) -> Tensor:
        k, g = self.context, self.grid
        lr = self.lowres.frames(j * g - k, (j + 1) * g + k).to(_device_of(self.G_sr))
        with torch.inference_mode(), _deterministic_backends():
            return self.G_sr(lr[None], self.z)[0]

    @property
    def max_cached_bytes_total(self) -> int:
        """Peak bytes held by both caches (HR chunk + LR chunks)."""
        return self.max_cached_bytes + self.lowres.max_cached_bytes


@contextlib.contextmanager
def _deterministic_backends() -> Iterator[None]:
    """cuDNN: no benchmark-mode autotuning (it may pick different kernels on different runs)."""
    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic)
    cudnn.benchmark, cudnn.deterministic = False, True
    try:
        yield
    finally:
        cudnn.benchmark, cudnn.deterministic = saved


def iter_lowres(G: nn.Module, seed: int, t0: int, num_frames: int, chunk: int | None = None, *,
                lr_grid: int = DEFAULT_LR_GRID) -> Iterator[Tensor]:
    """LR frames ``t0 .. t0 + num_frames - 1`` of video ``seed``, streamed: tensors ``[3, T_chunk, h, w]``.

    Pieces have ``chunk`` frames (the last may be shorter); ``chunk=None`` cuts at the internal grid. Frame
    ``t`` is bit-identical for every ``t0``, ``num_frames`` and ``chunk`` (fixed ``lr_grid``).
    """
    yield from LowResStream(G, seed, lr_grid).iter_frames(t0, num_frames, chunk)


def _iter_pairs(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int, chunk: int | None,
                lr_grid: int, sr_grid: int) -> Iterator[tuple[Tensor, Tensor]]:
    """(LR piece, HR piece) of the same frames: LR and HR written in one pass, LR computed once."""
    stream = SuperResStream(G_lr, G_sr, seed, lr_grid, sr_grid)
    t = t0
    for hr in stream.iter_frames(t0, num_frames, chunk):
        n = hr.shape[1]
        yield stream.lowres.frames(t, t + n), hr
        t += n


def iter_superres(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int,
                  chunk: int | None = None, *, lr_grid: int = DEFAULT_LR_GRID,
                  sr_grid: int = DEFAULT_SR_GRID) -> Iterator[Tensor]:
    """HR frames aligned with LR frames ``t0 .. t0 + num_frames - 1`` of video ``seed``: ``[3, T_chunk, H, W]``.

    HR frame ``t`` comes from LR frames ``t - 4 .. t + 4`` (generated, also outside the window) and
    :func:`superres_latent` of the seed. Bit-identical for every ``t0``, ``num_frames`` and ``chunk``.
    """
    yield from SuperResStream(G_lr, G_sr, seed, lr_grid, sr_grid).iter_frames(t0, num_frames, chunk)


def generate_lowres(G: nn.Module, seed: int, t0: int, num_frames: int, *,
                    lr_grid: int = DEFAULT_LR_GRID) -> Tensor:
    """The one-pass LR video ``[3, num_frames, h, w]`` (the same grid chunks as streaming: identical frames)."""
    return torch.cat(list(iter_lowres(G, seed, t0, num_frames, lr_grid=lr_grid)), dim=1)


def generate_superres(G_lr: nn.Module, G_sr: nn.Module, seed: int, t0: int, num_frames: int, *,
                      lr_grid: int = DEFAULT_LR_GRID, sr_grid: int = DEFAULT_SR_GRID) -> Tensor:
    """The one-pass HR video ``[3, num_frames, H, W]`` (identical to streaming)."""
    return torch.cat(list(iter_superres(G_lr, G_sr, seed, t0, num_frames, lr_grid=lr_grid, sr_grid=sr_grid)),
                     dim=1)


# ============================================================================================ writing
def to_uint8(frames: Tensor) -> np.ndarray:
    """``[3, T, H, W]`` floats in ``[-1, 1]`` -> uint8 ``[T, H, W, 3]``: ``clamp(127.5 x + 128)``, truncated."""
    if frames.ndim != 4 or frames.shape[0] != 3:
        raise ValueError(f"expected frames [3, T, H, W], got {tuple(frames.shape)}")
    x = (frames.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(1, 2, 3, 0).contiguous().cpu().numpy()


def auto_upscale(height: int, width: int, multiple: int = 16) -> int:
    """Smallest integer factor that makes both sides multiples of ``multiple`` (36x64 -> 4, 32x32 -> 1)."""
    return multiple // math.gcd(multiple, height, width)


class VideoWriter:
    """An H.264 mp4 written frame chunk by frame chunk, published atomically on a clean :meth:`close`.

    Args:
        path: the ``.mp4`` to write (parent directories are created).
        fps: frame rate (the reference: 30).
        crf: constant rate factor (0 = lossless); when None, ``bitrate`` applies.
        bitrate: bits per second when ``crf`` is None (default 16 Mbit/s, the reference's).
        pix_fmt: ``yuv420p`` (default, plays everywhere; needs even sides) or ``yuv444p`` (no chroma
            subsampling: what metrics should read).
        upscale: integer nearest-neighbour factor, or ``"auto"`` (:func:`auto_upscale`).

    Use as a context manager; an exception discards the temporary file and leaves nothing under ``path``.
    ``write`` takes float tensors ``[3, T, H, W]`` in ``[-1, 1]`` or uint8 arrays ``[T, H, W, 3]``.
    """

    def __init__(self, path: str | Path, fps: float = 30, crf: int | None = None, bitrate: int | None = None,
                 pix_fmt: str = "yuv420p", upscale: int | str = "auto") -> None:
        self.path = Path(path)
        self.fps, self.crf, self.pix_fmt = fps, crf, pix_fmt
        self.bitrate = DEFAULT_BITRATE if bitrate is None and crf is None else bitrate
        self.upscale = upscale
        self.num_frames = 0
        self.size: tuple[int, int] | None = None  # written (height, width)
        self._atomic = atomic_path(self.path)
        self._tmp: Path | None = None
        self._container = None
        self._stream = None

    @property
    def encoding(self) -> dict[str, Any]:
        return {"codec": "h264", "fps": self.fps, "crf": self.crf, "bitrate": self.bitrate,
                "pix_fmt": self.pix_fmt, "upscale": self.upscale}

    def __enter__(self) -> VideoWriter:
        self._tmp = self._atomic.__enter__()
        return self

    def _open(self, height: int, width: int) -> None:
        k = auto_upscale(height, width) if self.upscale == "auto" else int(self.upscale)
        self.upscale = k
        h, w = height * k, width * k
        if self.pix_fmt == "yuv420p" and (h % 2 or w % 2):
            raise LvgError(f"{self.path}: {h}x{w} frames cannot be written as yuv420p (sides must be even); "
                           f"use upscale=2 or pix_fmt='yuv444p'")
        assert self._tmp is not None, "use VideoWriter as a context manager"
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, self.pix_fmt
        if self.crf is not None:
            stream.options = {"crf": str(int(self.crf))}
        else:
            stream.bit_rate = int(self.bitrate)
        self._stream, self.size = stream, (h, w)

    def write(self, frames: Tensor | np.ndarray) -> None:
        arr = to_uint8(frames) if isinstance(frames, Tensor) else np.asarray(frames)
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3:
            raise ValueError(f"expected uint8 frames [T, H, W, 3], got {arr.dtype} {arr.shape}")
        if self._container is None:
            self._open(arr.shape[1], arr.shape[2])
        k = int(self.upscale)
        if k > 1:
            arr = arr.repeat(k, axis=1).repeat(k, axis=2)
        if arr.shape[1:3] != self.size:
            raise ValueError(f"{self.path}: frame size {arr.shape[1:3]} changed (was {self.size})")
        for frame in arr:
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                self._container.mux(packet)
        self.num_frames += arr.shape[0]

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._container is not None:
                if exc_type is None:
                    for packet in self._stream.encode():
                        self._container.mux(packet)
                self._container.close()
            if exc_type is None and self.num_frames == 0:
                raise LvgError(f"{self.path}: no frames to write")
        except BaseException as e:
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)


def write_video(frames_iter: Iterator[Tensor | np.ndarray] | Sequence[Tensor | np.ndarray], path: str | Path,
                fps: float = 30, crf: int | None = None, bitrate: int | None = None, pix_fmt: str = "yuv420p",
                upscale: int | str = "auto") -> dict[str, Any]:
    """Write frame chunks to an H.264 mp4 atomically (see :class:`VideoWriter`); return what was written."""
    with VideoWriter(path, fps, crf, bitrate, pix_fmt, upscale) as writer:
        for frames in frames_iter:
            writer.write(frames)
    return {"path": str(path), "num_frames": writer.num_frames, "size": list(writer.size or ()),
            **writer.encoding}


def write_png_frames(frames: Tensor, out_dir: str | Path, first_index: int, prefix: str) -> None:
    """One PNG per frame at native size: ``out_dir/<prefix>_<t:06d>.png`` with ``t`` the absolute index."""
    from PIL import Image

    out_dir = Path(out_dir)
    for i, frame in enumerate(to_uint8(frames)):
        path = out_dir / f"{prefix}_{first_index + i:06d}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(frame).save(tmp, format="PNG")


# ============================================================================================ checkpoints
WEIGHTS_FILE = "G_ema.safetensors"
CONFIG_KEY = "generator"
MODEL_NAMES = {"lowres": "lowres.VideoGenerator", "superres": "superres.SRGenerator"}


def find_generator_files(path: str | Path, kind: str) -> tuple[Path, Path, dict]:
    """Locate ``(weights, config JSON, generator config dict)`` for ``path`` (a file or a directory).

    Weights: ``path`` itself if it is a file, else ``path/G_ema.safetensors``. The config is the first of
    these JSON files that exists and holds one: ``<weights stem>.json`` (the trainer's ``save_generator``),
    then ``config.json`` and ``state.json`` in the weights' directory, then ``../../config.json`` (the run
    directory of ``<run>/checkpoints/ckpt-XXXXXXXX/``). In each file the :class:`GeneratorConfig` /
    :class:`SRGeneratorConfig` dict is read from the top-level key ``"generator"`` or from
    ``"state" -> "generator"`` (a checkpoint's ``state.json``). A top-level ``"model"`` key, when present,
    must be ``"lowres.VideoGenerator"`` / ``"superres.SRGenerator"``, so the wrong stage is a clear error.
    """
    path = Path(path)
    weights = path / WEIGHTS_FILE if path.is_dir() else path
    if not weights.is_file():
        raise InputError(weights, f"{kind} generator weights not found")
    d = weights.parent
    candidates = [weights.with_suffix(".json"), d / "config.json", d / "state.json", d.parent.parent / "config.json"]
    for cand in candidates:
        if not cand.is_file():
            continue
        try:
            doc = read_json(cand)
        except ValueError as e:
            raise InputError(cand, f"not valid JSON ({e})") from None
        if not isinstance(doc, dict):
            continue
        model = doc.get("model")
        if model is not None and model != MODEL_NAMES[kind]:
            raise InputError(cand, f"holds a {model!r}, expected a {MODEL_NAMES[kind]!r} ({kind} generator)")
        cfg = doc.get(CONFIG_KEY)
        if cfg is None and isinstance(doc.get("state"), dict):
            cfg = doc["state"].get(CONFIG_KEY)
        if isinstance(cfg, dict):
            return weights, cand, cfg
    raise InputError(weights, f"no generator config found: looked for key {CONFIG_KEY!r} in "
                     f"{', '.join(str(c) for c in candidates)}")


def _load(path: str | Path, kind: str, device: str | torch.device) -> nn.Module:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, cfg_file, cfg_dict = find_generator_files(path, kind)
    if kind == "lowres":
        from lvg.lowres.generator import GeneratorConfig as Config
        from lvg.lowres.generator import VideoGenerator as Net
    else:
        from lvg.superres.generator import SRGenerator as Net
        from lvg.superres.generator import SRGeneratorConfig as Config
    try:
        net = Net(Config.from_dict(cfg_dict))
    except (TypeError, ValueError) as e:
        raise InputError(cfg_file, f"bad {kind} generator config: {e}") from None
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise InputError(weights, f"unreadable safetensors file ({e})") from None
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise InputError(weights, f"weights do not match the config in {cfg_file}: {e}") from None
    net.model_source = str(weights)  # for provenance records
    return net.to(device).eval().requires_grad_(False)


def load_lowres(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A :class:`~lvg.lowres.generator.VideoGenerator` from safetensors + JSON (:func:`find_generator_files`)."""
    return _load(path, "lowres", device)


def load_superres(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A :class:`~lvg.superres.generator.SRGenerator` from safetensors + JSON (:func:`find_generator_files`)."""
    return _load(path, "superres", device)


def model_id(module: nn.Module) -> str:
    """First 16 hex digits of a SHA-256 over the config and the state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    cfg = getattr(module, "cfg", None)
    if cfg is not None and hasattr(cfg, "to_dict"):
        h.update(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


# ============================================================================================ entry points
def output_stem(seed: int, t0: int, num_frames: int) -> str:
    return f"seed={seed}_t0={t0}_len={num_frames}"


def _as_module(x: nn.Module | str | Path, kind: str, device: str | torch.device) -> nn.Module:
    if isinstance(x, nn.Module):
        return x.to(device)
    return load_lowres(x, device) if kind == "lowres" else load_superres(x, device)


def generate(lowres_ckpt: nn.Module | str | Path, superres_ckpt: nn.Module | str | Path | None, seed: int,
             t0: int, num_frames: int, out_dir: str | Path, save_lowres: bool = False,
             save_frames: bool | str | Path = False, *, device: str | torch.device = "cpu", fps: float = 30, crf: int | None = None,
             bitrate: int | None = None, lr_grid: int = DEFAULT_LR_GRID, sr_grid: int = DEFAULT_SR_GRID
             ) -> dict[str, Path]:
    """The ``generate`` phase: frames ``[t0, t0 + num_frames)`` of video ``seed`` as mp4 files in ``out_dir``.

    With a super-res model, writes ``seed=S_t0=T_len=L_sres.mp4`` (and the LR video too if ``save_lowres``);
    without one, the LR video ``..._lres.mp4``. ``save_frames`` also writes native-size PNGs
    (``lres_<t>.png`` / ``sres_<t>.png``, ``t`` the absolute frame index) into ``out_dir/..._frames/``, or
    into ``save_frames`` itself when it is a path. Always writes ``..._info.json`` (no timings in it: same
    inputs, same bytes). Everything is streamed: memory does not depend on ``num_frames``. Checkpoints are
    paths (:func:`load_lowres`) or modules. Returns the written paths under the keys ``lowres``,
    ``superres``, ``frames_dir``, ``info``.
    """
    if num_frames < 1:
        raise LvgError(f"num_frames must be positive, got {num_frames}")
    out_dir = Path(out_dir)
    G_lr = _as_module(lowres_ckpt, "lowres", device)
    G_sr = None if superres_ckpt is None else _as_module(superres_ckpt, "superres", device)
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
                (lr, None) for lr in iter_lowres(G_lr, seed, t0, num_frames, lr_grid=lr_grid))
        else:
            pieces = _iter_pairs(G_lr, G_sr, seed, t0, num_frames, None, lr_grid, sr_grid)
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
        "lr_grid": lr_grid, "sr_grid": sr_grid if G_sr is not None else None,
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


# ============================================================================================ sample sets
SAMPLE_ENCODING = {"crf": 0, "pix_fmt": "yuv444p", "upscale": 1}  # lossless H.264, native size


@dataclass
class _SampleSet:
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


def _seed_list(seeds: int | Sequence[int], num_videos: int) -> list[int]:
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
                        model_ids: dict[str, str] | None = None) -> Path:
    """``num_videos`` generated videos of ``num_frames`` frames as mp4 files plus ``out_dir/index.json``.

    Args:
        seeds: one per video, or the first of ``num_videos`` consecutive seeds.
        resolution: ``"lr"`` (LR frames) or ``"hr"`` (super-resolved; needs ``G_sr``).
        t0: per-video first frame: an int, one per video, or ``"phase"`` (default): :func:`phase_t0` of the
            seed in ``[0, 32)``, the reference's random phase of the 1/32 grid, made reproducible.
        encoding: :class:`VideoWriter` options; default lossless H.264 yuv444p at native size, so metrics see
            the generator's frames rather than codec artefacts (:data:`SAMPLE_ENCODING`).
        model_ids: recorded in the index (default :func:`model_id` of each module).

    Files are ``seed=S_t0=T_len=L_{lres,sres}.mp4``, each written atomically. ``index.json`` (written last,
    so its presence means the set is complete) lists seeds, t0s, lengths, files, sizes, model ids, grids and
    encoding. An interrupted run with the same settings resumes: finished videos are kept.
    """
    if resolution not in ("lr", "hr"):
        raise ValueError(f"resolution must be 'lr' or 'hr', got {resolution!r}")
    if resolution == "hr" and G_sr is None:
        raise LvgError("a super-resolution model is needed for resolution='hr'")
    seeds = _seed_list(seeds, num_videos)
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
              "superres_latent": "sha256('lvg.superres.z:<seed>') -> torch.randn" if resolution == "hr" else None,
              "device": str(_device_of(G_lr)), "torch": torch.__version__, "threads": torch.get_num_threads()}
    sset = _SampleSet(Path(out_dir), header)
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
    seeds = _seed_list(seeds, num_videos)
    enc = {**SAMPLE_ENCODING, **(encoding or {})}
    clip_ids = reader.clip_ids
    header = {"format": INDEX_FORMAT, "kind": "superres_from_real", "resolution": "hr",
              "num_videos": num_videos, "num_frames": num_frames, "fps": fps, "encoding": enc,
              "models": model_ids or {"lowres": None, "superres": model_id(G_sr)}, "sr_grid": sr_grid,
              "seeds": seeds, "superres_latent": "sha256('lvg.superres.z:<seed>') -> torch.randn",
              "dataset": str(getattr(reader, "dataset_dir", ""))}
    sset = _SampleSet(Path(out_dir), header)
    resume = sset.start()
    device = _device_of(G_sr)
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
                    with torch.inference_mode(), _deterministic_backends():
                        hr = G_sr(lr[None], z)[0]
                    hr_w.write(hr)
                    if lr_w is not None:
                        lr_w.write(lr[:, k:k + n])
        sset.videos.append(entry)
    return sset.finish()


# ============================================================================================ CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``lvg generate`` options (for :mod:`lvg.cli` to register; :func:`main` runs them standalone)."""
    p.add_argument("--lres", required=True, help="low-res generator: G_ema.safetensors or its directory")
    p.add_argument("--sres", default=None, help="super-res generator (omit for low-res only)")
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


def run_cli(args: argparse.Namespace) -> int:
    paths = generate(args.lres, args.sres, args.seed, args.t0, args.num_frames, args.outdir,
                     save_lowres=args.save_lres, save_frames=args.frames_dir, device=args.device, fps=args.fps,
                     crf=args.crf, lr_grid=args.lr_grid, sr_grid=args.sr_grid)
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lvg.generate", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except LvgError as e:
        print(f"error: {e}")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
