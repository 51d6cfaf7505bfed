"""``python -m lvg.train lowres --config CFG.yaml [...] --dataset DIR --out DIR``: a training phase.

Exists so that ``torchrun --nproc_per_node N -m lvg.train lowres ...`` starts N processes of the same
entry point that Snakemake and ``lvg train`` call. Config files are merged left to right (like
``load_config``); input errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lvg.baselines import METHODS as BASELINES
from lvg.config import load_config
from lvg.errors import LvgError
from lvg.logs import setup_logging

MODELS = ["lowres", "superres", *BASELINES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lvg.train", description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=MODELS)
    parser.add_argument("--config", action="append", default=[], help="config YAML (repeatable; default "
                        "params.yaml)")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset dir holding HHHHxWWWW/ folders")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--no-resume", action="store_true", help="fail if checkpoints already exist")
    args = parser.parse_args(argv)
    setup_logging()
    from lvg.train import distributed
    from lvg.train.launch import run_phase

    try:
        cfg = load_config(*args.config)
        path = run_phase(args.phase, cfg, args.dataset, args.out, resume=not args.no_resume)
        if distributed.is_main_process():
            print(path)
    except LvgError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
