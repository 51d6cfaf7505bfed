"""CPU throughput and peak memory of the paper super-resolution generator (issue #13).

Every setting runs in a fresh subprocess (peak RSS is per process; oneDNN caches and page-fault state do not
leak between settings): random init, batch 1, ``torch.set_num_threads(threads)``, one warm-up call of one
output frame, then one timed call ``G(lr[None], z)`` with ``frames`` output frames (``frames + 8`` LR frames;
16 is lvg.generate's default ``sr_grid``). ``--bf16`` adds a bf16-autocast run of the same call and its max
deviation from fp32. Wall-clock fps is printed with "fps by CPU time" (``frames * threads / process CPU
seconds``) and the load average, since other jobs on a shared machine slow the wall clock. ``--baseline REV`` also runs the ``lvg`` package of git revision ``REV`` (e.g. ``HEAD``),
extracted to a temporary folder, under an address-space limit so that its 16-frame call fails with a
MemoryError instead of pushing the machine into the OOM killer.

    .venv/bin/python benchmarks/bench_superres.py                        # 1, 2, 4, 16 frames per call
    .venv/bin/python benchmarks/bench_superres.py --frames 16 --bf16 --baseline HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine  # benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]


def worker(frames: int, threads: int, bf16: bool, mem_limit_gb: float) -> dict:
    """One setting, in this (fresh) process."""
    if mem_limit_gb > 0:
        limit = int(mem_limit_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    from lvg.superres.generator import SRGenerator, SRGeneratorConfig

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = SRGenerator(SRGeneratorConfig.paper()).eval()
    k = g.cfg.temporal_context
    lr = torch.randn(1, 3, frames + 2 * k, g.cfg.lr_height, g.cfg.lr_width)
    z = torch.randn(1, g.cfg.z_dim)

    cpu_s: dict[bool, float] = {}

    def timed(autocast: bool) -> tuple[torch.Tensor, float]:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            g(lr[:, :, :2 * k + 1], z)  # warm-up: oneDNN primitives, allocator
            t0, c0 = time.perf_counter(), time.process_time()
            y = g(lr, z)
            cpu_s[autocast] = time.process_time() - c0
            return y.float(), time.perf_counter() - t0

    out: dict = {"frames": frames, "threads": threads}
    try:
        y, dt = timed(False)
    except (MemoryError, RuntimeError) as e:  # torch reports a refused allocation as a RuntimeError
        if "allocate" not in str(e) and not isinstance(e, MemoryError):
            raise
        return out | {"error": f"out of memory under the {mem_limit_gb} GiB address-space limit: {str(e)[-120:]}"}
    out |= {"fps": frames / dt, "seconds": dt, "cpu_fps": frames * threads / cpu_s[False], "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}
    if bf16:
        yb, dtb = timed(True)
        out |= {"bf16_fps": frames / dtb, "bf16_max_abs_dev_rel_to_max": float((yb - y).abs().max() / y.abs().max()),
                "bf16_rel_l2": float((yb - y).norm() / y.norm())}
    return out


def run(frames: int, threads: int, bf16: bool, pythonpath: Path, mem_limit_gb: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--frames", str(frames), "--threads", str(threads),
           "--mem-limit-gb", str(mem_limit_gb)] + (["--bf16"] if bf16 else [])
    env = os.environ | {"PYTHONPATH": str(pythonpath)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=pythonpath)
    if proc.returncode != 0:
        return {"frames": frames, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[1, 2, 4, 16], help="output frames per call")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="also time bf16 autocast and report its deviation")
    ap.add_argument("--baseline", metavar="REV", help="also run lvg/ as of this git revision")
    ap.add_argument("--mem-limit-gb", type=float, default=12.0, help="address-space limit per run (0: none)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.frames[0], a.threads, a.bf16, a.mem_limit_gb)))
        return
    print(machine.describe(), flush=True)
    trees = {"working tree": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if a.baseline:
            archive = subprocess.run(["git", "archive", a.baseline, "lvg"], cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            trees[f"lvg@{a.baseline}"] = Path(tmp)
        for name, tree in trees.items():
            for frames in a.frames:
                r = run(frames, a.threads, a.bf16, tree, a.mem_limit_gb)
                if "error" in r:
                    print(f"{name:>14}  frames/call {frames:3d}  {r['error']}", flush=True)
                    continue
                line = (f"{name:>14}  frames/call {frames:3d}  {r['fps']:.3f} fps ({r['cpu_fps']:.3f} by CPU time)"
                        f"  peak RSS {r['peak_rss_gb']:.2f} GiB  load {os.getloadavg()[0]:.1f}")
                if "bf16_fps" in r:
                    line += (f"  | bf16 {r['bf16_fps']:.3f} fps, max|dev|/max|y| {r['bf16_max_abs_dev_rel_to_max']:.2e},"
                             f" rel L2 {r['bf16_rel_l2']:.2e}")
                print(line, flush=True)


if __name__ == "__main__":
    main()
