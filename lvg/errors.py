"""User-facing errors.

Every problem caused by input (a manifest, a config, a video file) is raised as an :class:`LvgError` whose
message names the file, the entry and what is wrong. The CLI prints such errors without a traceback and exits
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class LvgError(Exception):
    """An error the user can fix: the message says where and what."""


class InputError(LvgError):
    """Bad input, located by file and (optionally) entry."""

    def __init__(self, path: str | Path, problem: str | None = None, entry: str | None = None) -> None:
        self.path = str(path)
        self.entry = entry
        self.problem = problem
        if problem is None:  # one ready message: what a DataLoader worker's error is re-raised with
            super().__init__(self.path)
            return
        where = f"{self.path}" + (f", entry {entry!r}" if entry is not None else "")
        super().__init__(f"{where}: {problem}")


def worker_message(e: LvgError) -> str:
    """The one-line message of an LvgError that a DataLoader worker raised (torch re-raises it in the parent
    with the worker's whole traceback as its text; the last line is the original message)."""
    text = str(e)
    if "\nOriginal Traceback" not in text:
        return text
    last = text.rstrip().splitlines()[-1]
    return last.split(": ", 1)[1] if ": " in last else last


class OutputError(LvgError):
    """The environment refused an I/O operation (read-only folder, no space, permission): which path, which
    operation, why. Nothing partial is left under the path."""

    def __init__(self, path: str | Path, operation: str, reason: str) -> None:
        self.path, self.operation, self.reason = str(path), operation, reason
        super().__init__(f"cannot {operation} {self.path}: {reason}")
