"""Checkpoints: safetensors + JSON round trip, atomic writes, damaged ones skipped, and a SIGKILLed run
that resumes to exactly the weights of an uninterrupted one (real subprocesses, tiny 16x16 shards)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO, TINY_PARAMS
from safetensors.torch import load_file
from torch import nn

from lvg.data.shards import ShardWriter
from lvg.train import checkpoint as ck


def _model_and_opt(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))  # BatchNorm: float + int buffers
    return m, torch.optim.Adam(m.parameters(), lr=1e-2, betas=(0.0, 0.99))


def _train_a_bit(m: nn.Module, opt: torch.optim.Optimizer, steps: int = 3) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        opt.zero_grad()
        m(torch.randn(5, 4, generator=g)).square().mean().backward()
        opt.step()


def _save(d: Path, step: int, m: nn.Module, opt: torch.optim.Optimizer, keep: int = 0) -> Path:
    return ck.save_checkpoint(d, step, {"G": m}, {"G": opt}, {"hello": [1, 2.5]}, keep=keep)


def test_round_trip_is_exact_and_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m, opt = _model_and_opt()
    _train_a_bit(m, opt)
    g = torch.Generator().manual_seed(7)
    torch.randn(3, generator=g)
    path = ck.save_checkpoint(tmp_path, 3, {"G": m}, {"G": opt}, {"rng": ck.generator_state(g)})
    assert path.name == "ckpt-00000003"
    assert sorted(p.name for p in path.iterdir()) == ["G.safetensors", "optim.safetensors", "state.json"]

    def no_pickles(*a, **k):
        raise AssertionError("torch.load must not be used")

    monkeypatch.setattr(torch, "load", no_pickles)
    m2, opt2 = _model_and_opt(seed=1)
    state = ck.load_checkpoint(path, {"G": m2}, {"G": opt2})
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]  # betas come back as a tuple
    for i in s1["state"]:
        for k in s1["state"][i]:
            assert torch.equal(s1["state"][i][k], s2["state"][i][k]), (i, k)
    g2 = torch.Generator()
    ck.set_generator_state(g2, state["rng"])
    assert torch.equal(torch.randn(4, generator=g), torch.randn(4, generator=g2))
    # both continue identically
    _train_a_bit(m, opt)
    _train_a_bit(m2, opt2)
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), m2.parameters(), strict=True))


def test_latest_skips_partial_damaged_and_truncated(tmp_path: Path) -> None:
    m, opt = _model_and_opt()
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, m, opt)
    # a kill during a write leaves a hidden temp dir; a half-copied dir lacks state.json
    (tmp_path / ".ckpt-00000009.tmp-abc").mkdir()
    (tmp_path / ".ckpt-00000009.tmp-abc" / "G.safetensors").write_bytes(b"partial")
    (tmp_path / "ckpt-00000008").mkdir()
    (tmp_path / "ckpt-00000008" / "G.safetensors").write_bytes(b"x")
    # ckpt 4: one flipped byte; ckpt 3: truncated
    f4 = tmp_path / "ckpt-00000004" / "G.safetensors"
    blob = bytearray(f4.read_bytes())
    blob[-3] ^= 0xFF
    f4.write_bytes(bytes(blob))
    f3 = tmp_path / "ckpt-00000003" / "optim.safetensors"
    f3.write_bytes(f3.read_bytes()[:-10])
    assert ck.latest_checkpoint(tmp_path) == tmp_path / "ckpt-00000002"
    assert "checksum" in ck.checkpoint_problem(tmp_path / "ckpt-00000004")
    assert "truncated" in ck.checkpoint_problem(tmp_path / "ckpt-00000003")
    assert [p.name for p in ck.list_checkpoints(tmp_path, verify=True)] == ["ckpt-00000001", "ckpt-00000002"]
    assert ck.latest_checkpoint(tmp_path / "nowhere") is None


def test_keep_last_k_and_resave_replaces(tmp_path: Path) -> None:
    m, opt = _model_and_opt()
    (tmp_path / ".ckpt-00000001.tmp-stale").mkdir(parents=True)
    for step in range(1, 6):
        _save(tmp_path, step, m, opt, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000004", "ckpt-00000005"]
    _train_a_bit(m, opt)
    _save(tmp_path, 5, m, opt, keep=2)  # same step again: replaced atomically
    assert torch.equal(load_file(str(tmp_path / "ckpt-00000005" / "G.safetensors"))["0.weight"],
                       m.state_dict()["0.weight"])
    assert ck.checkpoint_problem(tmp_path / "ckpt-00000005") is None


# ------------------------------------------------------------------------------------- killed run
def write_shards(root: Path, size: int = 16, clips: int = 3, frames: int = 24) -> Path:
    """A few clips of moving colour gradients in the reference shard format (no pipeline needed)."""
    rng = np.random.default_rng(0)
    with ShardWriter(root / f"{size:04d}x{size:04d}", [f"c{i}" for i in range(clips)], 2, quality=95) as w:
        for i in range(clips):
            base = rng.integers(0, 255, 3)
            for t in range(frames):
                y = np.linspace(0, 1, size)[:, None, None]
                img = (base * (1 - y) + 255 * y * (t / frames)).astype(np.uint8)
                w.add_image(f"c{i}", np.broadcast_to(img, (size, size, 3)).copy())
    return root


KILLABLE = """
import json, os, signal, sys
import torch
torch.set_num_threads(1)
import lvg.train.checkpoint as ck
cfg, dataset, out, kill_at = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
real_save = ck.save_tensors
def save_tensors(tensors, path, metadata=None):
    if metadata and metadata.get("step") == kill_at and str(path).endswith("D.safetensors"):
        os.kill(os.getpid(), signal.SIGKILL)  # mid-write: G.safetensors of this checkpoint is on disk
    return real_save(tensors, path, metadata=metadata)
ck.save_tensors = save_tensors
from lvg.train.lowres import run_train_lowres
run_train_lowres(cfg["train_lowres"], dataset, out)
"""


def _train_cfg(**kw) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    cfg["train_lowres"] = dict(resolution="16x16", seq_length=16, batch=2, steps=8, r1_interval=3, log_every=1,
                               sample_every=0, checkpoint_every=2, keep_checkpoints=2, ema_beta=0.9,
                               ema_rampup_steps=4, **kw)
    return cfg


def _launch(cfg: dict, dataset: Path, out: Path, kill_at: int = -1) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", KILLABLE, json.dumps(cfg), str(dataset), str(out),
                             str(kill_at)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc: subprocess.Popen) -> int:
    out, err = proc.communicate(timeout=300)
    if proc.returncode not in (0, -9):
        raise AssertionError(f"training failed ({proc.returncode}):\n{out}\n{err}")
    return proc.returncode


@pytest.mark.slow
def test_sigkilled_run_resumes_exactly(tmp_path: Path) -> None:
    dataset = write_shards(tmp_path / "data")
    cfg = _train_cfg()
    full, killed = tmp_path / "full", tmp_path / "killed"
    procs = [_launch(cfg, dataset, full), _launch(cfg, dataset, killed, kill_at=6)]
    assert [_finish(p) for p in procs] == [0, -9]
    ckpts = killed / "checkpoints"
    assert [p.name for p in ck.list_checkpoints(ckpts)] == ["ckpt-00000002", "ckpt-00000004"]
    assert any(p.name.startswith(".ckpt-00000006.tmp-") for p in ckpts.iterdir())  # the interrupted write
    assert _finish(_launch(cfg, dataset, killed)) == 0  # resumes from ckpt 4

    a, b = full / "checkpoints" / "ckpt-00000008", ckpts / "ckpt-00000008"
    for name in ["G", "D", "G_ema", "optim"]:
        ta, tb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        assert ta.keys() == tb.keys()
        assert all(torch.equal(ta[k], tb[k]) for k in ta), name
        assert (a / f"{name}.safetensors").read_bytes() == (b / f"{name}.safetensors").read_bytes(), name
    sa, sb = json.loads((a / "state.json").read_text()), json.loads((b / "state.json").read_text())
    assert sa["state"]["ranks"] == sb["state"]["ranks"]  # RNG states and data position
    losses = [r.split(",")[:7] for r in (full / "metrics.csv").read_text().splitlines()]
    assert losses == [r.split(",")[:7] for r in (killed / "metrics.csv").read_text().splitlines()]
    assert len(losses) == 9
    assert not any(p.name.startswith(".") for p in ckpts.iterdir())  # leftovers cleaned at the restart
