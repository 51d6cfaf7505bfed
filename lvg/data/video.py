"""Video files through PyAV: probing, frame iteration, integrity checks and lossless remuxing.

Every phase that touches an encoded video goes through here, so a truncated or corrupt file produces the
same clear error (naming the file) wherever it is first met.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lvg.errors import InputError
from lvg.io import atomic_path


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


def _decode(container: av.container.InputContainer, path: str | Path) -> Iterator[av.VideoFrame]:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
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
    with _open(path) as container:
        for i, frame in enumerate(_decode(container, path)):
            if stop is not None and i >= stop:
                break
            if i >= start:
                yield i, frame.to_ndarray(format="rgb24")


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
