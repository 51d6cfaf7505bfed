"""Start a training phase on every process its job has: in this process, under a local ``torchrun``, or
across a Slurm allocation with ``srun`` + ``torchrun``.

Why this module: the paper trains each model on 8 GPUs (and clusters run Slurm), but the Snakemake rules and
``lvg train`` should stay one call, whatever the hardware. :func:`train` decides how many processes there are:

* ``nproc > 1`` (``lvg train --nproc N``): one local ``torchrun --standalone`` with N workers;
* inside a Slurm job that has more than one task (sbatch ``--nodes`` x ``--ntasks-per-node``; the Slurm profile
  gives the training rules ``tasks_per_node`` and ``mpi: srun``): ``srun`` starts one ``torchrun`` per node
  and the torchruns meet through a c10d rendezvous on this (the batch) node. World size = nodes x tasks per
  node, one rank per task (per GPU on GPU nodes); gloo on CPU, NCCL on GPU (:mod:`lvg.train.distributed`);
* otherwise (a laptop, one-task Slurm jobs, or a process that torchrun already started): this process.

Every process runs the same entry point, ``python -m lvg.train PHASE --config ... --dataset ... --out ...``
(:mod:`lvg.train.__main__`), so a run on 16 GPUs and a run on a laptop differ only in ``world_size``;
checkpoints record it and resume exactly (``tests/test_distributed.py``, ``tests/test_slurm.py``).

Where the job's shape comes from: ``SLURM_*`` variables when they are there, else ``scontrol show job``.
The latter matters because Snakemake's jobstep plugin (the process that runs a rule inside its Slurm job)
removes every ``SLURM_*`` variable except the job id before it starts the rule.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lvg.errors import LvgError

log = logging.getLogger(__name__)

# Variables torchrun sets in its workers: a process that has them is already one rank of a launch.
_WORKER_VARS = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")
# What srun may inherit from the batch environment: which job and cluster. The rest (SLURM_NTASKS,
# SLURM_CPUS_PER_TASK, SLURM_GPUS_PER_TASK, SBATCH_*, SRUN_*, ...) describes the job's shape and srun would
# read it as options for the step, in conflict with the explicit ones (Snakemake's jobstep plugin does the same).
_SRUN_KEEP = {"SLURM_JOB_ID", "SLURM_JOBID", "SLURM_CONF", "SLURM_CLUSTER_NAME", "SLURM_WORKING_CLUSTER",
              "SLURM_SUBMIT_DIR", "SLURM_SUBMIT_HOST"}


@dataclass(frozen=True)
class SlurmAllocation:
    """The part of a Slurm job that decides a training launch: its nodes, tasks per node and CPUs per node."""

    job_id: str
    nodes: tuple[str, ...]
    tasks_per_node: int
    cpus_per_node: int

    @property
    def world_size(self) -> int:
        """One rank per task: ``nodes x tasks_per_node``."""
        return len(self.nodes) * self.tasks_per_node


# ------------------------------------------------------------------------------------------- job geometry
def slurm_allocation(env: Mapping[str, str] | None = None) -> SlurmAllocation | None:
    """The Slurm job this process runs in, or ``None`` outside Slurm (or inside one srun task of a step).

    Raises :class:`LvgError` inside a multi-task ``srun`` step: each task would otherwise train alone.
    """
    env = os.environ if env is None else env
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id:
        return None
    if "SLURM_STEP_ID" in env:  # one task of a job step: srun already placed this process
        ntasks = int(env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or "1")
        if ntasks > 1:
            raise LvgError(f"running as one of {ntasks} tasks of Slurm step {job_id}.{env['SLURM_STEP_ID']}: "
                           "each would train alone. Start lvg once per job (sbatch; in the Snakemake profile "
                           "'mpi: srun' on the training rule) and it launches the ranks itself")
        return None
    if env.get("SLURM_JOB_NODELIST") and env.get("SLURM_TASKS_PER_NODE"):
        nodes = expand_nodelist(env["SLURM_JOB_NODELIST"])
        tasks = env.get("SLURM_NTASKS_PER_NODE") or _uniform(env["SLURM_TASKS_PER_NODE"], "tasks per node")
        cpus = _uniform(env.get("SLURM_JOB_CPUS_PER_NODE") or env.get("SLURM_CPUS_ON_NODE") or "1",
                        "CPUs per node")
        return SlurmAllocation(job_id, nodes, int(tasks), int(cpus))
    return _allocation_from_scontrol(job_id)


def _allocation_from_scontrol(job_id: str) -> SlurmAllocation:
    """Read the job's shape from ``scontrol show job`` (the environment had only the job id)."""
    fields = parse_scontrol_record(_check_output(["scontrol", "show", "job", "--oneliner", job_id]))
    try:
        nodes = expand_nodelist(fields["NodeList"])
        num_nodes, num_tasks, num_cpus = int(fields["NumNodes"]), int(fields["NumTasks"]), int(fields["NumCPUs"])
    except (KeyError, ValueError) as e:
        raise LvgError(f"cannot read the shape of Slurm job {job_id} from scontrol (missing {e})") from None
    per_node = fields.get("NtasksPerN:B:S:C", "0").split(":")[0]
    tasks = int(per_node) if per_node.isdigit() and int(per_node) > 0 else num_tasks // max(num_nodes, 1)
    if len(nodes) != num_nodes or tasks * num_nodes != num_tasks:
        raise LvgError(f"Slurm job {job_id} has {num_tasks} tasks on {num_nodes} node(s) ({fields['NodeList']}): "
                       "training needs the same number of tasks on every node (sbatch --ntasks-per-node)")
    return SlurmAllocation(job_id, nodes, tasks, num_cpus // num_nodes)


def parse_scontrol_record(text: str) -> dict[str, str]:
    """``Key=Value Key2=Value2 ...`` (``scontrol show ... --oneliner``) as a dict."""
    return dict(m.groups() for m in re.finditer(r"(\S+?)=(\S*)", text))


def expand_nodelist(nodelist: str) -> tuple[str, ...]:
    """Slurm's compressed host list (``gpu[01-03,07],login1``) as host names, through ``scontrol``.

    A plain comma-separated list without brackets is split here (no Slurm command needed).
    """
    if "[" not in nodelist:
        return tuple(n for n in nodelist.split(",") if n)
    return tuple(_check_output(["scontrol", "show", "hostnames", nodelist]).split())


def _uniform(value: str, what: str) -> str:
    """``"2(x3)"`` -> ``"2"``; ``"2,1"`` (uneven) is an error: every node must run the same number of ranks."""
    counts = {re.sub(r"\(x\d+\)", "", part) for part in value.split(",") if part}
    if len(counts) != 1:
        raise LvgError(f"the Slurm job has uneven {what} ({value}); training needs the same on every node")
    return counts.pop()


def _check_output(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        raise LvgError(f"SLURM_JOB_ID is set but {cmd[0]!r} is not on PATH: cannot read the Slurm job")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LvgError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


# ------------------------------------------------------------------------------------------- commands
def entry_command(phase: str, section_file: str | Path, dataset_dir: str | Path, out_dir: str | Path,
                  resume: bool = True) -> list[str]:
    """The per-rank entry point's arguments (after ``python -m`` or ``torchrun -m``)."""
    cmd = ["lvg.train", phase, "--section", str(section_file), "--dataset", str(dataset_dir), "--out", str(out_dir)]
    return cmd + ([] if resume else ["--no-resume"])


def torchrun_command(nproc: int, entry: list[str]) -> list[str]:
    """``nproc`` workers on this machine (``lvg train --nproc N``)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", *entry]


def srun_command(alloc: SlurmAllocation, entry: list[str], rdzv_endpoint: str) -> list[str]:
    """One torchrun per node of ``alloc`` (one srun task each, all of the node's CPUs), ranks = tasks per node.

    Every count is explicit: the batch environment's ``SLURM_NTASKS`` etc. describe the job, not this step.
    ``--kill-on-bad-exit`` ends every node's torchrun when one fails, so a dead rank never leaves the others
    waiting in a collective until the time limit.
    """
    n = len(alloc.nodes)
    return ["srun", f"--nodes={n}", f"--ntasks={n}", "--ntasks-per-node=1", f"--cpus-per-task={alloc.cpus_per_node}",
            "--kill-on-bad-exit=1", "--export=ALL", f"--job-name=lvg-train-{entry[1]}",
            sys.executable, "-m", "torch.distributed.run", f"--nnodes={n}",
            f"--nproc-per-node={alloc.tasks_per_node}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}",
            f"--rdzv-id=slurm-{alloc.job_id}", "--max-restarts=0", "-m", *entry]


def srun_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the job-shape variables srun would take as step options (see ``_SRUN_KEEP``)."""
    return {k: v for k, v in env.items()
            if not k.startswith(("SLURM_", "SBATCH_", "SRUN_")) or k in _SRUN_KEEP}


def free_port() -> int:
    """A TCP port free on this host now (the rendezvous store listens here: we run on the batch node)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------- running
def section_path(phase: str) -> str:
    """The config section a phase trains from: ``train_lowres``, ``train_superres``, ``baselines.<method>``."""
    from lvg.baselines import METHODS as BASELINES

    if phase in BASELINES:
        return f"baselines.{phase}"
    if phase in ("lowres", "superres"):
        return f"train_{phase}"
    raise LvgError(f"unknown training phase {phase!r}")


def run_phase(phase: str, section: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path,
              resume: bool = True) -> Path:
    """Train ``phase`` (lowres, superres or a baseline) from its config ``section`` in this process; under
    torchrun, as one rank."""
    path = section_path(phase)
    if path.startswith("baselines."):
        from lvg.baselines.train import run_train_baseline

        return run_train_baseline(phase, section, dataset_dir, out_dir, resume=resume)
    if phase == "lowres":
        from lvg.train.lowres import run_train_lowres as run
    else:
        from lvg.train.superres import run_train_superres as run
    return run(section, dataset_dir, out_dir, resume=resume)


def train(phase: str, section: dict[str, Any], dataset_dir: str | Path, out_dir: str | Path, resume: bool = True,
          nproc: int = 1, env: Mapping[str, str] | None = None) -> Path:
    """Train ``phase`` on every process this job has (module docstring); return ``out_dir/G_ema.safetensors``.

    ``section`` is the phase's config section (:func:`section_path`). For a multi-process launch it is written
    next to the run (``out_dir/.launch-section.yaml``: every node must read it, and ``out_dir`` is on storage
    they share) and removed afterwards.
    """
    env = os.environ if env is None else env
    out_dir = Path(out_dir)
    if nproc < 1:
        raise LvgError(f"--nproc must be at least 1, not {nproc}")
    alloc = None if nproc > 1 or any(v in env for v in _WORKER_VARS) else slurm_allocation(env)
    if nproc == 1 and (alloc is None or alloc.world_size == 1):
        return run_phase(phase, section, dataset_dir, out_dir, resume=resume)
    with _section_file(section, out_dir) as section_file:
        entry = entry_command(phase, section_file, dataset_dir, out_dir, resume=resume)
        child_env = dict(env)
        if alloc is None:
            cmd, where = torchrun_command(nproc, entry), f"{nproc} local processes (torchrun)"
        else:
            child_env = srun_environment(env)
            endpoint = f"{socket.gethostname()}:{free_port()}"
            cmd = srun_command(alloc, entry, endpoint)
            where = (f"{alloc.world_size} ranks = {len(alloc.nodes)} node(s) x {alloc.tasks_per_node} of Slurm job "
                     f"{alloc.job_id} ({','.join(alloc.nodes)}; srun + torchrun, rendezvous {endpoint})")
        log.info("train %s on %s", phase, where)
        log.info("launch: %s", " ".join(cmd))
        sys.stderr.flush()
        # Output of every rank goes where ours goes (the rule's log under Snakemake); rank 0 prints the path.
        proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, env=child_env, check=False)
    if proc.returncode != 0:
        raise LvgError(f"training {phase} on {where} failed (exit status {proc.returncode}); the ranks' "
                       "output is above")
    return out_dir / "G_ema.safetensors"


@contextlib.contextmanager
def _section_file(section: dict[str, Any], out_dir: Path) -> Iterator[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ".launch-section.yaml"
    path.write_text(yaml.safe_dump(_plain(section), sort_keys=False), encoding="utf-8")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _plain(obj: Any) -> Any:
    """Snakemake's config values (nested dict-likes and lists) as plain YAML-safe types."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj
