"""lvg.train.launch without a cluster: how a job's shape is read (Slurm's environment, scontrol's record),
the commands it builds, its errors, and `lvg train --nproc 2` through a local torchrun. The launch on a real
Slurm is tests/test_slurm.py."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import TINY_PARAMS, make_project, run
from test_checkpoint import write_shards

from lvg.errors import LvgError
from lvg.train import launch

BATCH_ENV = {  # what sbatch --nodes=2 --ntasks-per-node=4 -c 3 puts in the batch script's environment
    "SLURM_JOB_ID": "77", "SLURM_JOB_NODELIST": "n1,n2", "SLURM_TASKS_PER_NODE": "4(x2)",
    "SLURM_NTASKS_PER_NODE": "4", "SLURM_JOB_CPUS_PER_NODE": "12(x2)", "SLURM_NTASKS": "8",
}
SCONTROL = ("JobId=9 JobName=x UserId=root(0) JobState=RUNNING NodeList=localhost BatchHost=localhost NumNodes=1 "
            "NumCPUs=2 NumTasks=2 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=2,mem=1500M,node=1,billing=2 "
            "NtasksPerN:B:S:C=2:0:*:* CoreSpec=* Comment=rule_train_lowres_wildcards_tiny")


def test_outside_slurm_and_inside_one_task_steps_there_is_nothing_to_launch() -> None:
    assert launch.slurm_allocation({}) is None
    step = {"SLURM_JOB_ID": "5", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"}  # the plugin's srun -n1
    assert launch.slurm_allocation(step) is None


def test_batch_environment_gives_nodes_tasks_and_cpus() -> None:
    alloc = launch.slurm_allocation(BATCH_ENV)
    assert alloc == launch.SlurmAllocation("77", ("n1", "n2"), 4, 12)
    assert alloc.world_size == 8


def test_scontrol_record_when_the_jobstep_plugin_dropped_the_slurm_variables() -> None:
    fields = launch.parse_scontrol_record(SCONTROL)
    assert fields["NumTasks"] == "2" and fields["NtasksPerN:B:S:C"] == "2:0:*:*" and fields["NodeList"] == "localhost"
    assert fields["TRES"] == "cpu=2,mem=1500M,node=1,billing=2"


def test_uneven_or_multi_task_shapes_are_refused_with_the_reason() -> None:
    with pytest.raises(LvgError, match="uneven tasks per node"):
        launch.slurm_allocation(BATCH_ENV | {"SLURM_NTASKS_PER_NODE": "", "SLURM_TASKS_PER_NODE": "4,3"})
    with pytest.raises(LvgError, match="each would train alone.*mpi: srun"):
        launch.slurm_allocation({"SLURM_JOB_ID": "5", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "8"})


def test_srun_command_starts_one_torchrun_per_node_with_every_count_explicit() -> None:
    alloc = launch.slurm_allocation(BATCH_ENV)
    entry = launch.entry_command("lowres", "s.yaml", "data/processed/x", "out", resume=False)
    cmd = launch.srun_command(alloc, entry, "n1:29400")
    i = cmd.index(sys.executable)
    assert cmd[:i] == ["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=12",
                       "--kill-on-bad-exit=1", "--export=ALL", "--job-name=lvg-train-lowres"]
    assert cmd[i:] == [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=4",
                       "--rdzv-backend=c10d", "--rdzv-endpoint=n1:29400", "--rdzv-id=slurm-77", "--max-restarts=0",
                       "-m", "lvg.train", "lowres", "--section", "s.yaml", "--dataset", "data/processed/x",
                       "--out", "out", "--no-resume"]


def test_srun_inherits_which_job_not_its_shape() -> None:
    env = launch.srun_environment(BATCH_ENV | {"SLURM_GPUS_PER_TASK": "1", "SBATCH_PARTITION": "gpu", "HOME": "/h",
                                               "SLURM_CONF": "/etc/slurm/slurm.conf"})
    assert env == {"SLURM_JOB_ID": "77", "SLURM_CONF": "/etc/slurm/slurm.conf", "HOME": "/h"}


def test_a_torchrun_worker_never_launches_again(tmp_path: Path) -> None:
    """Under torchrun (LOCAL_RANK set) a Slurm job id must not make a rank start its own srun."""
    with pytest.raises(LvgError, match="unknown training phase"):
        launch.train("nope", {}, tmp_path, tmp_path, env=BATCH_ENV | {"LOCAL_RANK": "0"})


@pytest.mark.slow
def test_lvg_train_nproc_2_runs_a_local_torchrun(tmp_path: Path) -> None:
    """The single-node path: `lvg train lowres --nproc 2` (gloo ranks), through launch.train."""
    data = write_shards(tmp_path / "data/processed/tiny")
    cfg = copy.deepcopy(TINY_PARAMS)
    cfg["train_lowres"] |= {"resolution": "16x16", "seq_length": 16, "batch": 2, "steps": 2, "checkpoint_every": 2}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")} | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "lvg.cli", "train", "lowres", "--configfile", "cfg.yaml",
                           "--dataset", "tiny", "--out", "run", "--nproc", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert data.is_dir() and "2 local processes (torchrun)" in proc.stderr
    state = json.loads((tmp_path / "run/checkpoints/ckpt-00000002/state.json").read_text())["state"]
    assert state["world_size"] == 2
    assert not (tmp_path / "run/.launch-section.yaml").exists()  # the launch's section file is cleaned up


@pytest.mark.slow
def test_slurm_profile_plans_the_paper_sized_training_job(tmp_path: Path) -> None:
    """profiles/slurm as shipped (no Slurm needed for a dry run): the training job gets 8 ranks on one node
    through `mpi: srun`, GPUs as gres per node, and Snakemake's own gpu budget stays out of the way."""
    project = make_project(tmp_path / "proj")
    proc = run([sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "-n",
                "results/models/lowres/tiny/G_ema.safetensors"], project)
    out = proc.stdout + proc.stderr
    train = out[out.index("rule train_lowres:"):]
    resources = re.search(r"resources: (.*)", train)[1]
    for item in ["mpi=srun", "nodes=1", "tasks_per_node=8", "gres=gpu:8", "gpu=0", "cpus_per_task=8", "runtime=4320"]:
        assert item in resources.split(", "), resources
    assert "Using profiles profiles/slurm" in out
