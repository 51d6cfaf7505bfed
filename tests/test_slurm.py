"""The DAG on a real Slurm cluster: `snakemake --profile profiles/slurm` with the real executor plugin, real
slurmctld/slurmd/slurmdbd/munge (`.ci/slurm up`: one node, this machine) and a real srun + torchrun.

What runs: the data phase of the tiny synthetic dataset through one tiny low-res training (7 Slurm jobs), the
training on 2 gloo ranks inside its job; then the training again, killed by scancel after its first checkpoint,
resubmitted by Snakemake and resumed, bit for bit equal to the uninterrupted run.

Marked `slurm`: a plain `pytest` deselects them; `.ci/slurm test` (root: installs and starts Slurm) runs them
and tears Slurm down. Without a running Slurm they skip and say why.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from helpers import TINY_PARAMS, make_project, run
from safetensors.torch import load_file

pytestmark = pytest.mark.slurm

TARGET = "results/models/lowres/tiny/G_ema.safetensors"
MODEL = Path("results/models/lowres/tiny")
ACCOUNT = "lvg-tests"  # created by .ci/slurm up, as a cluster admin would
# 16 steps with a checkpoint every 4: long enough (~5-30 s on 2 cores) to scancel the job between its first
# checkpoint and its end; keep_checkpoints 0 keeps them all for the bit-for-bit comparison.
PARAMS = copy.deepcopy(TINY_PARAMS)
PARAMS["train_lowres"] |= {"steps": 16, "checkpoint_every": 4, "keep_checkpoints": 0, "threads": 1}
RULES = {"acquire_source": 2, "scenes_detect": 2, "clips_table": 1, "preprocess_frames": 1, "train_lowres": 1}


def slurm_unavailable() -> str | None:
    """Why Slurm cannot run jobs here, or None when its node takes jobs."""
    root = os.geteuid() == 0
    if shutil.which("sbatch") is None:
        return ("Slurm is not installed" + ("" if root else " and installing it needs root") +
                ": `.ci/slurm test` (as root) installs it, starts it, runs these tests and stops it")
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: slurmctld is not answering"
    if proc.returncode != 0:
        return (f"Slurm is not running ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'sinfo failed'})"
                f"; `.ci/slurm up` starts it{'' if root else ', as root (this is uid ' + str(os.geteuid()) + ')'}")
    if not any(s.strip("*~#") in ("idle", "mixed") for s in proc.stdout.split()):
        return f"no Slurm node is idle (states: {proc.stdout.split()})"
    if subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True).returncode != 0:
        return "sacct fails: Slurm runs without accounting (slurmdbd); `.ci/slurm up` sets it up"
    return None


def fit_profile(profile: dict) -> dict:
    """What a user changes in profiles/slurm/config.yaml for their cluster, done for this test cluster: the
    account placeholder, and sizes that fit one node with this machine's CPUs and no GPU (2 CPU ranks of 1
    thread each for training). Nothing else: executor, retries, plugin settings and `mpi: srun` stay as shipped.
    """
    p = copy.deepcopy(profile)
    p["default-resources"] |= {"slurm_account": ACCOUNT, "runtime": 15, "mem_mb": 1500}
    for res in p["set-resources"].values():
        res |= {"cpus_per_task": 1, "mem_mb": 1500, "runtime": 15}
        res.pop("gres", None)  # no GPUs here
        if "tasks_per_node" in res:
            res["tasks_per_node"] = 2
    p["set-threads"] = {rule: 1 for rule in p["set-threads"]}
    # Jobs here take seconds, not hours: look at them sooner (the plugin adds 10 s per quiet check).
    p["slurm-init-seconds-before-status-checks"] = 5
    return p


@dataclass
class SlurmRun:
    project: Path
    output: str
    seconds: float
    jobs: dict[str, tuple[str, Path]]  # Slurm job id -> (rule, Slurm log)


def submitted_jobs(project: Path, output: str) -> dict[str, tuple[str, Path]]:
    """Slurm job id -> (rule, its Slurm log) from the plugin's "Job N has been submitted ..." lines."""
    jobs = {}
    for m in re.finditer(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", output):
        log = Path(m[2])
        rule = log.relative_to(project / ".snakemake/slurm_logs").parts[0].removeprefix("rule_")
        jobs[m[1]] = (rule, log)
    return jobs


def sacct(*job_ids: str, steps: bool = False) -> list[dict[str, str]]:
    """Slurm's accounting records of the jobs (and their steps)."""
    fields = ["JobIDRaw", "JobName", "State", "Account", "AllocCPUS", "NTasks", "ExitCode", "Comment", "SubmitLine"]
    cmd = ["sacct", "-n", "-P", "--format=" + ",".join(fields), "-j", ",".join(job_ids)]
    out = subprocess.run(cmd + ([] if steps else ["-X"]), capture_output=True, text=True, check=True).stdout
    return [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines() if line]


def settled_sacct(*job_ids: str, steps: bool = False) -> list[dict[str, str]]:
    """sacct once slurmdbd has every job's final state (it may lag slurmctld by a moment)."""
    for _ in range(20):
        records = sacct(*job_ids, steps=steps)
        if len({r["JobIDRaw"] for r in records}) >= len(job_ids) and not any(
                r["State"] in ("PENDING", "RUNNING", "COMPLETING") for r in records):
            return records
        time.sleep(0.5)
    return records


def snakemake_cmd() -> list[str]:
    return [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", TARGET]


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory: pytest.TempPathFactory) -> SlurmRun:
    """The small DAG run once on Slurm; the trained model is copied to ``reference/`` for the resume test."""
    if reason := slurm_unavailable():
        pytest.skip(reason)
    project = make_project(tmp_path_factory.mktemp("slurm") / "proj", params=PARAMS)
    profile_file = project / "profiles/slurm/config.yaml"
    profile_file.write_text(yaml.safe_dump(fit_profile(yaml.safe_load(profile_file.read_text())), sort_keys=False))
    t0 = time.monotonic()
    proc = run(snakemake_cmd(), project, timeout=900)
    seconds = time.monotonic() - t0
    shutil.copytree(project / MODEL, project.parent / "reference")
    print(f"slurm DAG: {seconds:.0f} s")
    return SlurmRun(project, proc.stdout + proc.stderr, seconds, submitted_jobs(project, proc.stdout + proc.stderr))


def test_dag_runs_as_slurm_jobs_recorded_by_sacct_with_their_logs(slurm_run: SlurmRun) -> None:
    jobs = slurm_run.jobs
    rules = [rule for rule, _ in jobs.values()]
    assert {r: rules.count(r) for r in set(rules)} == RULES, slurm_run.output[-3000:]
    records = {r["JobIDRaw"]: r for r in settled_sacct(*jobs)}
    for job_id, (rule, slurm_log) in jobs.items():
        rec = records[job_id]
        assert rec["State"] == "COMPLETED", rec
        assert rec["Account"] == ACCOUNT and rec["Comment"].startswith(f"rule_{rule}"), rec
        # The plugin's log of the job (kept: slurm-keep-successful-logs) and the rule's own log (README).
        assert slurm_log.is_file() and f"rule {rule}:" in slurm_log.read_text(), slurm_log
    assert slurm_run.project.joinpath("logs/preprocess_frames/tiny/0016x0016.log").is_file()
    for source in ("clip0", "clip1"):
        assert (slurm_run.project / f"logs/acquire_source/tiny/{source}.log").is_file()
        assert (slurm_run.project / f"logs/scenes_detect/tiny/{source}.log").is_file()
    assert (slurm_run.project / TARGET).is_file()
    # A second run finds nothing to do and submits nothing.
    again = run(snakemake_cmd(), slurm_run.project)
    assert "Nothing to be done" in again.stdout + again.stderr and "submitted" not in again.stdout + again.stderr


def test_training_runs_two_ranks_under_srun(slurm_run: SlurmRun) -> None:
    (job_id,) = [j for j, (rule, _) in slurm_run.jobs.items() if rule == "train_lowres"]
    records = {r["JobIDRaw"]: r for r in settled_sacct(job_id, steps=True)}
    job, step = records[job_id], records[f"{job_id}.0"]
    assert "--ntasks-per-node=2" in job["SubmitLine"] and job["AllocCPUS"] == "2", job
    # One srun step: one torchrun (task) on the node, starting 2 ranks through the c10d rendezvous.
    assert step["JobName"] == "lvg-train-lowres" and step["State"] == "COMPLETED", step
    assert step["SubmitLine"].startswith("srun ") and step["NTasks"] == "1", step
    log = (slurm_run.project / "logs/train_lowres/tiny.log").read_text()
    assert "2 ranks = 1 node(s) x 2 of Slurm job" in log and "--rdzv-backend=c10d" in log, log
    assert "batch 2 on 2 process(es) (cpu)" in log, log
    state = json.loads((slurm_run.project / MODEL / "checkpoints/ckpt-00000016/state.json").read_text())["state"]
    assert state["world_size"] == 2 and len(state["ranks"]) == 2


def test_scancelled_training_is_resubmitted_and_resumes_exactly(slurm_run: SlurmRun) -> None:
    project = slurm_run.project
    shutil.rmtree(project / MODEL)  # train again; the data phase stays done
    out_file = project.parent / "resume.log"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with out_file.open("w") as out:
        proc = subprocess.Popen(snakemake_cmd(), cwd=project, stdout=out, stderr=subprocess.STDOUT, env=env)
    cancelled = None
    try:
        first_ckpt = project / MODEL / "checkpoints/ckpt-00000004/state.json"
        deadline = time.monotonic() + 300
        while cancelled is None and time.monotonic() < deadline and proc.poll() is None:
            if first_ckpt.is_file():
                cancelled = _running_train_job()
                subprocess.run(["scancel", cancelled], check=True)
            time.sleep(0.1)
        assert cancelled, f"the training job never wrote its first checkpoint:\n{out_file.read_text()[-3000:]}"
        assert not (project / MODEL / "checkpoints/ckpt-00000016").exists(), "finished before scancel hit it"
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:  # a failure above: stop Snakemake (it cancels its Slurm jobs)
            proc.terminate()
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
    output = out_file.read_text()
    assert proc.returncode == 0, output[-4000:]
    jobs = submitted_jobs(project, output)
    assert [rule for rule, _ in jobs.values()] == ["train_lowres", "train_lowres"], output[-3000:]
    first, retry = jobs
    assert first == cancelled
    states = {r["JobIDRaw"]: r["State"] for r in settled_sacct(first, retry)}
    assert states[first].startswith("CANCELLED") and states[retry] == "COMPLETED", states
    assert "Trying to restart job" in output, output[-3000:]
    log = (project / "logs/train_lowres/tiny.log").read_text()
    resumed = re.search(r"resumed from \S+ckpt-(\d+) \(step (\d+)\)", log)
    assert resumed and 4 <= int(resumed[2]) < 16, log
    # Bit for bit the uninterrupted run's weights, optimizer state and per-rank random streams.
    ref, new = project.parent / "reference", project / MODEL
    for name in ["checkpoints/ckpt-00000016/G", "checkpoints/ckpt-00000016/D", "checkpoints/ckpt-00000016/G_ema",
                 "checkpoints/ckpt-00000016/optim", "G_ema"]:
        a, b = load_file(str(ref / f"{name}.safetensors")), load_file(str(new / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    state = lambda d: json.loads((d / "checkpoints/ckpt-00000016/state.json").read_text())["state"]  # noqa: E731
    assert state(ref)["ranks"] == state(new)["ranks"] and state(new)["world_size"] == 2


def _running_train_job() -> str:
    """The id of the running train_lowres job (its comment names the rule)."""
    out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True,
                         check=True).stdout
    ids = [line.split("|")[0] for line in out.splitlines() if "rule_train_lowres" in line]
    assert len(ids) == 1, out
    return ids[0]
