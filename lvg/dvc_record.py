"""Record a Snakemake-built workspace in DVC without recomputing it (``lvg dvc-commit``).

`dvc repro` deletes a stage's outs before it runs the stage's command (non-persistent outs, spec
workflow.md §3.3: correctness never depends on .snakemake/metadata). After a direct
``snakemake --cores all results/table1.csv`` none of those outs is in DVC's cache or in dvc.lock, so the
first `dvc repro` would delete every trained model and start again from acquisition. Recording the
workspace first (`dvc commit`) fixes that: dvc.lock then matches the workspace, `dvc repro` has nothing to
do, and every later deletion by `dvc repro` is of a file DVC can restore (`dvc checkout`).

`dvc commit` records whatever is on disk, even the half of a failed run (spec workflow.md §3.2), so it is
gated on Snakemake: a stage is recorded only when its phase target's outputs all exist and Snakemake would
rebuild none of them (``snakemake --summary``: plan "no update"). The Snakefile's ``onsuccess``/``onerror``
hooks call :func:`record` after every direct Snakemake run (config ``dvc.record_snakemake_runs``), so
forgetting the step costs nothing.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from lvg.errors import LvgError

log = logging.getLogger("lvg.dvc_record")

PIPELINES = ("dvc.yaml", "extras/dvc.yaml")


@dataclass(frozen=True)
class Stage:
    """One DVC stage as this module needs it: how DVC addresses it, the Snakemake target its cmd builds,
    and its outs (paths relative to the project root)."""

    address: str
    target: str
    outs: tuple[str, ...]


@dataclass(frozen=True)
class StageState:
    stage: Stage
    pending: tuple[str, ...]  # outputs Snakemake would (re)build
    missing: tuple[str, ...]  # outs not on disk

    @property
    def recordable(self) -> bool:
        return not self.pending and not self.missing

    def describe(self) -> str:
        if self.recordable:
            return "up to date"
        if self.missing:
            return f"missing: {_some(self.missing)}"
        return f"Snakemake would rebuild {_some(self.pending)}"


def _some(paths: tuple[str, ...], n: int = 2) -> str:
    more = f" (+{len(paths) - n} more)" if len(paths) > n else ""
    return ", ".join(paths[:n]) + more


def _snakemake_target(cmd: str, where: str) -> str:
    """The target of a stage cmd ``snakemake <target> --cores all``."""
    words = shlex.split(cmd)
    if not words or words[0] != "snakemake":
        raise LvgError(f"{where}: cmd {cmd!r} does not call snakemake")
    targets = [w for w in words[1:] if not w.startswith("-") and w != "all"]
    if len(targets) != 1:
        raise LvgError(f"{where}: cmd {cmd!r} does not name exactly one Snakemake target")
    return targets[0]


def pipeline_stages(root: Path) -> list[Stage]:
    """Every stage of ``dvc.yaml`` and ``extras/dvc.yaml`` (those that exist), in file order."""
    stages = []
    for name in PIPELINES:
        path = root / name
        if not path.is_file():
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for stage_name, spec in (doc.get("stages") or {}).items():
            where = f"{path}, stage {stage_name!r}"
            wdir = (path.parent / spec.get("wdir", ".")).resolve()
            outs = []
            for out in spec.get("outs") or []:
                out_path = next(iter(out)) if isinstance(out, dict) else out
                outs.append(os.path.relpath(wdir / out_path, root.resolve()))
            address = stage_name if name == "dvc.yaml" else f"{name}:{stage_name}"
            stages.append(Stage(address, _snakemake_target(spec["cmd"], where), tuple(outs)))
    return stages


def _run(cmd: list[str], root: Path, what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise LvgError(f"{root}: {what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def snakemake_plan(root: Path, targets: list[str]) -> dict[str, bool]:
    """Every output file the targets need -> whether Snakemake would (re)build it (one ``--summary`` run)."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "--summary", "--nolock", "--cores", "1"]
    proc = _run(cmd, root, "snakemake --summary")
    plan, header = {}, None
    for line in proc.stdout.splitlines():
        cells = line.split("\t")
        if header is None:
            if cells[0] == "output_file":
                header = cells
            continue
        if len(cells) == len(header):
            row = dict(zip(header, cells, strict=True))
            plan[row["output_file"]] = row["plan"] != "no update"
    if header is None:
        raise LvgError(f"{root}: snakemake --summary printed no table:\n{proc.stdout[-2000:]}")
    return plan


def _under(path: str, outs: tuple[str, ...]) -> bool:
    return any(path == o or path.startswith(o.rstrip("/") + "/") for o in outs)


def stage_states(root: Path, stages: list[Stage]) -> list[StageState]:
    """Which stages Snakemake considers complete and up to date, from one Snakemake summary of all targets."""
    missing = {s: tuple(o for o in s.outs if not (root / o).exists()) for s in stages}
    present = sorted({s.target for s in stages if not missing[s]})  # a stage with missing outs is not complete
    plan = snakemake_plan(root, present) if present else {}
    return [StageState(s, tuple(p for p, todo in plan.items() if todo and _under(p, s.outs)), missing[s])
            for s in stages]


def record(root: Path, dry_run: bool = False) -> list[StageState]:
    """`dvc commit` every stage whose phase Snakemake has nothing left to do for; returns every stage's state.

    Refuses inside a `dvc repro` (DVC records its own stages) and outside a DVC project.
    """
    if os.environ.get("DVC_STAGE"):
        raise LvgError(f"running inside the DVC stage {os.environ['DVC_STAGE']!r}: `dvc repro` records it")
    if not (root / ".dvc").is_dir():
        raise LvgError(f"{root}: not a DVC project (no .dvc/)")
    states = stage_states(root, pipeline_stages(root))
    ready = [st.stage.address for st in states if st.recordable]
    if ready and not dry_run:
        _run([sys.executable, "-m", "dvc", "commit", "--force", "--quiet", *ready], root, "dvc commit")
    return states


def record_after_snakemake(root: Path, enabled: bool) -> None:
    """The Snakefile's onsuccess/onerror hook: record what a direct Snakemake run completed, never failing it.

    Skipped inside `dvc repro`, when disabled in the config, and where DVC cannot work (no .dvc/, no git).
    """
    if not enabled or os.environ.get("DVC_STAGE") or not (root / ".dvc").is_dir() or not (root / ".git").exists():
        return
    try:
        states = record(root)
    except LvgError as e:
        print(f"lvg: could not record this run in DVC ({e}); run `lvg dvc-commit` before `dvc repro`",
              file=sys.stderr)
        return
    done = [st.stage.address for st in states if st.recordable]
    print(f"lvg: recorded in DVC (dvc commit): {', '.join(done) or 'no stage'}"
          + "".join(f"\n  not recorded: {st.stage.address}: {st.describe()}" for st in states if not st.recordable),
          file=sys.stderr)
