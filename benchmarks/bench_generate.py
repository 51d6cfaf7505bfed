"""Streaming generation: frames per second and peak memory against video length.

Each (mode, length) runs in a fresh subprocess, so its peak RSS (``resource.getrusage().ru_maxrss``) belongs
to that run alone; "setup" is the RSS after building the networks and generating one warm-up chunk, so
``peak - setup`` is what generating the video added. Constant memory shows as equal peaks for 1 minute and
30 minutes of video. Networks are randomly initialised (speed and memory do not depend on the weights).

Presets (one LR model shared by both modes):
  tiny     LR ``GeneratorConfig.tiny(height=16, width=16)`` + SR ``SRGeneratorConfig.tiny()`` (16x16 -> 32x32)
  paper    LR ``GeneratorConfig.paper(36, 64)`` + SR ``SRGeneratorConfig.paper()`` (36x64 -> 144x256), the
           released models' sizes (on CUDA it reports ``torch.cuda.max_memory_allocated`` too)
  paper64  LR ``GeneratorConfig.paper(64, 64)``: the reference-size configuration of issue #13

``--mode fast`` and ``--precision bf16`` select :func:`lvg.generate.sequential_lowres` and bf16 autocast;
``--deviation`` also prints their maximum relative deviation from the exact fp32 frames (one 256-frame
window), and ``--before REV`` runs the same fp32 exact workers on the lvg of git revision REV (a temporary
worktree) so that before/after come from one run. The peak-RSS table gives :mod:`lvg.memory`'s estimate too.

Examples::

    python benchmarks/bench_generate.py                          # tiny, CPU: LR 1 + 30 min, LR+SR 1 + 5 min
    python benchmarks/bench_generate.py --max-seconds 240        # cap each run; longer ones are extrapolated
    python benchmarks/bench_generate.py --device cuda --preset paper --lr-lengths 1800 54000 \\
        --sr-lengths 1800 9000
    python benchmarks/bench_generate.py --preset paper64 --lr-lengths 128 512 1024 --sr-lengths \\
        --threads 2 --configs exact:fp32 fast:fp32 fast:bf16 --deviation --before HEAD~3   # issue #13

A run stopped by ``--max-seconds`` reports the frames it reached (``partial``) and the time the whole length
would take at the measured rate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine  # benchmarks/machine.py

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
    elif preset == "paper64":
        lr_cfg, sr_cfg = GeneratorConfig.paper(64, 64), None
    else:
        raise SystemExit(f"unknown preset {preset!r}")
    G_lr = VideoGenerator(lr_cfg).eval().requires_grad_(False).to(device)
    G_sr = SRGenerator(sr_cfg).eval().requires_grad_(False).to(device) if sr_cfg is not None else None
    return G_lr, G_sr


def _options(args: argparse.Namespace) -> dict:
    """Keyword arguments for the streams; none for fp32 exact, so an older lvg (``--before``) runs too."""
    return {} if (args.mode, args.precision) == ("exact", "fp32") else {"mode": args.mode,
                                                                        "precision": args.precision}


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
    opts = _options(args)
    if args.stage == "lr":
        def frames(n):
            return gen.iter_lowres(G_lr, 0, 0, n, lr_grid=args.lr_grid, **opts)
    else:
        def frames(n):
            return gen.iter_superres(G_lr, G_sr, 0, 0, n, lr_grid=args.lr_grid, sr_grid=args.sr_grid, **opts)
    for _ in frames(args.sr_grid if args.stage == "sr" else 32):  # warm-up (kernels, caches)
        pass
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    setup_mb = _rss_mb()
    writer = None
    if args.write:
        writer = VideoWriter(Path(args.write) / f"bench_{args.stage}_{args.frames}.mp4").__enter__()
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
            print(f"    {args.stage}: {done}/{args.frames} frames, {done / (now - start):.1f} frames/s, "
                  f"peak RSS {_rss_mb():.1f} MB", file=sys.stderr, flush=True)
        if args.max_seconds and time.perf_counter() - start > args.max_seconds and done < args.frames:
            partial = True
            break
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if writer is not None:
        writer.__exit__(None, None, None)
    estimate = None
    with contextlib.suppress(ImportError):  # lvg.memory is new in #13; --before may run an older lvg
        from lvg import memory

        need = memory.lowres_peak_bytes(G_lr, min(args.lr_grid, -(-args.frames // 32) * 32))
        if args.stage == "sr":
            need = max(need, memory.superres_peak_bytes(G_sr, args.sr_grid))
        params = sum(t.numel() * t.element_size() for m in (G_lr, G_sr) if m is not None
                     for t in [*m.parameters(), *m.buffers()])
        estimate = round((memory.RUNTIME_BYTES + params + need) / 2**20, 1)
    out = {"stage": args.stage, "mode": args.mode, "precision": args.precision, "code": args.code,
           "estimate_mb": estimate, "preset": args.preset, "device": args.device, "frames": args.frames,
           "frames_done": done, "partial": partial, "seconds": round(seconds, 2),
           "fps": round(done / seconds, 1), "est_seconds_full": round(args.frames * seconds / done, 1),
           "setup_rss_mb": round(setup_mb, 1), "peak_rss_mb": round(_rss_mb(), 1),
           "lr_grid": args.lr_grid, "sr_grid": args.sr_grid if args.stage == "sr" else None,
           "threads": torch.get_num_threads()}
    if cuda:
        out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        out["gpu"] = torch.cuda.get_device_name()
    return out


def deviation(args: argparse.Namespace) -> dict:
    """Max |x - exact fp32| / max |exact fp32| over one 256-frame LR window (t0 = 5), per configuration."""
    import torch

    from lvg import generate as gen

    if args.threads:
        torch.set_num_threads(args.threads)
    G_lr, _ = _models(args.preset, args.device)
    ref = gen.generate_lowres(G_lr, 0, 5, 256, lr_grid=args.lr_grid)
    out = {}
    for config in args.configs:
        mode, precision = config.split(":")
        x = gen.generate_lowres(G_lr, 0, 5, 256, lr_grid=args.lr_grid, mode=mode, precision=precision)
        out[config] = float((x - ref).abs().max() / ref.abs().max())
    return out


def _minutes(frames: int) -> str:
    return f"{frames / FPS / 60:.3g} min"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="tiny", choices=["tiny", "paper", "paper64"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--lr-lengths", type=int, nargs="*", default=[1800, 54000], help="frames, LR only")
    p.add_argument("--sr-lengths", type=int, nargs="*", default=[1800, 9000], help="frames, LR + SR")
    p.add_argument("--lr-grid", type=int, default=256)
    p.add_argument("--sr-grid", type=int, default=16)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--max-seconds", type=float, default=0, help="stop a run after this long (0: never)")
    p.add_argument("--write", default="", help="also encode mp4s into this directory")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--configs", nargs="+", default=["exact:fp32"], metavar="MODE:PRECISION",
                   help="generation settings to time, e.g. exact:fp32 fast:fp32 fast:bf16")
    p.add_argument("--deviation", action="store_true", help="print each config's max deviation from exact fp32")
    p.add_argument("--before", default="", metavar="REV", help="also time exact fp32 on the lvg of git REV")
    p.add_argument("--worker", choices=["lr", "sr", "dev"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--mode", default="exact", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    p.add_argument("--code", default="this checkout", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker == "dev":
        print(json.dumps(deviation(args)))
        return 0
    if args.worker:
        args.stage = args.worker
        print(json.dumps(worker(args)))
        return 0

    root = Path(__file__).resolve().parents[1]
    codes = [("this checkout", root, args.configs)]
    with contextlib.ExitStack() as stack:
        if args.before:
            old = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "lvg"
            subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(old), args.before],
                           check=True, capture_output=True)
            stack.callback(subprocess.run, ["git", "-C", str(root), "worktree", "remove", "--force", str(old)])
            codes.insert(0, (f"git {args.before}", old, ["exact:fp32"]))
        results = _run_all(args, codes)
        if results is None:
            return 1
        devs = {}
        if args.deviation:
            proc = subprocess.run([sys.executable, __file__, "--worker", "dev", "--preset", args.preset,
                                   "--device", args.device, "--lr-grid", str(args.lr_grid), "--threads",
                                   str(args.threads), "--configs", *args.configs],
                                  stdout=subprocess.PIPE, text=True, cwd=root)
            devs = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}

    print(f"\n{machine.describe()}")
    print(f"streaming generation, preset {args.preset}, device {args.device}, lr_grid {args.lr_grid}, "
          f"sr_grid {args.sr_grid}, threads {results[0]['threads'] if results else '?'}\n")
    cuda = args.device.startswith("cuda")
    head = ("| code | stage | mode | precision | frames | measured | frames/s | time | setup RSS MB | peak RSS MB "
            "| estimated peak MB |")
    print(head + (" CUDA peak MB |" if cuda else ""))
    print("|" + "---|" * (head.count("|") - 1 + cuda))
    for r in results:
        measured = f"{r['frames_done']} (stopped)" if r["partial"] else str(r["frames_done"])
        full = f"~{r['est_seconds_full']} s (extrapolated)" if r["partial"] else f"{r['seconds']} s"
        row = (f"| {r['code']} | {'LR' if r['stage'] == 'lr' else 'LR+SR'} | {r['mode']} | {r['precision']} "
               f"| {r['frames']} | {measured} | {r['fps']} | {full} | {r['setup_rss_mb']} | {r['peak_rss_mb']} "
               f"| {r['estimate_mb'] if r['estimate_mb'] is not None else '-'} |")
        print(row + (f" {r['cuda_peak_mb']} |" if cuda else ""))
    if devs:
        print("\nmax |x - exact fp32| / max |exact fp32| (256 LR frames from t0 = 5):")
        for config, d in devs.items():
            print(f"  {config}: {d:.2e}")
        for r in results:
            r["deviation"] = devs.get(f"{r['mode']}:{r['precision']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _run_all(args: argparse.Namespace, codes: list[tuple[str, Path, list[str]]]) -> list[dict] | None:
    """Every (code, config, stage, length) in a fresh process; progress on stderr."""
    results = []
    jobs = [("lr", n) for n in args.lr_lengths] + [("sr", n) for n in args.sr_lengths]
    passthrough = ["--preset", args.preset, "--device", args.device, "--lr-grid", str(args.lr_grid),
                   "--sr-grid", str(args.sr_grid), "--threads", str(args.threads),
                   "--max-seconds", str(args.max_seconds)] + (["--write", args.write] if args.write else [])
    for code, path, configs in codes:
        env = {**os.environ, "PYTHONPATH": str(path)}
        for config in configs:
            mode, precision = config.split(":")
            for stage, n in jobs:
                cmd = [sys.executable, __file__, "--worker", stage, "--frames", str(n), "--mode", mode,
                       "--precision", precision, "--code", code, *passthrough]
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=path, env=env)
                if proc.returncode:
                    return None
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append(r)
                print(f"  [{code}] {config} {stage} {n} frames: {r['fps']} frames/s, peak RSS {r['peak_rss_mb']} MB"
                      + (f" (stopped after {r['frames_done']} frames)" if r["partial"] else ""), file=sys.stderr)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
