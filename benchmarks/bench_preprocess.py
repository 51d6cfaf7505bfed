"""Preprocess throughput: decode only vs decode+crop+resize vs the full phase (decode+crop+resize+JPEG+zip).

Usage::

    python benchmarks/bench_preprocess.py [VIDEO.mp4] [--frames 300] [--size 288x512] [--res 64x64 256x256]

Without a video, one is made (H.264, moving pattern, ``--frames`` at ``--size``). The full run uses
:func:`lvg.data.preprocess.preprocess_dataset` on a clip table of four clips covering the whole video.
Prints frames/s for each stage and the ratio to decode-only throughput.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from lvg.config import parse_resolution, resolution_dir
from lvg.data.preprocess import crop_box, crop_resize, preprocess_dataset
from lvg.data.shards import encode_jpeg
from lvg.data.video import iter_frames, probe


def make_video(path: Path, frames: int, height: int, width: int) -> None:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 40, (height, width, 1)).astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "20", "preset": "veryfast"})
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        for k in range(frames):
            r = 128 + 100 * np.sin((x + 4 * k) / 37)
            g = 128 + 100 * np.cos((y - 3 * k) / 23)
            b = (x + y + 5 * k) % 256
            img = np.clip(np.stack([r, g, b], -1) * 0.85 + texture, 0, 255).astype(np.uint8)
            for p in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="288x512")
    ap.add_argument("--res", nargs="+", default=["64x64", "256x256"])
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs per stage")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = tmp / "raw"
        raw.mkdir()
        video = raw / "bench.mp4"
        if args.video:
            video.symlink_to(args.video.resolve())
        else:
            h, w = parse_resolution(args.size)
            make_video(video, args.frames, h, w)
        info = probe(video, count=True)
        n = info.num_frames
        print(f"video: {args.video or 'synthetic'} {info.width}x{info.height} {info.codec}, {n} frames; "
              f"best of {args.repeat}")
        bounds = np.linspace(0, n, 5).round().astype(int)
        (tmp / "clips.csv").write_text("clip_id,source,start_frame,end_frame\n" + "".join(
            f"bench/{i:02d},bench,{a},{b}\n" for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))))

        def decode() -> None:
            for _ in iter_frames(video):
                pass

        t_dec = min(timed(decode) for _ in range(args.repeat))
        rows = [("decode only (iter_frames)", "-", t_dec)]
        for res in args.res:
            rh, rw = parse_resolution(res)

            def resize(rh: int = rh, rw: int = rw) -> None:
                box = crop_box(info.height, info.width, rh, rw)
                for _, f in iter_frames(video):
                    crop_resize(f, box, rh, rw)

            def resize_jpeg(rh: int = rh, rw: int = rw) -> None:
                box = crop_box(info.height, info.width, rh, rw)
                for _, f in iter_frames(video):
                    encode_jpeg(crop_resize(f, box, rh, rw))

            def full(rh: int = rh, rw: int = rw) -> None:
                preprocess_dataset(tmp / "clips.csv", raw, tmp / "out" / resolution_dir(rh, rw), rh, rw, 2)

            rows.append(("decode + crop + resize", res, min(timed(resize) for _ in range(args.repeat))))
            rows.append(("decode + crop + resize + JPEG", res, min(timed(resize_jpeg) for _ in range(args.repeat))))
            rows.append(("full preprocess_dataset (+zip, index)", res, min(timed(full) for _ in range(args.repeat))))

    print(f"{'stage':40s} {'res':>8s} {'seconds':>8s} {'frames/s':>9s} {'vs decode':>9s}")
    for name, res, t in rows:
        print(f"{name:40s} {res:>8s} {t:8.3f} {n / t:9.1f} {t_dec / t:9.2f}")


if __name__ == "__main__":
    sys.exit(main())
