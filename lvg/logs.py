"""Logging for jobs: milestones through ``logging``, progress bars only on a terminal.

Snakemake jobs send stderr to the rule's ``log:`` file (spec/workflow.md §2.6); tqdm bars stay quiet there
because stderr is not a TTY, so logs hold milestones, not carriage returns.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

IMPORT_AUDIT = "LVG_IMPORT_AUDIT"  # when set, each job records the lvg source files it ran (DVC deps test)


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)


def snakemake_job(smk: Any) -> None:
    """Call first in a ``script:``: stderr (and logging) go to the rule's log file.

    With ``LVG_IMPORT_AUDIT`` set in the environment, the job also writes ``<log>.imports.json`` at exit:
    every ``lvg`` source file it imported. The DVC-deps test compares those with each stage's ``deps``.
    """
    if smk.log:
        sys.stderr = open(smk.log[0], "w", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives with the job)
        if os.environ.get(IMPORT_AUDIT):
            atexit.register(_write_imports, Path(f"{smk.log[0]}.imports.json"))
    setup_logging()


def _write_imports(path: Path) -> None:
    """``lvg/...`` paths (relative to the checkout that holds the package) of every imported lvg module."""
    root = Path(sys.modules["lvg"].__file__).resolve().parents[1]
    files = sorted({Path(m.__file__).resolve().relative_to(root).as_posix() for name, m in list(sys.modules.items())
                    if (name == "lvg" or name.startswith("lvg.")) and getattr(m, "__file__", None)})
    path.write_text(json.dumps(files, indent=1) + "\n")
