"""I3D forward on CPU: PyTorch's max_pool3d vs lvg's separable max pool, side by side in one run.

    python benchmarks/bench_i3d.py [--clips 4] [--frames 16] [--threads 1]

Prints seconds per clip for both and their ratio, and checks that the features are bit-identical.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

import lvg.metrics.i3d as i3d


def torch_pool(self: i3d.MaxPoolSame, x: torch.Tensor) -> torch.Tensor:
    return F.max_pool3d(i3d._pad3d(x, i3d._same_pads(x, self.kernel, self.stride), -math.inf), self.kernel,
                        self.stride)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    det = i3d.random_detector()
    x = torch.randint(0, 256, (args.clips, 3, args.frames, 256, 256), dtype=torch.uint8)
    separable = i3d.MaxPoolSame.forward
    results = {}
    for name, fn in [("torch max_pool3d", torch_pool), ("separable (lvg)", separable)]:
        i3d.MaxPoolSame.forward = fn
        det.features(x)  # warm-up
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            feats = det.features(x)
            times.append(time.perf_counter() - t)
        results[name] = (min(times) / args.clips, feats)
    i3d.MaxPoolSame.forward = separable
    (a, fa), (b, fb) = results.values()
    for name, (sec, _) in results.items():
        print(f"{name:18s} {sec:.3f} s per {args.frames}-frame clip ({args.threads} thread(s))")
    print(f"speed-up {a / b:.2f}x; features identical: {bool((fa == fb).all())}")


if __name__ == "__main__":
    main()
