"""Throughput and peak memory of the LR GAN: generator forward and full training steps, fp32 vs bf16.

    python benchmarks/bench_lowres.py                                  # tiny preset, CPU, 64x64, fp32 vs bf16
    python benchmarks/bench_lowres.py --device cuda --preset paper     # the paper networks on a GPU

Each (precision) configuration runs in a fresh subprocess, so the CPU's peak RSS (``ru_maxrss``, which never
goes down) belongs to that configuration alone; on a GPU peak memory is ``torch.cuda.max_memory_allocated``.
Real batches are random tensors (the reader is benchmarked separately in bench_preprocess.py), so the
numbers are the networks' cost. A training step is one G update + one D update; the lazy R1 update (every
16 steps) is timed separately and amortised into "train step".
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
BASE = {"datasets": ["bench"], "acquire": {}, "scenes": {}, "clips": {}, "preprocess": {}}


class RandomBatches:
    """Stands in for BatchSource: a fixed random real batch in [-1, 1] on the device."""

    def __init__(self, n: int, t: int, h: int, w: int, device: torch.device) -> None:
        g = torch.Generator().manual_seed(0)
        self.video = (torch.rand(n, 3, t, h, w, generator=g) * 2 - 1).to(device)
        self.position = 0

    def next(self) -> dict[str, torch.Tensor]:
        self.position += 1
        return {"video": self.video}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, iters: int, warmup: int, device: torch.device) -> float:
    """Seconds per call after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(device)
    return (time.perf_counter() - t) / iters


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(args: argparse.Namespace, bf16: bool) -> dict:
    """Benchmark one precision in this process; returns a JSON-ready dict."""
    from lvg.config import validate_config
    from lvg.train.distributed import DistInfo
    from lvg.train.lowres import LowResGAN, LowResTrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = copy.deepcopy(BASE)
    cfg["train_lowres"] = {"preset": args.preset, "resolution": args.resolution, "seq_length": args.seq_length,
                           "batch": args.batch, "bf16": bf16, "device": args.device}
    tc = LowResTrainConfig.from_dict(validate_config(cfg, "bench")["train_lowres"])
    algo = LowResGAN(tc, DistInfo(device=device))
    h, w = algo.G.cfg.height, algo.G.cfg.width
    batches = RandomBatches(algo.micro_batch, tc.seq_length, h, w, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def g_forward() -> None:
        with torch.no_grad():
            algo.generate(tc.batch)

    step = iter(range(1, 10**9))  # never a multiple of 16 below: R1 is timed on its own

    def train_step() -> None:
        algo.train_step(next(step) * 16 + 1, batches)

    def r1_step() -> None:
        algo._step_R1(batches)

    t_g = _timed(g_forward, args.iters, args.warmup, device)
    t_step = _timed(train_step, args.iters, args.warmup, device)
    t_r1 = _timed(r1_step, max(1, args.iters // 2), 1, device)
    t_amortised = t_step + t_r1 / tc.r1_interval
    frames = tc.batch * tc.seq_length
    return {"precision": "bf16" if bf16 else "fp32", "device": str(device), "preset": tc.preset,
            "resolution": f"{h}x{w}", "seq_length": tc.seq_length, "batch": tc.batch,
            "threads": torch.get_num_threads(),
            "G_fwd_clips_s": tc.batch / t_g, "G_fwd_frames_s": frames / t_g,
            "step_s": t_amortised, "step_clips_s": tc.batch / t_amortised, "step_frames_s": frames / t_amortised,
            "GD_step_s": t_step, "R1_step_s": t_r1, "peak_mem_mb": _peak_mb(device)}


def _table(rows: list[dict]) -> str:
    cols = [("precision", "{}"), ("G_fwd_clips_s", "{:.2f}"), ("G_fwd_frames_s", "{:.1f}"), ("step_s", "{:.3f}"),
            ("step_clips_s", "{:.2f}"), ("step_frames_s", "{:.1f}"), ("GD_step_s", "{:.3f}"),
            ("R1_step_s", "{:.3f}"), ("peak_mem_mb", "{:.0f}")]
    lines = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(f.format(r[c]) for c, f in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--preset", default=None, choices=["tiny", "paper"], help="default: tiny on cpu, paper on cuda")
    p.add_argument("--resolution", default="64x64")
    p.add_argument("--seq-length", type=int, default=None, help="default: 16 (tiny), 128 (paper)")
    p.add_argument("--batch", type=int, default=None, help="default: 4 (tiny; paper: the reference's micro-batch)")
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default 5 cpu, 10 cuda)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--precision", choices=["fp32", "bf16", "both"], default="both")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: run one config, print JSON
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    args.preset = args.preset or ("paper" if args.device == "cuda" else "tiny")
    args.seq_length = args.seq_length or (128 if args.preset == "paper" else 16)
    args.batch = args.batch or 4
    args.iters = args.iters or (10 if args.device == "cuda" else 5)
    if args.one:
        print(json.dumps(run_one(args, args.precision == "bf16")))
        return
    rows = []
    for prec in (["fp32", "bf16"] if args.precision == "both" else [args.precision]):
        cmd = [sys.executable, __file__, "--one", "--precision", prec, "--device", args.device, "--preset",
               args.preset, "--resolution", args.resolution, "--seq-length", str(args.seq_length), "--batch",
               str(args.batch), "--iters", str(args.iters), "--warmup", str(args.warmup), "--threads",
               str(args.threads)]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{prec} failed:\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    r = rows[0]
    print(f"LR GAN, {r['preset']} preset, {r['resolution']}, {r['seq_length']} frames, batch {r['batch']}, "
          f"{r['device']} ({r['threads']} threads)")
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
