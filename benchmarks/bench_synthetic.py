"""Throughput of the synthetic world: render only (iter_frames) and render + encode (render_video).

    .venv/bin/python benchmarks/bench_synthetic.py [--seed 0] [--duration 40] [--height 288] [--width 512]

Prints frames/s for each, the time spent on setup (textures and sprites) and the file size. The bar
(DESIGN.md): render + encode >= 150 frames/s at 288x512 on one core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lvg.data.synthetic import SyntheticSpec, SyntheticVideo, render_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--height", type=int, default=288)
    ap.add_argument("--width", type=int, default=512)
    args = ap.parse_args()
    spec = SyntheticSpec(seed=args.seed, duration_s=args.duration, height=args.height, width=args.width)
    n = spec.num_frames

    t0 = time.perf_counter()
    video = SyntheticVideo(spec)
    video.frame(next(s["start_frame"] for s in video.truth["segments"] if s["kind"] == "shot"))  # build the world
    setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in SyntheticVideo(spec):
        pass
    render = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "bench.mp4"
        t0 = time.perf_counter()
        render_video(spec, out)
        encode = time.perf_counter() - t0
        size = out.stat().st_size

    print(f"synthetic video: seed {spec.seed}, {spec.duration_s:g} s, {n} frames, {spec.height}x{spec.width}")
    print(f"  setup (plan, textures, sprites): {setup * 1000:7.1f} ms")
    print(f"  render only  (iter_frames):      {n / render:7.1f} frames/s  ({render:.2f} s)")
    print(f"  render + encode (render_video):  {n / encode:7.1f} frames/s  ({encode:.2f} s, {size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
