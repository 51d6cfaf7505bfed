"""Preprocess throughput: decode only vs decode+crop+resize vs the full phase (decode+crop+resize+JPEG+zip).

The serial resize stages time Pillow's Lanczos (what the reference calls) and lvg's
(:func:`lvg.data.resample.lanczos_resize`, the same pixels, compiled), one frame at a time in one thread.

Usage::

    python benchmarks/bench_preprocess.py [VIDEO.mp4] [--frames 300] [--size 288x512] [--res 64x64 256x256]
        [--threads N] [--compare HEAD | --compare path/to/old_preprocess.py]

Without a video, one is made (H.264, moving pattern, ``--frames`` at ``--size``). The full run uses
:func:`lvg.data.preprocess.preprocess_dataset` on a clip table of four clips covering the whole video.
``--compare`` also times the full phase of another version of ``lvg/data/preprocess.py`` (a git revision
or a file) and checks that both write the same partition bytes. Stages are run round-robin, ``--repeat``
rounds, best time per stage kept, so a noisy (shared) machine slows every stage alike rather than one.
Prints frames/s for each stage and the ratio to decode-only throughput (``iter_frames``, the issue #13
measure, and the faster conversion preprocess now uses, the true floor).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import av
import machine  # benchmarks/machine.py
import numpy as np

from lvg.config import parse_resolution, resolution_dir
from lvg.data.preprocess import crop_box, crop_resize, preprocess_dataset
from lvg.data.resample import lanczos_resize
from lvg.data.shards import encode_jpeg
from lvg.data.video import iter_frames, iter_video_frames, probe, to_rgb


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


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def load_old(spec: str, tmp: Path) -> ModuleType:
    """``spec``: a file, or a git revision whose ``lvg/data/preprocess.py`` is imported under another name."""
    path = Path(spec)
    if not path.is_file():
        path = tmp / "old_preprocess.py"
        path.write_text(subprocess.run(["git", "show", f"{spec}:lvg/data/preprocess.py"], check=True,
                                       capture_output=True, text=True, cwd=Path(__file__).parent).stdout)
    mod_spec = importlib.util.spec_from_file_location("old_preprocess", path)
    assert mod_spec and mod_spec.loader
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = module  # dataclasses look their module up there
    mod_spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="288x512")
    ap.add_argument("--res", nargs="+", default=["64x64", "256x256"])
    ap.add_argument("--repeat", type=int, default=3, help="best of N rounds per stage")
    ap.add_argument("--threads", type=int, default=None, help="preprocess_dataset threads (default: its own)")
    ap.add_argument("--compare", metavar="REV|FILE", help="also time this version of lvg/data/preprocess.py")
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

        def decode_fast() -> None:  # the conversion preprocess_dataset uses (one reformatter per thread)
            for _, f in iter_video_frames(video):
                to_rgb(f)

        old = load_old(args.compare, tmp) if args.compare else None
        stages: list[tuple[str, str, Callable[[], object]]] = [("decode only (iter_frames)", "-", decode),
                                                                ("decode only (to_rgb, faster)", "-", decode_fast)]
        for res in args.res:
            rh, rw = parse_resolution(res)
            box = crop_box(info.height, info.width, rh, rw)

            def resize(rh: int = rh, rw: int = rw, box: tuple[int, int, int, int] = box) -> None:
                for _, f in iter_frames(video):
                    crop_resize(f, box, rh, rw)

            def resize_lvg(rh: int = rh, rw: int = rw, box: tuple[int, int, int, int] = box) -> None:
                x0, y0, x1, y1 = box
                for _, f in iter_frames(video):
                    lanczos_resize(f[y0:y1, x0:x1], rh, rw)

            def resize_jpeg(rh: int = rh, rw: int = rw, box: tuple[int, int, int, int] = box) -> None:
                for _, f in iter_frames(video):
                    encode_jpeg(crop_resize(f, box, rh, rw))

            def full(rh: int = rh, rw: int = rw, mod: ModuleType | None = None, resize: str = "area") -> dict:
                run = mod.preprocess_dataset if mod else preprocess_dataset
                kw = {} if mod else {"threads": args.threads, "resize": resize}
                out = tmp / ("old" if mod else resize) / resolution_dir(rh, rw)
                return run(tmp / "clips.csv", raw, out, rh, rw, 2, **kw)

            stages += [("decode + crop + PIL Lanczos (serial)", res, resize),
                       ("decode + crop + lvg Lanczos (serial)", res, resize_lvg),
                       ("decode + crop + PIL Lanczos + JPEG (serial)", res, resize_jpeg),
                       ("full preprocess_dataset (default: lanczos)", res,
                        lambda rh=rh, rw=rw: full(rh, rw, resize="lanczos")),
                       ("  same, resize='area'", res, full)]
            if old:
                stages.append((f"  same, {args.compare}", res, lambda rh=rh, rw=rw: full(rh, rw, old)))
                same = full(rh, rw, resize="lanczos")["partitions"] == full(rh, rw, old)["partitions"]
                print(f"{res}: resize='lanczos' partitions {'==' if same else 'DIFFER from'} {args.compare}'s")
        best = [float("inf")] * len(stages)
        for _ in range(args.repeat):
            for k, (*_, fn) in enumerate(stages):
                best[k] = min(best[k], timed(fn))
        t_dec = best[0]
        rows = [(name, res, t) for (name, res, _), t in zip(stages, best, strict=True)]

    t_fast = best[1]
    print(machine.describe())
    print(f"{'stage':44s} {'res':>8s} {'seconds':>8s} {'frames/s':>9s} {'vs decode':>9s} {'vs to_rgb':>9s}")
    for name, res, t in rows:
        print(f"{name:44s} {res:>8s} {t:8.3f} {n / t:9.1f} {t_dec / t:9.2f} {t_fast / t:9.2f}")


if __name__ == "__main__":
    sys.exit(main())
