"""The ``lvg serve`` command line (no heavy imports here: ``lvg --help`` must stay fast)."""

from __future__ import annotations

import argparse
import os
import re


def _seed_range(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(-?\d+)\s*(?:(?:-|\.\.)\s*(-?\d+)\s*)?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a seed range like 0-1023, got {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if hi < lo:
        raise argparse.ArgumentTypeError(f"empty seed range {text!r}")
    return lo, hi


def _named_path(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", name) or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (NAME of letters, digits, _ . -), got {text!r}")
    return name, path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``lvg serve`` options (registered by :mod:`lvg.cli`)."""
    p.add_argument("--lres", required=True, help="our low-res generator: G_ema.safetensors or its directory")
    p.add_argument("--sres", default=None, help="our super-res generator (adds the HR panel)")
    p.add_argument("--model", dest="extra", action="append", type=_named_path, default=[], metavar="NAME=PATH",
                   help="another panel: a baseline generator (results/models/baselines/<method>/<ds>/) or "
                        "another low-res generator, e.g. an imported released model; repeatable")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it to the "
                        "network, without authentication: prefer an SSH tunnel, ssh -L 8000:127.0.0.1:8000)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port, printed)")
    p.add_argument("--seeds", type=_seed_range, default=(0, 1023), metavar="LO-HI", help="served seeds")
    p.add_argument("--memory-mb", type=float, default=2048,
                   help="the server's memory budget (resident set, MB): models, runtime and generation first, "
                        "the shared frame cache gets the rest (measured at start-up; too small is an error)")
    p.add_argument("--workers", type=int, default=1, help="generation threads")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per generation (frames equal lvg generate's at the same thread count)")
    p.add_argument("--max-clip", type=int, default=9000, help="most frames per saved clip")
    p.add_argument("--prefetch", type=int, default=64, help="frames the server prepares past each request")
    p.add_argument("--sequential-horizon", type=int, default=9000,
                   help="sequential baselines (MoCoGAN-HD, TATS: frame t costs O(t)) are served below this frame")
    p.add_argument("--lr-grid", type=int, default=None, help="internal LR chunk (default: lvg generate's)")
    p.add_argument("--sr-grid", type=int, default=None, help="internal SR chunk (default: lvg generate's)")


def run_cli(args: argparse.Namespace) -> int:
    """Load the models (a clear error naming a missing or broken checkpoint), warm up, serve."""
    from lvg.serve.app import ServeConfig, serve
    from lvg.serve.sources import DEFAULT_LR_GRID, DEFAULT_SR_GRID, LvgError, build_models

    for name in ("workers", "threads", "max_clip", "sequential_horizon"):
        if getattr(args, name) < 1:
            raise LvgError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.port <= 65535:
        raise LvgError(f"--port must be 0..65535, got {args.port}")
    if args.memory_mb <= 0:
        raise LvgError(f"--memory-mb must be positive, got {args.memory_mb}")
    cfg = ServeConfig(seeds=args.seeds, max_clip=args.max_clip, prefetch=max(0, args.prefetch),
                      memory_bytes=int(args.memory_mb * 2**20), workers=args.workers, threads=args.threads)
    models = build_models(args.lres, args.sres, dict(args.extra), lr_grid=args.lr_grid or DEFAULT_LR_GRID,
                          sr_grid=args.sr_grid or DEFAULT_SR_GRID, horizon=args.sequential_horizon)

    def ready(url: str, plan: dict) -> None:
        mb = 2**20
        print(f"lvg serve: memory budget {plan['budget'] / mb:.0f} MB = {plan['resident_after_warm_up'] / mb:.0f} "
              f"MB models and runtime + {plan['threads']} x {plan['transient_per_thread'] / mb:.0f} MB generation "
              f"+ {plan['slack'] / mb:.0f} MB slack + {plan['cache'] / mb:.0f} MB frame cache", flush=True)
        if args.host in ("127.0.0.1", "localhost", "::1"):
            port = url.rstrip("/").rsplit(":", 1)[1]
            print(f"lvg serve: this machine only; from elsewhere use an SSH tunnel (ssh -L {port}:127.0.0.1:{port} "
                  "HOST, then open the URL below) or --host 0.0.0.0 to expose it (no authentication)", flush=True)
        else:
            print(f"lvg serve: listening on {args.host}: anyone who can reach this port can use it (no "
                  "authentication); the default --host 127.0.0.1 keeps it to this machine", flush=True)
        # last, so that whoever waits for this line has read the others
        print(f"lvg serve: {url} ({', '.join(models)}; pid {os.getpid()})", flush=True)

    serve(models, cfg, args.host, args.port, ready)
    return 0
