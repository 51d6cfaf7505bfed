"""Two gloo ranks on the CPU: the real ``torchrun -m lvg.train`` path (training, checkpoints, exact resume)
and a ``torch.multiprocessing`` run that looks inside each rank (replicas identical, rank 0 alone writes,
gradient averaging, the sync check catching a diverged replica)."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed
import torch.multiprocessing as mp
import yaml
from helpers import REPO, TINY_PARAMS
from safetensors.torch import load_file
from test_checkpoint import write_shards
from torch import nn

from lvg.baselines.common import generate_frames
from lvg.errors import LvgError
from lvg.models import load_generator
from lvg.train import distributed as D

pytestmark = pytest.mark.distributed


def _cfg(**kw) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    cfg["train_lowres"] = dict(resolution="16x16", seq_length=16, batch=4, steps=4, r1_interval=2, log_every=2,
                               sample_every=0, checkpoint_every=2, keep_checkpoints=0) | kw
    return cfg


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shards(tmp_path_factory.mktemp("ddp") / "data")


def _torchrun(cfg: dict, dataset: Path, out: Path, tmp: Path, phase: str = "lowres") -> subprocess.CompletedProcess:
    section = cfg[f"train_{phase}"] if phase in ("lowres", "superres") else cfg["baselines"][phase]
    cfg_file = tmp / f"cfg-{out.name}-{section['steps']}.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "lvg.train", phase, "--config", str(cfg_file), "--dataset", str(dataset), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _torchrun_killed(cfg: dict, dataset: Path, out: Path, tmp: Path) -> None:
    """torchrun and both ranks killed with SIGKILL once the first checkpoint is published (issue #17)."""
    cfg_file = tmp / f"cfg-{out.name}-killed.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "lvg.train", "lowres", "--config", str(cfg_file), "--dataset", str(dataset), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not (out / "checkpoints" / "ckpt-00000002" / "state.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint before the run ended"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "G_ema.safetensors").exists()  # killed before the end


def test_torchrun_two_ranks_train_checkpoint_and_resume_exactly(dataset: Path, tmp_path: Path) -> None:
    full, split = tmp_path / "full", tmp_path / "split"
    proc = _torchrun(_cfg(), dataset, full, tmp_path)
    assert proc.stdout.strip().splitlines() == [str(full / "G_ema.safetensors")]  # printed by rank 0 only
    _torchrun_killed(_cfg(), dataset, split, tmp_path)  # kill -9 of torchrun and both ranks after ckpt 2
    _torchrun(_cfg(), dataset, split, tmp_path)  # both ranks resume from the last checkpoint

    a, b = full / "checkpoints" / "ckpt-00000004", split / "checkpoints" / "ckpt-00000004"
    for name in ["G", "D", "G_ema", "optim"]:
        ta, tb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        assert all(torch.equal(ta[k], tb[k]) for k in ta), name
    state = json.loads((a / "state.json").read_text())["state"]
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    r0, r1 = state["ranks"]
    assert r0["algorithm"]["latent"] != r1["algorithm"]["latent"]  # per-rank streams from (seed, rank)
    assert r0["data"] == r1["data"] == {"position": 6}  # 4 D batches + 2 R1 batches each
    assert json.loads((b / "state.json").read_text())["state"]["ranks"] == state["ranks"]
    assert (full / "metrics.csv").read_text().count("\n") == 3


def test_torchrun_superres_shares_the_guarantees(tmp_path: Path) -> None:
    """The SR network trains through the same loop: 2 gloo ranks, 2 + resume + 2 steps == 4 steps."""
    data = write_shards(tmp_path / "data", size=16)
    write_shards(tmp_path / "data", size=32)  # the paired HR frames: same clips, same frame lists

    def cfg(steps: int) -> dict:
        c = copy.deepcopy(TINY_PARAMS)
        c["train_superres"] = dict(c["train_superres"], steps=steps, batch=2, checkpoint_every=2,
                                   keep_checkpoints=0)
        return c

    full, split = tmp_path / "full", tmp_path / "split"
    _torchrun(cfg(4), data, full, tmp_path, "superres")
    _torchrun(cfg(2), data, split, tmp_path, "superres")
    _torchrun(cfg(4), data, split, tmp_path, "superres")
    a, b = full / "checkpoints" / "ckpt-00000004", split / "checkpoints" / "ckpt-00000004"
    for name in ["G", "D", "G_ema", "optim"]:
        ta, tb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        assert all(torch.equal(ta[k], tb[k]) for k in ta), name
    state = json.loads((a / "state.json").read_text())["state"]
    assert state["world_size"] == 2 and state["ranks"][0] != state["ranks"][1]


@pytest.mark.parametrize("method", ["mocoganhd", "tats"])
def test_torchrun_two_stage_baselines_train_on_two_ranks(dataset: Path, tmp_path: Path, method: str) -> None:
    """The two-stage baselines run under torchrun too: 4 steps crossing their stage switch at step 2."""
    cfg = copy.deepcopy(TINY_PARAMS)
    cfg["baselines"][method] = dict(cfg["baselines"][method], steps=4, checkpoint_every=4, keep_checkpoints=0,
                                    batch=2, stage_split=0.5)
    out = tmp_path / method
    proc = _torchrun(cfg, dataset, out, tmp_path, method)
    assert proc.stdout.strip().splitlines() == [str(out / "G_ema.safetensors")]  # printed by rank 0 only
    state = json.loads((out / "checkpoints" / "ckpt-00000004" / "state.json").read_text())["state"]
    assert state["world_size"] == 2 and state["ranks"][0] != state["ranks"][1]
    G = load_generator(out / "G_ema.safetensors", "baseline")
    assert tuple(generate_frames(G, 0, 0, 12).shape) == (3, 12, 16, 16)


# ----------------------------------------------------------------------------------- inside each rank
def _worker(rank: int, world: int, init_file: str, dataset: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    result: dict = {}
    # gradient averaging
    p = nn.Parameter(torch.zeros(3))
    p.grad = torch.full((3,), float(rank + 1))
    q = nn.Parameter(torch.zeros(2))  # no gradient on any rank: gets zeros, layout stays aligned
    D.all_reduce_grads([p, q])
    result["grad"] = p.grad.tolist() + q.grad.tolist()
    # a diverged replica is caught on every rank
    torch.manual_seed(0)
    m = nn.Linear(2, 2)
    if rank == 1:
        with torch.no_grad():
            m.bias[0] += 1e-7
    try:
        D.assert_in_sync({"net": m})
        result["sync_error"] = None
    except LvgError as e:
        result["sync_error"] = str(e)
    # training: record who writes, and every rank's final weights
    from lvg.train import checkpoint, loop, lowres

    writes: list[str] = []
    algos: list = []
    real_save, real_csv, real_init = checkpoint.save_checkpoint, loop.MetricsLog.write_csv, lowres.LowResGAN.__init__

    def save(*a, **k):
        writes.append("checkpoint")
        return real_save(*a, **k)

    def csv(self, *a, **k):
        writes.append("metrics")
        return real_csv(self, *a, **k)

    def init(self, *a, **k):
        real_init(self, *a, **k)
        algos.append(self)

    checkpoint.save_checkpoint, loop.MetricsLog.write_csv, lowres.LowResGAN.__init__ = save, csv, init
    loop.ckpt.save_checkpoint = save
    lowres.run_train_lowres(_cfg(steps=3, checkpoint_every=2)["train_lowres"], Path(dataset), Path(out))
    result["writes"] = writes
    result["digests"] = {k: D.module_digest([m]) for k, m in algos[0].networks.items()}
    result["ema_buffer"] = float(algos[0].G.to_rgb.gain.magnitude_ema)
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    torch.distributed.destroy_process_group()


def test_ranks_stay_identical_and_only_rank0_writes(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(dataset), str(out)), nprocs=2, join=True)
    r0, r1 = (json.loads((out / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["grad"] == r1["grad"] == [1.5, 1.5, 1.5, 0.0, 0.0]
    assert r0["sync_error"] and r0["sync_error"] == r1["sync_error"]
    assert "net differs from rank 0 on rank(s) [1]" in r0["sync_error"]
    assert r0["digests"] == r1["digests"]  # G, D, G_ema (magnitude EMAs included) bit-identical
    assert r0["ema_buffer"] != 1.0
    assert r0["writes"] == ["metrics", "checkpoint", "metrics", "checkpoint"]  # steps 2 and 3 (the end)
    assert r1["writes"] == []


def test_single_process_helpers_are_no_ops() -> None:
    info = D.init_distributed("cpu")
    assert (info.rank, info.world_size, info.is_main) == (0, 1, True)
    p = nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 3.0)
    D.all_reduce_grads([p])
    assert p.grad.tolist() == [3.0, 3.0]
    assert D.all_reduce_mean({"a": 1.0}, info.device) == {"a": 1.0}
    D.assert_in_sync({"p": nn.Linear(1, 1)})
