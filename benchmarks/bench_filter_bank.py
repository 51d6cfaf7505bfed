"""The LR generator's temporal filter bank: direct convolution against FFT, side by side in one run.

    python benchmarks/bench_filter_bank.py            # 1 thread, the default preset and the paper's bank

Times, for each bank (the CPU default's 4 x 16 filters of 1024-16384 frames, the paper's 8 x 128 of
125-5000), the bank alone on a training batch's noise and, for the default, the tiny generator's forward
and backward pass at the training shape (batch 2, 16 frames, 32x32), once with every bank applied by
``F.conv1d`` and once by FFT (``FFT_MIN_TAPS``), and prints the ratios and each path's error against the
float64 sum.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

import lvg.lowres.filter_bank as fb
from lvg.lowres.generator import GeneratorConfig, VideoGenerator


def seconds(fn: Callable[[], object], iters: int) -> float:
    """Median wall time of ``fn`` over ``iters`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def with_min_taps(min_taps: float, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        saved, fb.FFT_MIN_TAPS = fb.FFT_MIN_TAPS, min_taps
        try:
            return fn()
        finally:
            fb.FFT_MIN_TAPS = saved
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = VideoGenerator(GeneratorConfig.tiny(min_footprint=1024, max_footprint=16384, seq_length=16))
    win = gen.plan([0, 5], 16)
    banks = {"default 4x16, 1024-16384": (gen.filter_bank, 2),
             "paper 8x128, 125-5000": (fb.FilterBank(), 1)}
    print(f"{'bank':28s} {'direct ms':>10s} {'fft ms':>8s} {'ratio':>6s} {'direct err':>11s} {'fft err':>9s}")
    for name, (bank, n) in banks.items():
        noise = torch.randn(n, bank.noise_channels, win.noise_length - gen.filter_bank.kernel_size
                            + bank.kernel_size, generator=torch.Generator().manual_seed(0))
        exact = bank(noise.double())
        row = {}
        for label, taps in (("direct", float("inf")), ("fft", fb.FFT_MIN_TAPS)):
            run = with_min_taps(taps, lambda b=bank, x=noise: b(x))
            err = ((run().double() - exact).abs().max() / exact.abs().max()).item()
            row[label] = (seconds(run, args.iters) * 1e3, err)
        print(f"{name:28s} {row['direct'][0]:10.2f} {row['fft'][0]:8.2f} {row['direct'][0] / row['fft'][0]:6.2f}"
              f" {row['direct'][1]:11.1e} {row['fft'][1]:9.1e}", flush=True)
    noise = torch.randn(2, gen.cfg.noise_channels, win.noise_length)

    def step() -> None:
        gen.zero_grad(set_to_none=True)
        gen(noise=noise, t0=[0, 5], num_frames=16).square().mean().backward()

    direct = seconds(with_min_taps(float("inf"), step), args.iters) * 1e3
    fft = seconds(with_min_taps(fb.FFT_MIN_TAPS, step), args.iters) * 1e3
    print(f"tiny G forward + backward (batch 2, 16 frames, 32x32): direct {direct:.1f} ms, fft {fft:.1f} ms, "
          f"{direct / fft:.2f}x ({args.threads} thread(s))")


if __name__ == "__main__":
    main()
