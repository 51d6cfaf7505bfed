"""`dvc repro` on a tiny copy of the project builds the same artifacts as Snakemake (Snakemake then has
nothing to do); a second `dvc repro` does nothing; the outputs are pushed to a local remote, cloned and
pulled, and `snakemake --touch` makes the clone up to date. (Its own file: with test_workflow.py, the two
longest test files, each on one pytest-xdist worker.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import make_project, run, snakemake, tree_hashes

pytestmark = pytest.mark.workflow


def test_dvc_repro_push_clone_pull(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "init"], project)
    run([sys.executable, "-m", "dvc", "repro"], project)
    again = run([sys.executable, "-m", "dvc", "repro"], project)
    assert "Running stage" not in again.stdout and "up to date" in again.stdout.lower()
    status = run([sys.executable, "-m", "dvc", "status"], project)
    assert "up to date" in status.stdout.lower()
    remote = tmp_path / "remote"
    run([sys.executable, "-m", "dvc", "remote", "add", "-d", "scratch", str(remote)], project)
    run([sys.executable, "-m", "dvc", "push"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "pipeline outputs"], project)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    run([sys.executable, "-m", "dvc", "pull"], clone)
    for sub in ["raw", "scenes", "clips", "processed"]:
        original, restored = tree_hashes(project / "data" / sub), tree_hashes(clone / "data" / sub)
        assert original and original == restored, sub
    assert (project / "results/table1.csv").is_file()
    for sub in ["models", "samples", "metrics"]:  # DVC's runs built what the default target needs
        assert tree_hashes(project / "results" / sub) == tree_hashes(clone / "results" / sub), sub
    proc = snakemake(project, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # After a pull, mtimes are arbitrary: --touch makes Snakemake agree that nothing needs doing.
    snakemake(clone, "--touch")
    proc = snakemake(clone, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr
