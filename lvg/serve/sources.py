"""What the viewer serves: "a model" = something that returns uint8 frames ``[a, b)`` of a seed.

This is the **only module of** :mod:`lvg.serve` **that imports the rest of lvg** (loaders, streams, the uint8
conversion, the mp4 writer, the baselines). The seams it wraps are being moved on main (loaders to
``lvg/models.py``, video writing to ``lvg/data/video.py``); keeping every such import here means a merge fixes
them in one place.

Every model is served in **fixed, aligned chunks** of ``chunk`` frames (chunk ``k`` = frames
``[k * chunk, (k + 1) * chunk)``), the same chunks the generators compute internally, so a frame is
bit-identical however the viewer reached it and identical to what ``lvg generate`` writes for the same torch
thread count (see :mod:`lvg.generate`):

* :class:`LowResModel`: chunk ``k`` is the LR generator's grid chunk ``k`` (``lr_grid`` frames).
* :class:`SuperResModel`: chunk ``j`` is the SR stream's chunk ``j`` (``sr_grid`` frames); the LR frames it
  reads come from the shared store (the float LR grid chunks, shared with the LR panel and other viewers).
* :class:`BaselineModel`: each baseline by its own long-video mechanism (``generate_frames``). StyleGAN-V and
  DIGAN query any ``t`` directly; MoCoGAN-HD unrolls its LSTM and TATS slides its GPT from frame 0, so frame
  ``t`` costs O(t): those two are *sequential* and served only up to a horizon (a clear HTTP error beyond).

Chunks are computed through a ``fetch(key, compute)`` callable (the server's :class:`~lvg.serve.store.ChunkStore`),
which caches by bytes and makes sure one chunk is computed once at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

# ---- every lvg import of the viewer lives below this line (merge seam: fix paths here only) --------------
from lvg.baselines import METHODS as BASELINE_METHODS
from lvg.baselines.common import generate_frames as baseline_frames
from lvg.data.video import VideoWriter, to_uint8
from lvg.errors import InputError, LvgError
from lvg.generate import DEFAULT_LR_GRID, DEFAULT_SR_GRID, LowResStream, SuperResStream, output_stem
from lvg.models import load_generator, model_id

__all__ = [
    "BaselineModel",
    "ClipCancelled",
    "DEFAULT_LR_GRID",
    "DEFAULT_SR_GRID",
    "Fetch",
    "FrameModel",
    "InputError",
    "LowResModel",
    "LvgError",
    "SEQUENTIAL",
    "SuperResModel",
    "build_models",
    "clip_name",
    "write_clip",
]

Fetch = Callable[[tuple, Callable[[], Any]], Any]
"""``fetch(key, compute) -> value``: the shared store's get-or-compute (cached, deduplicated)."""

SEQUENTIAL = {
    "mocoganhd": "MoCoGAN-HD unrolls its LSTM from frame 0, so frame t costs O(t)",
    "tats": "TATS generates its latent tokens autoregressively from frame 0, so frame t costs O(t)",
}
"""Baselines whose long-video mechanism cannot jump: served only below ``horizon``."""

MECHANISMS = {
    "lowres": "counter-based noise: any frame index directly",
    "superres": "LR frames t-4..t+4 through the SR network",
    "styleganv": "continuous-time motion codes: query any t",
    "digan": "INR over (x, y, t): extend t",
    "mocoganhd": "unroll the LSTM from frame 0",
    "tats": "sliding GPT window over latent frames from frame 0",
}


@dataclass
class FrameModel:
    """One panel of the viewer: uint8 frames ``[T, H, W, 3]`` of any seed, computed in aligned chunks.

    ``horizon`` is ``None`` for random access (any frame index costs the same) or the first frame index that
    is not served (sequential baselines). ``height``/``width`` are filled in by :meth:`warm_up`.
    """

    name: str
    kind: str  # lowres | superres | <baseline method>
    chunk: int  # frames per aligned chunk
    source: str  # checkpoint path (for the page and provenance)
    ident: str  # model_id: first 16 hex of a hash over config + weights
    horizon: int | None = None
    height: int = 0
    width: int = 0
    suffix: str = ""  # clip file suffix as lvg generate names it (lres / sres), "" for baselines
    generated: list = field(default_factory=lambda: [0, 0.0])  # frames computed, seconds spent (incl. inputs)

    @property
    def mechanism(self) -> str:
        return MECHANISMS.get(self.kind, self.kind)

    @property
    def why_horizon(self) -> str:
        """Why frames past ``horizon`` are not served (for error messages)."""
        return SEQUENTIAL.get(self.kind, "frame t costs O(t)")

    @property
    def chunk_bytes(self) -> int:
        """Bytes of one cached uint8 chunk (what the store holds per chunk of this model)."""
        return self.chunk * self.height * self.width * 3

    def compute_chunk(self, seed: int, k: int, fetch: Fetch) -> np.ndarray:
        """Chunk ``k`` as uint8 ``[chunk, H, W, 3]`` (called in a worker thread)."""
        raise NotImplementedError

    def chunk_key(self, seed: int, k: int) -> tuple:
        """The store key of uint8 chunk ``k`` of ``seed``."""
        return ("u8", self.name, seed, k)

    def chunk_u8(self, seed: int, k: int, fetch: Fetch) -> np.ndarray:
        """Chunk ``k`` through the shared store."""
        return fetch(self.chunk_key(seed, k), lambda: self.timed_chunk(seed, k, fetch))

    def timed_chunk(self, seed: int, k: int, fetch: Fetch) -> np.ndarray:
        """:meth:`compute_chunk`, counted in ``generated`` (frames, seconds: what /api/stats reports as the
        generation rate each model achieves on this machine)."""
        t = time.perf_counter()
        x = self.compute_chunk(seed, k, fetch)
        with _STATS_LOCK:
            self.generated[0] += self.chunk
            self.generated[1] += time.perf_counter() - t
        return x

    def frames(self, seed: int, start: int, stop: int, fetch: Fetch) -> np.ndarray:
        """uint8 frames ``[start, stop)`` ``[T, H, W, 3]`` (a new array), cut from the aligned chunks."""
        if stop <= start:
            raise ValueError(f"empty frame range [{start}, {stop})")
        c, parts = self.chunk, []
        for k in range(start // c, (stop - 1) // c + 1):
            lo, hi = max(start, k * c) - k * c, min(stop, (k + 1) * c) - k * c
            parts.append(self.chunk_u8(seed, k, fetch)[lo:hi])
        return np.concatenate(parts, axis=0)

    def chunks_of(self, start: int, stop: int) -> range:
        """Indices of the aligned chunks that frames ``[start, stop)`` touch."""
        return range(start // self.chunk, (stop - 1) // self.chunk + 1)

    def warm_up(self, fetch: Fetch) -> None:
        """Compute chunk 0 of seed 0 once: proves the checkpoint runs and fixes ``height``/``width``."""
        x = self.chunk_u8(0, 0, fetch)
        if x.ndim != 4 or x.shape[0] != self.chunk or x.shape[3] != 3:
            raise LvgError(f"model {self.name}: chunk has shape {x.shape}, expected [{self.chunk}, H, W, 3]")
        self.height, self.width = int(x.shape[1]), int(x.shape[2])

    def describe(self) -> dict[str, Any]:
        frames, seconds = self.generated
        return {"name": self.name, "kind": self.kind, "chunk": self.chunk, "height": self.height,
                "generated_frames": frames, "generation_fps": round(frames / seconds, 1) if seconds else None,
                "width": self.width, "horizon": self.horizon, "mechanism": self.mechanism,
                "source": self.source, "id": self.ident,
                "clip_matches": "lvg generate" if self.suffix else None}


class LowResModel(FrameModel):
    """Our LR generator. Its float grid chunks are also what :class:`SuperResModel` reads, so both go through
    the store under one key (``("lrf", name, seed, k)``) when an SR model shares this generator."""

    def __init__(self, name: str, G: nn.Module, source: str, lr_grid: int = DEFAULT_LR_GRID) -> None:
        super().__init__(name=name, kind="lowres", chunk=lr_grid, source=source, ident=model_id(G),
                         suffix="lres")
        self.G = G
        self.keep_float = False  # set when an SR model reads this generator's float chunks

    def float_chunk(self, seed: int, k: int, fetch: Fetch) -> Tensor:
        """Float grid chunk ``k`` ``[3, lr_grid, h, w]``: exactly ``LowResStream(G, seed, lr_grid).chunk(k)``."""
        return fetch(("lrf", self.name, seed, k), lambda: LowResStream(self.G, seed, self.chunk).chunk(k))

    def compute_chunk(self, seed: int, k: int, fetch: Fetch) -> np.ndarray:
        if self.keep_float:
            return to_uint8(self.float_chunk(seed, k, fetch))
        return to_uint8(LowResStream(self.G, seed, self.chunk).chunk(k))

    @property
    def float_bytes(self) -> int:
        return self.chunk_bytes * 4


class SuperResModel(FrameModel):
    """Our LR generator followed by the SR network: HR chunk ``j`` of ``sr_grid`` frames."""

    def __init__(self, name: str, lowres: LowResModel, G_sr: nn.Module, source: str,
                 sr_grid: int = DEFAULT_SR_GRID) -> None:
        super().__init__(name=name, kind="superres", chunk=sr_grid, source=source, ident=model_id(G_sr),
                         suffix="sres")
        # raises a clear LvgError when the SR network expects another LR size
        SuperResStream(lowres.G, G_sr, 0, lowres.chunk, sr_grid)
        self.lowres, self.G_sr = lowres, G_sr
        lowres.keep_float = True

    def compute_chunk(self, seed: int, j: int, fetch: Fetch) -> np.ndarray:
        # SuperResStream's own chunk computation, with its LR frames read from the shared store instead of
        # its private two-chunk cache: the same float tensors go into the same G_sr call, so the HR frames
        # are bit-identical to lvg generate's.
        stream = SuperResStream(self.lowres.G, self.G_sr, seed, self.lowres.chunk, self.chunk)
        stream.lowres.make_chunk = lambda k: self.lowres.float_chunk(seed, k, fetch)
        return to_uint8(stream.chunk(j))


class BaselineModel(FrameModel):
    """A baseline generator, sampled by its own long-video mechanism (``lvg.baselines.train.generate_frames``)."""

    def __init__(self, name: str, G: nn.Module, source: str, chunk: int, horizon: int | None) -> None:
        method = getattr(G, "method", name)
        super().__init__(name=name, kind=method, chunk=chunk, source=source, ident=model_id(G),
                         horizon=horizon if method in SEQUENTIAL else None)
        self.G = G

    def compute_chunk(self, seed: int, k: int, fetch: Fetch) -> np.ndarray:
        with torch.inference_mode():
            return to_uint8(baseline_frames(self.G, seed, k * self.chunk, self.chunk))


# ============================================================================================ loading
def _json_model(path: Path) -> str | None:
    """The ``"model"`` field of a checkpoint's JSON sidecar (None when absent)."""
    weights = path / "G_ema.safetensors" if path.is_dir() else path
    for cand in (weights.with_suffix(".json"), weights.parent / "config.json"):
        if cand.is_file():
            try:
                return json.loads(cand.read_text()).get("model")
            except (ValueError, AttributeError):
                return None
    return None


_STATS_LOCK = threading.Lock()


def _load_extra(name: str, path: Path, lr_grid: int, baseline_chunk: int,
                horizon: int) -> FrameModel:
    model = _json_model(path)
    if model is not None and str(model).startswith("baselines."):
        file = path / "G_ema.safetensors" if path.is_dir() else path
        if not file.is_file():
            raise InputError(file, f"baseline generator weights not found (model {name!r})")
        G = load_generator(file, "baseline")
        if G.method not in BASELINE_METHODS:
            raise InputError(file, f"unknown baseline method {G.method!r}")
        chunk = max(baseline_chunk, 256) if G.method in SEQUENTIAL else baseline_chunk
        return BaselineModel(name, G, str(file), chunk, horizon)
    return LowResModel(name, load_generator(path, "lowres"), str(path), lr_grid)


def build_models(lres: str | Path, sres: str | Path | None = None, extra: dict[str, str | Path] | None = None, *,
                 lr_grid: int = DEFAULT_LR_GRID, sr_grid: int = DEFAULT_SR_GRID, baseline_chunk: int = 32,
                 horizon: int = 9000) -> dict[str, FrameModel]:
    """Load every served model (clear :class:`LvgError` naming the file when one is missing or broken).

    ``lres``/``sres`` are ours (panels ``lr`` and ``hr``); ``extra`` maps panel names to more checkpoints: a
    baseline (``baselines.<method>`` in its JSON) or another LR generator (e.g. an imported released model).
    """
    models: dict[str, FrameModel] = {}
    lr = LowResModel("lr", load_generator(lres, "lowres"), str(lres), lr_grid)
    models["lr"] = lr
    if sres is not None:
        models["hr"] = SuperResModel("hr", lr, load_generator(sres, "superres"), str(sres), sr_grid)
    for name, path in (extra or {}).items():
        if name in models:
            raise LvgError(f"model name {name!r} is used twice (lr and hr are ours)")
        models[name] = _load_extra(name, Path(path), lr_grid, baseline_chunk, horizon)
    return models


# ============================================================================================ clips
def clip_name(model: FrameModel, seed: int, a: int, b: int) -> str:
    """``lvg generate``'s file name for frames ``[a, b)`` (``seed=S_t0=A_len=L_lres.mp4``)."""
    stem = output_stem(seed, a, b - a)
    return f"{stem}_{model.suffix or model.kind}.mp4"


class ClipCancelled(Exception):
    """The client that asked for a clip went away: :func:`write_clip` stops and leaves no file."""


def write_clip(model: FrameModel, seed: int, a: int, b: int, path: str | Path, fetch: Fetch,
               crf: int | None = None, cancelled: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Frames ``[a, b)`` as an mp4 at ``path`` with ``lvg generate``'s writer and defaults (H.264, 16 Mbit/s
    or ``crf`` as ``--crf``, yuv420p, auto upscale, 30 fps), written chunk by chunk from the store, so memory
    stays bounded however long the clip. Raises :class:`ClipCancelled` (the atomic write leaves nothing at
    ``path``) when ``cancelled()`` turns true between chunks.

    The frames fed to the encoder are bit-identical to ``lvg generate``'s. The bytes are too with ``crf=0``
    (lossless: measured identical run after run); at the default 16 Mbit/s x264's multi-threaded rate control
    makes ``lvg generate`` itself write slightly different bytes from one run to the next, so only the
    decoded frames (within codec rounding) can be compared there.
    """
    with VideoWriter(path, 30, crf) as writer:
        for k in model.chunks_of(a, b):
            if cancelled():
                raise ClipCancelled(f"clip [{a}, {b}) of {model.name} cancelled")
            lo, hi = max(a, k * model.chunk), min(b, (k + 1) * model.chunk)
            writer.write(model.frames(seed, lo, hi, fetch))
    return writer.encoding | {"num_frames": writer.num_frames}
