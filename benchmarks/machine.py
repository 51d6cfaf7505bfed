"""One line naming the machine a benchmark ran on, printed above its numbers.

Why: the same code measured 49-52 bf16 frames/s on one 2-core host and 16-19 on another (issue #13). The
first had AMX (bf16 matrix tiles), the second only AVX-512 with bf16 dot products, so a number without
its CPU features is not comparable to another.
"""

from __future__ import annotations

import os
from pathlib import Path

FEATURES = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")


def describe() -> str:
    """``cpu: <model>, <n> usable cores, features amx_bf16 avx512_bf16 ..., torch <capability>``."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    have = [f for f in FEATURES if f in flags] or ["(not read)"]
    try:
        import torch

        capability = f", torch {torch.__version__} CPU capability {torch.backends.cpu.get_cpu_capability()}"
    except ImportError:
        capability = ""
    return f"cpu: {model}, {cores} usable cores, features {' '.join(have)}{capability}"


if __name__ == "__main__":
    print(describe())
