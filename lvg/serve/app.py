"""``lvg serve``: watch and scrub an endless generated video in the browser (aiohttp).

The paper's design generates "arbitrary frames in arbitrary order"; lvg's counter-based noise and aligned
chunks make frame ``t`` of seed ``s`` a pure function of ``(weights, s, t)``. This server lets a person
experience that: a page (``static/index.html`` + ``player.js``) plays any seed from any frame index at 30 fps,
scrubs over hours (or types any index, 10^9 included), shows several models side by side in sync, and saves
frames ``[a, b)`` as the same mp4 ``lvg generate --t0 a --len b-a`` writes.

**Delivery.** Frames travel as *lossless PNG sprite sheets*: ``/api/segment`` returns ``count`` consecutive
frames (default 32, about a second) tiled in one PNG, which the page decodes once and draws frame by frame
onto a canvas. Lossless, so the pixels the browser shows are exactly the generator's uint8 frames (the tests
compare them bit for bit); one request per second of video per panel, so HTTP overhead does not matter; and
``benchmarks/bench_serve.py`` measures that PNG encoding costs far less than generating the frames (H.264
segments for Media Source Extensions would save bytes, which loopback does not need, at a higher encode cost
and with codec rounding).

**Generation** happens on demand in each model's aligned chunks in a :class:`~lvg.serve.store.ChunkStore`:
worker threads off the event loop, one computation per chunk at a time, an LRU cache bounded by bytes
shared by every viewer, and ahead-of-playhead prefetch at low priority.

**Memory.** ``--memory-mb`` bounds the whole server's resident memory: after warm-up the server measures
what the models and runtime hold and what computing one chunk needs on top (per generating thread), and
gives the cache the rest; ``/api/stats`` reports the plan and the peak resident set while serving. Encoded segments
are cached too, so concurrent viewers of the same frames share the encoding as well.

**Bad input** gets a JSON error ``{"error": ..., "param": ...}``: 400 for a malformed or out-of-range
parameter, 404 for an unknown model, seed or route; a client that disconnects only cancels its own request
(a clip being written stops between chunks and leaves no file). It binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from lvg.serve.sources import ClipCancelled, FrameModel, LvgError, clip_name, write_clip
from lvg.serve.store import FOREGROUND, LOOKAHEAD, PREFETCH, ChunkStore

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
FPS = 30
MAX_FRAME = 10**12 - 1  # ~1000 years at 30 fps: any index a person can type, far below int64 limits
SHEET_COLS = 8  # frames per row of a sprite sheet
_INT = re.compile(r"^[+-]?\d{1,19}$")


# ============================================================================================ config
@dataclass
class ServeConfig:
    """Server limits (the CLI options)."""

    seeds: tuple[int, int] = (0, 1023)  # served seeds, inclusive
    max_frame: int = MAX_FRAME
    segment: int = 32  # frames per sprite sheet the page asks for
    max_segment: int = 256
    max_clip: int = 9000  # frames per saved clip (5 minutes)
    prefetch: int = 64  # frames past a request's end that the server prepares at low priority
    memory_bytes: int = 2048 * 2**20  # the whole server's resident-memory budget; the cache gets what is left
    workers: int = 1
    threads: int = 1  # torch intra-op threads


class HttpError(web.HTTPException):
    """An HTTP error with a JSON body ``{"error": message, "param": name}`` (``param`` names the bad query
    parameter, or is null): clients and people both see what was wrong."""

    def __init__(self, status: int, param: str | None, message: str) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message, "param": param}), content_type="application/json")


# ============================================================================================ memory
def memory_status() -> dict[str, int]:
    """The process's resident memory now and its peak since :func:`reset_peak` (bytes), from /proc (Linux),
    or getrusage's lifetime peak elsewhere."""
    out = {"rss": 0, "peak_rss": 0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                out["peak_rss"] = int(line.split()[1]) * 1024
    except OSError:
        import resource

        out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process, so the next peak measures what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def tune_malloc() -> None:
    """Make freed chunk buffers leave the resident set (glibc only; a no-op elsewhere).

    Why: glibc gives every thread its own arena and raises its mmap threshold after large frees, so buffers
    of a few MB that the cache has evicted stay resident in arenas and the process grows past what it holds
    (measured: 4 viewers, 8 MB cache, +98 MB over idle; with these settings +40 MB). A fixed mmap threshold
    returns such buffers to the system on free; two arenas bound the per-thread slack.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD (also stops its dynamic growth)
        libc.mallopt(-1, 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


# ============================================================================================ the viewer
@dataclass
class Counters:
    requests: int = 0
    segments: int = 0
    frames_sent: int = 0
    clips: int = 0
    clips_active: int = 0  # clip writers running now
    clips_cancelled: int = 0
    client_errors: int = 0
    server_errors: int = 0
    disconnects: int = 0


@dataclass
class Viewer:
    """The models, the shared store and the HTTP handlers."""

    models: dict[str, FrameModel]
    cfg: ServeConfig
    store: ChunkStore = field(init=False)
    counters: Counters = field(default_factory=Counters)
    started: float = field(default_factory=time.time)
    warm_seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # provisional budget for the warm-up; warm_up() sets the real one from measured memory
        self.store = ChunkStore(max(self.min_cache_bytes(), 64 * 2**20), self.cfg.workers)
        self.clip_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvg-serve-clip")
        self.tmp = Path(tempfile.mkdtemp(prefix="lvg-serve-"))
        self.memory_plan: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ setup
    def warm_up(self) -> None:
        """Compute one chunk of every model (fails fast on a broken checkpoint; fixes frame sizes), then split
        the memory budget: what the process holds now (models, runtime) + the measured transient memory of
        one chunk computation per generating thread + slack; the cache gets the rest.

        The transient is measured, not guessed: the peak-RSS mark is reset before the warm-up, so its rise
        above the settled resident set is what computing one chunk of the largest model needs on top.
        """
        reset_peak()
        for name, m in self.models.items():
            t = time.perf_counter()
            m.warm_up(self.store.get)
            self.warm_seconds[name] = time.perf_counter() - t
        self.store.clear()
        mem = memory_status()
        transient = max(0, mem["peak_rss"] - mem["rss"])
        threads = self.cfg.workers + 1  # the generation workers and the clip writer
        slack = 64 * 2**20  # sockets, request buffers, encoded responses in flight, allocator rounding
        reserve = threads * transient + slack
        cache = self.cfg.memory_bytes - mem["rss"] - reserve
        need = self.min_cache_bytes()
        if cache < need:
            mb = 2**20
            raise LvgError(
                f"--memory-mb {self.cfg.memory_bytes / mb:g} is too small: after loading and warming up, the "
                f"models and runtime hold {mem['rss'] / mb:.0f} MB, each of {threads} generating threads may need "
                f"{transient / mb:.0f} MB more, {slack / mb:.0f} MB slack, and the cache at least "
                f"{need / mb:.1f} MB; give at least {int(np.ceil((mem['rss'] + reserve + need) / mb))}")
        self.store.budget = cache
        self.memory_plan = {"budget": self.cfg.memory_bytes, "resident_after_warm_up": mem["rss"],
                            "transient_per_thread": transient, "threads": threads, "slack": slack,
                            "cache": cache}
        reset_peak()  # from here on, peak_rss is the peak while serving

    def min_cache_bytes(self) -> int:
        """Working set of one viewer: two chunks per model (the playhead's and the next), their float LR
        chunks, and two encoded segments of raw size (an upper bound for PNG)."""
        need = 0
        for m in self.models.values():
            need += 2 * m.chunk_bytes + 2 * self.cfg.max_segment * m.height * m.width * 3
            need += 2 * getattr(m, "float_bytes", 0) if getattr(m, "keep_float", False) else 0
        return need

    def close(self) -> None:
        self.store.close()
        self.clip_pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ parsing
    @staticmethod
    def _int(request: web.Request, name: str, default: int | None = None) -> int:
        raw = request.query.get(name)
        if raw is None:
            if default is None:
                raise HttpError(400, name, f"missing parameter {name!r}")
            return default
        if not _INT.match(raw.strip()):
            raise HttpError(400, name, f"{name} must be an integer, got {raw!r}")
        return int(raw)

    def _model(self, request: web.Request) -> FrameModel:
        name = request.query.get("model")
        if not name:
            raise HttpError(400, "model", "missing parameter 'model'")
        if name not in self.models:
            raise HttpError(404, "model", f"unknown model {name!r} (served: {', '.join(self.models)})")
        return self.models[name]

    def _seed(self, request: web.Request) -> int:
        seed = self._int(request, "seed")
        lo, hi = self.cfg.seeds
        if not lo <= seed <= hi:
            raise HttpError(404, "seed", f"unknown seed {seed}: this server serves seeds {lo}..{hi} "
                                          f"(--seeds)")
        return seed

    def _span(self, model: FrameModel, param: str, start: int, stop: int) -> None:
        """Frames ``[start, stop)`` must be served by ``model``; else a 400 naming ``param``."""
        if start < 0 or stop - 1 > self.cfg.max_frame:
            raise HttpError(400, param, f"{param} out of range: frames {start}..{stop - 1} requested, this "
                                         f"server serves frame indices 0..{self.cfg.max_frame}")
        if model.horizon is not None and stop > model.horizon:
            raise HttpError(400, param, f"{param} out of range for {model.name}: served only below frame "
                                         f"{model.horizon} (--sequential-horizon) because {model.why_horizon}; "
                                         f"frames {start}..{stop - 1} requested")

    # ------------------------------------------------------------------------------------------ work
    async def _await(self, fut: Future) -> Any:
        """Wait for a store job without letting a cancelled request cancel it for other viewers."""
        return await asyncio.shield(asyncio.wrap_future(fut))

    def _prefetch(self, model: FrameModel, seed: int, start: int, stop: int) -> None:
        """Queue the chunks after ``[start, stop)`` at low priority (bounded by the store)."""
        end = stop + self.cfg.prefetch
        if model.horizon is not None:
            end = min(end, model.horizon)
        end = min(end, self.cfg.max_frame + 1)
        if end <= stop:
            return
        for k in model.chunks_of(stop, end):
            key = model.chunk_key(seed, k)
            if key not in self.store:
                self.store.submit(key, lambda k=k: model.timed_chunk(seed, k, self.store.get), PREFETCH)

    def _sheet(self, model: FrameModel, seed: int, start: int, count: int) -> bytes:
        frames = model.frames(seed, start, start + count, self.store.get)
        return encode_sheet(frames)

    # ------------------------------------------------------------------------------------------ handlers
    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)  # browsers ask; answering keeps their consoles clean

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response({
            "fps": FPS, "seeds": list(self.cfg.seeds), "max_frame": self.cfg.max_frame,
            "segment": self.cfg.segment, "max_segment": self.cfg.max_segment, "max_clip": self.cfg.max_clip,
            "sheet_cols": SHEET_COLS,
            "models": [m.describe() | {"warm_up_s": round(self.warm_seconds.get(n, 0.0), 3)}
                       for n, m in self.models.items()]})

    async def segment(self, request: web.Request) -> web.Response:
        """``count`` frames from ``start`` as one PNG sheet (``SHEET_COLS`` frames per row).

        ``priority=1`` marks a look-ahead request: computed after every viewer's current frames. Asking
        again with ``priority=0`` (the frame is now due) moves the queued job forward.
        """
        model, seed = self._model(request), self._seed(request)
        start = self._int(request, "start")
        count = self._int(request, "count", self.cfg.segment)
        if not 1 <= count <= self.cfg.max_segment:
            raise HttpError(400, "count", f"count must be 1..{self.cfg.max_segment}, got {count}")
        priority = self._int(request, "priority", FOREGROUND)
        if priority not in (FOREGROUND, LOOKAHEAD):
            raise HttpError(400, "priority", f"priority must be {FOREGROUND} (needed now) or {LOOKAHEAD} (ahead "
                                              f"of the playhead), got {priority}")
        self._span(model, "start", start, start + count)
        key = ("png", model.name, seed, start, count)
        fut = self.store.submit(key, lambda: self._sheet(model, seed, start, count), priority)
        assert fut is not None
        body = await self._await(fut)
        self._prefetch(model, seed, start, start + count)
        self.counters.segments += 1
        self.counters.frames_sent += count
        return web.Response(body=body, content_type="image/png", headers={
            "Cache-Control": "public, max-age=31536000, immutable",  # frame t of a seed never changes
            "X-Lvg-Start": str(start), "X-Lvg-Count": str(count), "X-Lvg-Cols": str(min(count, SHEET_COLS)),
            "X-Lvg-Width": str(model.width), "X-Lvg-Height": str(model.height)})

    async def frame(self, request: web.Request) -> web.Response:
        """One frame as a PNG at native size (what ``lvg generate --frames-dir`` writes for it)."""
        model, seed = self._model(request), self._seed(request)
        t = self._int(request, "t")
        self._span(model, "t", t, t + 1)
        fut = self.store.submit(("png", model.name, seed, t, 1), lambda: self._sheet(model, seed, t, 1))
        assert fut is not None
        body = await self._await(fut)
        return web.Response(body=body, content_type="image/png")

    async def clip(self, request: web.Request) -> web.StreamResponse:
        """Frames ``[a, b)`` as the mp4 ``lvg generate --seed S --t0 a --len b-a [--crf C]`` writes (ours), or
        with the same writer for a baseline; written chunk by chunk to a temporary file, then streamed."""
        model, seed = self._model(request), self._seed(request)
        a, b = self._int(request, "a"), self._int(request, "b")
        crf = self._int(request, "crf") if "crf" in request.query else None
        if crf is not None and not 0 <= crf <= 51:
            raise HttpError(400, "crf", f"crf must be 0..51 (x264; 0 = lossless), got {crf}")
        if b <= a:
            raise HttpError(400, "b", f"b must be greater than a, got a={a}, b={b}")
        if b - a > self.cfg.max_clip:
            raise HttpError(400, "b", f"clip too long: {b - a} frames, at most {self.cfg.max_clip} (--max-clip)")
        self._span(model, "a", a, b)
        name = clip_name(model, seed, a, b)
        work = self.tmp / uuid.uuid4().hex
        path = work / name
        cancel = threading.Event()
        fut = self.clip_pool.submit(self._write_clip, model, seed, a, b, path, crf, cancel.is_set)
        try:
            try:
                await self._await(fut)
            except ClipCancelled:
                raise HttpError(503, None, "clip cancelled") from None
            self.counters.clips += 1
            resp = web.StreamResponse(headers={"Content-Type": "video/mp4",
                                               "Content-Disposition": f'attachment; filename="{name}"',
                                               "Content-Length": str(path.stat().st_size)})
            await resp.prepare(request)
            with path.open("rb") as f:
                while piece := f.read(1 << 18):
                    await resp.write(piece)
            await resp.write_eof()
            return resp
        except (asyncio.CancelledError, ConnectionResetError):  # the client went away (counted by the middleware)
            cancel.set()
            self.counters.clips_cancelled += 1
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write_clip(self, model: FrameModel, seed: int, a: int, b: int, path: Path, crf: int | None,
                    cancelled: Callable[[], bool]) -> dict[str, Any]:
        if cancelled():  # the client left while the clip waited for the writer
            raise ClipCancelled(f"clip [{a}, {b}) of {model.name} cancelled before it started")
        self.counters.clips_active += 1
        try:
            return write_clip(model, seed, a, b, path, self.store.get, crf, cancelled)
        finally:
            self.counters.clips_active -= 1

    async def stats(self, request: web.Request) -> web.Response:
        s = self.store
        return web.json_response({
            "memory": memory_status(), "memory_plan": self.memory_plan,
            "cache": {"bytes": s.bytes, "budget": s.budget, "entries": len(s), "queued": s.queued(),
                      **asdict(s.stats)},
            "counters": asdict(self.counters), "uptime_s": round(time.time() - self.started, 1),
            "clip_temp_files": sum(1 for p in self.tmp.rglob("*") if p.is_file()),
            "models": {n: {k: v for k, v in m.describe().items() if k.startswith("generat")}
                       for n, m in self.models.items()},
            "workers": self.cfg.workers, "threads": self.cfg.threads})

    # ------------------------------------------------------------------------------------------ app
    @web.middleware
    async def errors(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Every error becomes a JSON body; nothing a client sends can take the server down."""
        self.counters.requests += 1
        try:
            return await handler(request)
        except HttpError:
            self.counters.client_errors += 1
            raise
        except web.HTTPException as e:
            if e.status >= 400:
                self.counters.client_errors += 1
                raise HttpError(e.status, None, f"{e.reason}: {request.path}") from None
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            self.counters.disconnects += 1
            raise
        except Exception as e:  # a bug or a failed generation: report it, keep serving
            self.counters.server_errors += 1
            log.exception("%s %s failed", request.method, request.path_qs)
            raise HttpError(500, None, f"internal error: {type(e).__name__}: {e}") from None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.errors])
        app.router.add_get("/", self.index)
        app.router.add_get("/favicon.ico", self.favicon)
        app.router.add_get("/api/info", self.info)
        app.router.add_get("/api/segment", self.segment)
        app.router.add_get("/api/frame", self.frame)
        app.router.add_get("/api/clip", self.clip)
        app.router.add_get("/api/stats", self.stats)
        app.router.add_static("/static/", STATIC)
        return app


def encode_sheet(frames: np.ndarray) -> bytes:
    """uint8 ``[T, H, W, 3]`` -> one PNG, frame ``i`` at column ``i % SHEET_COLS``, row ``i // SHEET_COLS``.

    zlib level 1: generated frames barely compress, so higher levels cost time for a few percent of bytes.
    """
    from PIL import Image

    t, h, w, _ = frames.shape
    cols = min(t, SHEET_COLS)
    rows = -(-t // cols)
    sheet = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i in range(t):
        r, c = divmod(i, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = frames[i]
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# ============================================================================================ running
async def _serve(viewer: Viewer, host: str, port: int, ready: Callable[[str, dict], None] | None) -> None:
    runner = web.AppRunner(viewer.app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addr = runner.addresses[0]
    url = f"http://{addr[0]}:{addr[1]}/" if ":" not in addr[0] else f"http://[{addr[0]}]:{addr[1]}/"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    if ready is not None:
        ready(url, viewer.memory_plan)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(models: dict[str, FrameModel], cfg: ServeConfig, host: str = "127.0.0.1", port: int = 8000,
          ready: Callable[[str, dict], None] | None = None) -> None:
    """Warm up, then serve until SIGINT/SIGTERM (``ready(url, memory_plan)`` is called once the socket
    listens)."""
    import torch

    tune_malloc()
    torch.set_num_threads(cfg.threads)
    viewer = Viewer(models, cfg)
    try:
        viewer.warm_up()
        asyncio.run(_serve(viewer, host, port, ready))
    finally:
        viewer.close()
