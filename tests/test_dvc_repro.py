"""Snakemake and DVC on one tiny project (README, "DVC"; issue 18).

A direct Snakemake run is recorded in DVC (the Snakefile's onsuccess hook, or `lvg dvc-commit`), so a later
`dvc repro` runs nothing and deletes nothing; one parameter change re-runs only the phases that depend on it,
under either tool; an interrupted `dvc repro` loses no model (`dvc checkout` restores it); the artifacts
push to a remote, clone and pull. The reverse order (`dvc repro` first, then Snakemake has nothing to do) is
the last test. (Its own file: with test_workflow.py, the two longest test files, each on one xdist worker;
both copy the one tiny build of conftest's ``tiny_build``.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from helpers import build_report, copy_build, make_project, run, snakemake, tree_hashes

pytestmark = pytest.mark.workflow

MAIN_STAGES = ["acquire", "scenes", "clips", "preprocess", "train_lowres", "train_superres", "train_baselines",
               "train_world", "import_released", "generate", "evaluate", "render"]
AFTER_SR = ["train_superres", "generate", "evaluate", "render"]  # the stages downstream of train_superres


def dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], project, check=check)


def stages_run(proc: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", proc.stdout + proc.stderr)


def jobs_run(proc: subprocess.CompletedProcess) -> set[str]:
    """The rules of the jobs a (dry) Snakemake run executes, from its log."""
    return set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, flags=re.M)) - {"all"}


def set_param(project: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def sr_model(project: Path) -> dict[str, str]:
    return {k: v for k, v in tree_hashes(project / "results/models/superres").items() if "G_ema" in k}


@pytest.fixture(scope="module")
def built(tiny_build: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the tiny project in git, built by the main job (Snakemake); what it printed, how long it took."""
    report = build_report(tiny_build)
    return {"project": copy_build(tiny_build, tmp_path_factory.mktemp("dvc") / "proj"),
            "main": SimpleNamespace(stdout=report["stdout"], stderr=report["stderr"]), "main_s": report["seconds"]}


def test_snakemake_run_is_recorded_and_dvc_repro_runs_nothing(built: dict) -> None:
    project, main = built["project"], built["main"]
    # The onsuccess hook recorded every stage of dvc.yaml (the project has no extras/dvc.yaml).
    recorded = re.search(r"lvg: recorded in DVC \(dvc commit\): (.*)", main.stderr)
    assert recorded and recorded.group(1).split(", ") == MAIN_STAGES, main.stderr[-3000:]
    assert "not recorded" not in main.stderr
    # The documented step by hand: everything is up to date, so recording again changes nothing.
    lock = (project / "dvc.lock").read_text()
    t0 = time.monotonic()
    step = run([sys.executable, "-m", "lvg.cli", "dvc-commit", "--strict"], project)
    step_s = time.monotonic() - t0
    assert all(re.search(rf"^{s}\s+recorded\s+up to date$", step.stdout, re.M) for s in MAIN_STAGES), step.stdout
    assert (project / "dvc.lock").read_text() == lock
    assert "up to date" in dvc(project, "status").stdout.lower()
    t0 = time.monotonic()
    repro = dvc(project, "repro")
    repro_s = time.monotonic() - t0
    assert stages_run(repro) == [] and "didn't change, skipping" in repro.stdout
    assert not jobs_run(repro)
    # Every run artifact is out of git's view (benchmark TSVs, logs, DVC's .gitignore files); dvc.lock is the
    # record to commit.
    untracked = run(["git", "status", "--porcelain", "--untracked-files=all"], project).stdout.split("\n")
    assert [line for line in untracked if line] == ["?? dvc.lock"]
    print(f"\nmain job {built['main_s']:.0f} s, lvg dvc-commit {step_s:.1f} s, no-op dvc repro {repro_s:.1f} s")


def test_one_parameter_reruns_only_its_phases_under_snakemake(built: dict) -> None:
    project = built["project"]
    set_param(project, "train_superres", "steps", 6)
    planned = jobs_run(snakemake(project, "-n"))
    assert {"train_superres", "samples_ours", "evaluate", "table1"} <= planned
    assert not planned & {"acquire_source", "scenes_detect", "clips_table", "preprocess_frames", "train_lowres",
                          "train_baseline", "render_world_corpus", "render_world_objects", "train_world_detector", "evaluate_real",
                          "samples_baseline"}, planned
    assert "train_superres" in dvc(project, "status").stdout  # DVC sees the same change, at its stage


def test_interrupted_dvc_repro_loses_no_model_and_reruns_only_its_phases(built: dict) -> None:
    """`dvc repro` after train_superres.steps changed (above), killed in the SR training job: `dvc checkout`
    restores the previous model; resumed, it reruns only the stages after the change."""
    project = built["project"]
    before = sr_model(project)
    assert before
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               DVC_NO_ANALYTICS="1")
    job_log = project / "logs/train_superres/tiny.log"
    job_log.unlink(missing_ok=True)
    with open(project / "interrupted.log", "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=project, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not job_log.exists():  # the SR training job has started
            assert proc.poll() is None and time.monotonic() < deadline, (project / "interrupted.log").read_text()
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # dvc, snakemake and the training job
        proc.wait()
    assert sr_model(project) == {}  # DVC deleted the stage's outs before running it ...
    dvc(project, "checkout")  # ... and restores them from its cache
    assert sr_model(project) == before
    # Snakemake, killed, needs --unlock (README); then dvc repro resumes: only the changed phases run.
    snakemake(project, "--unlock")
    repro = dvc(project, "repro")
    assert stages_run(repro) == AFTER_SR
    assert sr_model(project) != before
    assert "up to date" in dvc(project, "status").stdout.lower()
    proc = snakemake(project, "-n")  # the reverse direction: after dvc repro, Snakemake has nothing to do
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_push_clone_pull(built: dict, tmp_path: Path) -> None:
    project = built["project"]
    remote = tmp_path / "remote"
    dvc(project, "remote", "add", "-d", "scratch", str(remote))
    dvc(project, "push")
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "pipeline outputs"], project)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    dvc(clone, "pull")
    for sub in ["data/raw", "data/scenes", "data/clips", "data/processed", "results/models", "results/samples",
                "results/metrics"]:
        original, restored = tree_hashes(project / sub), tree_hashes(clone / sub)
        assert original and original == restored, sub
    # After a pull, mtimes are arbitrary: --touch makes Snakemake agree that nothing needs doing.
    snakemake(clone, "--touch")
    proc = snakemake(clone, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_dvc_repro_first_then_snakemake_has_nothing_to_do(tmp_path: Path) -> None:
    """The reverse order from scratch, up to the clip table (the later stages were run by DVC, then found up
    to date by Snakemake, in the tests above)."""
    project = make_project(tmp_path / "proj")
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "init"], project)
    repro = dvc(project, "repro", "clips")
    assert stages_run(repro) == ["acquire", "scenes", "clips"]
    assert "lvg: recorded in DVC" not in repro.stdout + repro.stderr  # inside dvc repro, DVC records
    proc = snakemake(project, "-n", "phase_clips")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert stages_run(dvc(project, "repro", "clips")) == []
