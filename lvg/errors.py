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

    def __init__(self, path: str | Path, problem: str, entry: str | None = None) -> None:
        self.path = str(path)
        self.entry = entry
        self.problem = problem
        where = f"{self.path}" + (f", entry {entry!r}" if entry is not None else "")
        super().__init__(f"{where}: {problem}")
