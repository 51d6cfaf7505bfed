"""Video files through PyAV: probing, frame iteration, integrity checks, lossless remuxing and writing.

Every phase that touches an encoded video goes through here, so a truncated or corrupt file produces the
same clear error (naming the file) wherever it is first met, and every mp4 lvg writes (generated videos,
sample sets, training samples, the synthetic world) comes out of one :class:`VideoWriter`: H.264 through
PyAV, published atomically.

Floats in ``[-1, 1]`` become uint8 as ``clamp(127.5 * x + 128, 0, 255)`` truncated (the reference's
conversion, :func:`to_uint8`). Like the reference, frames are nearest-upsampled by the smallest integer
factor that makes both sides multiples of 16 (36x64 -> 144x256, 32x32 stays, 8x8 -> 16x16,
:func:`auto_upscale`); ``upscale=1`` keeps the native size.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from lvg.errors import InputError, LvgError
from lvg.io import atomic_path

if TYPE_CHECKING:  # torch is imported where tensors are written: the data phases never load it
    from torch import Tensor

DEFAULT_BITRATE = 16_000_000  # the reference's 16 Mbit/s
# x264 tags for BT.601 limited-range YUV (smpte170m primaries, matrix and transfer; tv range)
BT601_TV = {"colorspace": 6, "color_primaries": 6, "color_trc": 6, "color_range": 1}


@dataclass(frozen=True)
class VideoInfo:
    """What downstream phases need to know about a video stream."""

    width: int
    height: int
    fps: float
    num_frames: int  # counted by decoding when ``count=True``, else the container's claim (may be 0)
    duration_s: float
    codec: str
    container: str

    def to_dict(self) -> dict:
        return asdict(self)


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError) as e:
        raise InputError(path, f"cannot open video: {e}") from None
    if not container.streams.video:
        container.close()
        raise InputError(path, "no video stream in file")
    return container


def _fps(stream: av.video.stream.VideoStream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise ValueError("unknown frame rate")
    return Fraction(rate)


def probe(path: str | Path, count: bool = False) -> VideoInfo:
    """Size, frame rate and length of the first video stream.

    ``count=True`` decodes every frame: slower, but it is the only reliable frame count, and it doubles as
    an integrity check (a truncated or corrupt stream raises InputError naming the file).
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = _fps(stream)
        n = stream.frames
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        if count:
            n = sum(1 for _ in _decode(container, path))
            duration = n / float(fps)
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, float(fps), int(n),
                         duration, stream.codec_context.name, container.format.name)


def _decode(container: av.container.InputContainer, path: str | Path, thread_type: str = "AUTO"
            ) -> Iterator[av.VideoFrame]:
    stream = container.streams.video[0]
    stream.thread_type = thread_type
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as e:
        raise InputError(path, f"corrupt or truncated video: {e}") from None


def iter_frames(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, uint8 RGB [H, W, 3])`` for frames ``start <= index < stop`` in decode order.

    Frames are counted from the start of the stream (index = position, not timestamp), which is what the
    frame-based clip table refers to. Decoding is sequential; callers process all clips of a source in one
    pass rather than seeking per clip.
    """
    for i, frame in iter_video_frames(path, start, stop):
        yield i, frame.to_ndarray(format="rgb24")


def iter_video_frames(path: str | Path, start: int = 0, stop: int | None = None, thread_type: str = "AUTO"
                      ) -> Iterator[tuple[int, av.VideoFrame]]:
    """:func:`iter_frames` before the RGB conversion: the decoder's frames, so that a caller can convert them
    (:func:`to_rgb`, which releases the GIL) on worker threads while decoding continues.

    ``thread_type``: FFmpeg's decoder threading (``"AUTO"``: frame/slice threads; ``"NONE"``: the calling
    thread only, which costs ~25% less CPU per frame: better when worker threads already fill the cores).
    The decoded pixels do not depend on it."""
    with _open(path) as container:
        for i, frame in enumerate(_decode(container, path, thread_type)):
            if stop is not None and i >= stop:
                break
            if i >= start:
                yield i, frame


_reformatters = threading.local()


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """uint8 RGB [H, W, 3] of a decoded frame: the pixels of :func:`iter_frames`.

    Same as its ``frame.to_ndarray(format="rgb24")``, but through one reformatter per thread: PyAV gives every
    frame a new one, and setting up its libswscale context costs more than the conversion itself.
    """
    reformatter = getattr(_reformatters, "rgb", None)
    if reformatter is None:
        reformatter = _reformatters.rgb = VideoReformatter()
    return reformatter.reformat(frame, format="rgb24").to_ndarray()


def remux_to_mp4(src: str | Path, dst: str | Path) -> None:
    """Copy the video stream of ``src`` into an mp4 container without re-encoding (atomic).

    Downloads may arrive as webm/mkv; downstream rules expect ``<id>.mp4``. Stream copy keeps every pixel.
    """
    with _open(src) as inp, atomic_path(dst) as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            istream = inp.streams.video[0]
            ostream = out.add_stream_from_template(istream)
            for packet in inp.demux(istream):
                if packet.dts is None:
                    continue
                packet.stream = ostream
                out.mux(packet)


# ============================================================================================ writing
def to_uint8(frames: Tensor) -> np.ndarray:
    """``[3, T, H, W]`` floats in ``[-1, 1]`` -> uint8 ``[T, H, W, 3]``: ``clamp(127.5 x + 128)``, truncated."""
    if frames.ndim != 4 or frames.shape[0] != 3:
        raise ValueError(f"expected frames [3, T, H, W], got {tuple(frames.shape)}")
    import torch

    x = (frames.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(1, 2, 3, 0).contiguous().cpu().numpy()


def auto_upscale(height: int, width: int, multiple: int = 16) -> int:
    """Smallest integer factor that makes both sides multiples of ``multiple`` (36x64 -> 4, 32x32 -> 1)."""
    return multiple // math.gcd(multiple, height, width)


class VideoWriter:
    """An H.264 mp4 written frame chunk by frame chunk, published atomically on a clean :meth:`close`.

    Args:
        path: the ``.mp4`` to write (parent directories are created).
        fps: frame rate (the reference: 30). Frame ``i`` gets timestamp ``i`` in a ``1/fps`` time base.
        crf: constant rate factor (0 = lossless); when None, ``bitrate`` applies.
        bitrate: bits per second when ``crf`` is None (default 16 Mbit/s, the reference's).
        pix_fmt: ``yuv420p`` (default, plays everywhere; needs even sides) or ``yuv444p`` (no chroma
            subsampling: what metrics should read).
        upscale: integer nearest-neighbour factor, or ``"auto"`` (:func:`auto_upscale`).
        options: extra libx264 options (e.g. ``{"preset": "veryfast", "x264-params": "mbtree=0"}``).
        threads: encoder threads (x264's output depends on it: fix it where bytes must repeat).
        color: codec-context colour tags (e.g. :data:`BT601_TV`).

    Use as a context manager; an exception discards the temporary file and leaves nothing under ``path``.
    ``write`` takes float tensors ``[3, T, H, W]`` in ``[-1, 1]`` or uint8 arrays ``[T, H, W, 3]``;
    ``write_yuv420p`` takes one frame already converted to planar yuv420p (``[H * 3 // 2, W]`` uint8).
    """

    def __init__(self, path: str | Path, fps: float = 30, crf: int | None = None, bitrate: int | None = None,
                 pix_fmt: str = "yuv420p", upscale: int | str = "auto", *, options: dict[str, str] | None = None,
                 threads: int | None = None, color: dict[str, int] | None = None) -> None:
        self.path = Path(path)
        self.fps, self.crf, self.pix_fmt = fps, crf, pix_fmt
        self.bitrate = DEFAULT_BITRATE if bitrate is None and crf is None else bitrate
        self.upscale = upscale
        self.options, self.threads, self.color = dict(options or {}), threads, dict(color or {})
        self.num_frames = 0
        self.size: tuple[int, int] | None = None  # written (height, width)
        self._atomic = atomic_path(self.path)
        self._tmp: Path | None = None
        self._container: Any = None
        self._stream: Any = None

    @property
    def encoding(self) -> dict[str, Any]:
        return {"codec": "h264", "fps": self.fps, "crf": self.crf, "bitrate": self.bitrate,
                "pix_fmt": self.pix_fmt, "upscale": self.upscale}

    def __enter__(self) -> VideoWriter:
        self._tmp = self._atomic.__enter__()
        return self

    def _open(self, height: int, width: int, upscale: int) -> None:
        self.upscale = upscale
        h, w = height * upscale, width * upscale
        if self.pix_fmt == "yuv420p" and (h % 2 or w % 2):
            raise LvgError(f"{self.path}: {h}x{w} frames cannot be written as yuv420p (sides must be even); "
                           f"use upscale=2 or pix_fmt='yuv444p'")
        assert self._tmp is not None, "use VideoWriter as a context manager"
        rate = Fraction(self.fps).limit_denominator(1001)
        options = dict(self.options)
        if self.crf is not None:
            options["crf"] = str(int(self.crf))
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        stream = self._container.add_stream("libx264", rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = w, h, self.pix_fmt
        if self.crf is None:
            stream.bit_rate = int(self.bitrate)
        cc = stream.codec_context
        if self.threads is not None:
            cc.thread_count = self.threads
        cc.time_base = 1 / rate
        for key, value in self.color.items():
            setattr(cc, key, value)
        self._stream, self.size = stream, (h, w)

    def _encode(self, frame: av.VideoFrame) -> None:
        frame.pts = self.num_frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.num_frames += 1

    def write(self, frames: Tensor | np.ndarray) -> None:
        arr = to_uint8(frames) if hasattr(frames, "detach") else np.asarray(frames)  # a tensor, or arrays
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3:
            raise ValueError(f"expected uint8 frames [T, H, W, 3], got {arr.dtype} {arr.shape}")
        if self._container is None:
            k = auto_upscale(arr.shape[1], arr.shape[2]) if self.upscale == "auto" else int(self.upscale)
            self._open(arr.shape[1], arr.shape[2], k)
        k = int(self.upscale)
        if k > 1:
            arr = arr.repeat(k, axis=1).repeat(k, axis=2)
        if arr.shape[1:3] != self.size:
            raise ValueError(f"{self.path}: frame size {arr.shape[1:3]} changed (was {self.size})")
        for frame in arr:
            self._encode(av.VideoFrame.from_ndarray(frame, format="rgb24"))

    def write_yuv420p(self, planes: np.ndarray) -> None:
        """One frame given as planar yuv420p (``[H * 3 // 2, W]`` uint8), encoded as is (no RGB conversion)."""
        height, width = planes.shape[0] * 2 // 3, planes.shape[1]
        if self._container is None:
            if self.pix_fmt != "yuv420p" or self.upscale not in (1, "auto"):
                raise ValueError("write_yuv420p needs pix_fmt='yuv420p' and no upscaling")
            self._open(height, width, 1)
        if (height, width) != self.size:
            raise ValueError(f"{self.path}: frame size {(height, width)} changed (was {self.size})")
        self._encode(av.VideoFrame.from_ndarray(planes, format="yuv420p"))

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
