"""Streaming generation: frames per second and peak memory against video length.

Each (mode, length) runs in a fresh subprocess, so its peak RSS (``resource.getrusage().ru_maxrss``) belongs
to that run alone; "setup" is the RSS after building the networks and generating one warm-up chunk, so
``peak - setup`` is what generating the video added. Constant memory shows as equal peaks for 1 minute and
30 minutes of video. Networks are randomly initialised (speed and memory do not depend on the weights).

Presets (one LR model shared by both modes):
  tiny   LR ``GeneratorConfig.tiny(height=16, width=16)`` + SR ``SRGeneratorConfig.tiny()`` (16x16 -> 32x32)
  paper  LR ``GeneratorConfig.paper(36, 64)`` + SR ``SRGeneratorConfig.paper()`` (36x64 -> 144x256), the
         released models' sizes; meant for ``--device cuda`` (reports ``torch.cuda.max_memory_allocated`` too)

Examples::

    python benchmarks/bench_generate.py                          # tiny, CPU: LR 1 + 30 min, LR+SR 1 + 5 min
    python benchmarks/bench_generate.py --max-seconds 240        # cap each run; longer ones are extrapolated
    python benchmarks/bench_generate.py --device cuda --preset paper --lr-lengths 1800 54000 \\
        --sr-lengths 1800 9000

A run stopped by ``--max-seconds`` reports the frames it reached (``partial``) and the time the whole length
would take at the measured rate.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

FPS = 30


def _models(preset: str, device: str):
    import torch

    from lvg.lowres.generator import GeneratorConfig, VideoGenerator
    from lvg.superres.generator import SRGenerator, SRGeneratorConfig

    torch.manual_seed(0)
    if preset == "tiny":
        lr_cfg, sr_cfg = GeneratorConfig.tiny(height=16, width=16), SRGeneratorConfig.tiny()
    elif preset == "paper":
        lr_cfg, sr_cfg = GeneratorConfig.paper(36, 64), SRGeneratorConfig.paper()
    else:
        raise SystemExit(f"unknown preset {preset!r}")
    G_lr = VideoGenerator(lr_cfg).eval().requires_grad_(False).to(device)
    G_sr = SRGenerator(sr_cfg).eval().requires_grad_(False).to(device)
    return G_lr, G_sr


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(args: argparse.Namespace) -> dict:
    import torch

    from lvg import generate as gen
    from lvg.data.video import VideoWriter

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    G_lr, G_sr = _models(args.preset, args.device)
    if args.mode == "lr":
        def frames(n):
            return gen.iter_lowres(G_lr, 0, 0, n, lr_grid=args.lr_grid)
    else:
        def frames(n):
            return gen.iter_superres(G_lr, G_sr, 0, 0, n, lr_grid=args.lr_grid, sr_grid=args.sr_grid)
    for _ in frames(args.sr_grid if args.mode == "sr" else args.lr_grid):  # warm-up (kernels, caches)
        pass
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    setup_mb = _rss_mb()
    writer = None
    if args.write:
        writer = VideoWriter(Path(args.write) / f"bench_{args.mode}_{args.frames}.mp4").__enter__()
    done, start = 0, time.perf_counter()
    partial = False
    last_report = start
    for piece in frames(args.frames):
        if writer is not None:
            writer.write(piece)
        done += piece.shape[1]
        now = time.perf_counter()
        if now - last_report > 30:  # progress on stderr (the parent passes it through)
            last_report = now
            print(f"    {args.mode}: {done}/{args.frames} frames, {done / (now - start):.1f} frames/s, "
                  f"peak RSS {_rss_mb():.1f} MB", file=sys.stderr, flush=True)
        if args.max_seconds and time.perf_counter() - start > args.max_seconds and done < args.frames:
            partial = True
            break
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if writer is not None:
        writer.__exit__(None, None, None)
    out = {"mode": args.mode, "preset": args.preset, "device": args.device, "frames": args.frames,
           "frames_done": done, "partial": partial, "seconds": round(seconds, 2),
           "fps": round(done / seconds, 1), "est_seconds_full": round(args.frames * seconds / done, 1),
           "setup_rss_mb": round(setup_mb, 1), "peak_rss_mb": round(_rss_mb(), 1),
           "lr_grid": args.lr_grid, "sr_grid": args.sr_grid if args.mode == "sr" else None,
           "threads": torch.get_num_threads()}
    if cuda:
        out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        out["gpu"] = torch.cuda.get_device_name()
    return out


def _minutes(frames: int) -> str:
    return f"{frames / FPS / 60:.3g} min"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="tiny", choices=["tiny", "paper"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--lr-lengths", type=int, nargs="*", default=[1800, 54000], help="frames, LR only")
    p.add_argument("--sr-lengths", type=int, nargs="*", default=[1800, 9000], help="frames, LR + SR")
    p.add_argument("--lr-grid", type=int, default=256)
    p.add_argument("--sr-grid", type=int, default=16)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--max-seconds", type=float, default=0, help="stop a run after this long (0: never)")
    p.add_argument("--write", default="", help="also encode mp4s into this directory")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--worker", choices=["lr", "sr"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        args.mode = args.worker
        print(json.dumps(worker(args)))
        return 0

    results = []
    jobs = [("lr", n) for n in args.lr_lengths] + [("sr", n) for n in args.sr_lengths]
    passthrough = ["--preset", args.preset, "--device", args.device, "--lr-grid", str(args.lr_grid),
                   "--sr-grid", str(args.sr_grid), "--threads", str(args.threads),
                   "--max-seconds", str(args.max_seconds)] + (["--write", args.write] if args.write else [])
    for mode, n in jobs:
        cmd = [sys.executable, __file__, "--worker", mode, "--frames", str(n), *passthrough]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
        if proc.returncode:
            return proc.returncode
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"  {mode} {n} frames: {r['fps']} frames/s, peak RSS {r['peak_rss_mb']} MB"
              + (f" (stopped after {r['frames_done']} frames)" if r["partial"] else ""), file=sys.stderr)

    print(f"\nstreaming generation, preset {args.preset}, device {args.device}, lr_grid {args.lr_grid}, "
          f"sr_grid {args.sr_grid}, threads {results[0]['threads'] if results else '?'}\n")
    cuda = args.device.startswith("cuda")
    head = "| stage | video length | frames | measured | frames/s | time for the full length | setup RSS MB | peak RSS MB |"
    print(head + (" CUDA peak MB |" if cuda else ""))
    print("|" + "---|" * (head.count("|") - 1 + cuda))
    for r in results:
        measured = f"{r['frames_done']} (stopped)" if r["partial"] else str(r["frames_done"])
        full = f"~{r['est_seconds_full']} s (extrapolated)" if r["partial"] else f"{r['seconds']} s"
        row = (f"| {'LR' if r['mode'] == 'lr' else 'LR+SR'} | {_minutes(r['frames'])} | {r['frames']} | {measured} "
               f"| {r['fps']} | {full} | {r['setup_rss_mb']} | {r['peak_rss_mb']} |")
        print(row + (f" {r['cuda_peak_mb']} |" if cuda else ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
