"""``python -m lvg.train lowres (--section FILE | --config CFG.yaml ...) --dataset DIR --out DIR``: a training
phase.

Exists so that ``torchrun --nproc_per_node N -m lvg.train lowres ...`` (started by :mod:`lvg.train.launch`,
locally or across a Slurm job) runs N processes of the same entry point that Snakemake and ``lvg train`` call.
``--section`` reads the phase's config section from a YAML file (what the launcher writes); ``--config`` files
are merged left to right (like ``load_config``) and the phase's section is cut out of the result. Input
errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from lvg.baselines import METHODS as BASELINES
from lvg.config import load_config, section_of
from lvg.errors import InputError, LvgError
from lvg.io import user_error
from lvg.logs import setup_logging

MODELS = ["lowres", "superres", *BASELINES]


def _section(args: argparse.Namespace) -> dict:
    from lvg.train.launch import section_path

    if args.section is None:
        return section_of(load_config(*args.config), section_path(args.phase))
    try:
        section = yaml.safe_load(Path(args.section).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InputError(args.section, f"cannot read the config section: {e}") from None
    if not isinstance(section, dict):
        raise InputError(args.section, "a config section must be a mapping of keys to values")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lvg.train", description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=MODELS)
    parser.add_argument("--section", help="YAML file holding the phase's config section (what the launcher "
                        "writes)")
    parser.add_argument("--config", action="append", default=[], help="config YAML (repeatable; default "
                        "params.yaml); ignored with --section")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset dir holding HHHHxWWWW/ folders")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--no-resume", action="store_true", help="fail if checkpoints already exist")
    args = parser.parse_args(argv)
    setup_logging()
    from lvg.train import distributed
    from lvg.train.launch import run_phase

    try:
        path = run_phase(args.phase, _section(args), args.dataset, args.out, resume=not args.no_resume)
        if distributed.is_main_process():
            print(path)
    except (LvgError, OSError) as e:  # OSError: a read-only or full run folder (lvg.io.user_error)
        err = user_error(e)
        if err is None:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
