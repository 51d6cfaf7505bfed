"""``python -m lvg.train lowres --config CFG.yaml [...] --dataset DIR --out DIR``: a training phase.

Exists so that ``torchrun --nproc_per_node N -m lvg.train lowres ...`` starts N processes of the same
entry point that Snakemake and ``lvg train`` call. Config files are merged left to right (like
``load_config``); input errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lvg.baselines import METHODS as BASELINES
from lvg.config import load_config, section_of
from lvg.errors import LvgError
from lvg.logs import setup_logging

MODELS = ["lowres", "superres", *BASELINES]


def run_phase(model: str, config: dict[str, Any], dataset_dir: Path, out: Path, resume: bool = True) -> Path:
    """Train ``model`` with its section of the validated ``config`` (the CLI's and torchrun's path)."""
    if model in BASELINES:
        from lvg.baselines.train import run_train_baseline

        return run_train_baseline(model, section_of(config, f"baselines.{model}"), dataset_dir, out, resume)
    if model == "lowres":
        from lvg.train.lowres import run_train_lowres

        return run_train_lowres(section_of(config, "train_lowres"), dataset_dir, out, resume)
    from lvg.train.superres import run_train_superres

    return run_train_superres(section_of(config, "train_superres"), dataset_dir, out, resume)


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

    try:
        path = run_phase(args.phase, load_config(*args.config), args.dataset, args.out, not args.no_resume)
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
