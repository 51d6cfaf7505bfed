"""Logging for jobs: milestones through ``logging``, progress bars only on a terminal.

Snakemake jobs send stderr to the rule's ``log:`` file (spec/workflow.md §2.6); tqdm bars stay quiet there
because stderr is not a TTY, so logs hold milestones, not carriage returns.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)


def snakemake_job(smk: Any) -> None:
    """Call first in a ``script:``: stderr (and logging) go to the rule's log file."""
    if smk.log:
        sys.stderr = open(smk.log[0], "w", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives with the job)
    setup_logging()
