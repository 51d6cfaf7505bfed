"""LR GAN training on the tiny real dataset (synthetic world -> the real Snakemake pipeline -> 16x16 shards).

What is proven here: N steps == k steps + resume + N - k steps, bit for bit (weights, magnitude EMAs,
G_ema, Adam, RNG states, loss log); the NaN guard stops with the step named and keeps the last good
checkpoint; a short run moves the colour distribution towards the data; the ablation knobs (clip length,
filter footprint), bf16 and the config checks work. Everything runs single-threaded (bit-exact and fast
on a shared 2-core machine).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
from helpers import TINY_PARAMS, section
from safetensors.torch import load_file

from lvg.config import validate_config
from lvg.data.reader import VideoDataset
from lvg.errors import InputError, LvgError
from lvg.lowres.discriminator import LowResDiscriminator
from lvg.models import load_generator
from lvg.train import checkpoint as ck
from lvg.train.ema import ema_beta, half_life, make_ema, update_ema
from lvg.train.lowres import LowResGAN, LowResTrainConfig, build_networks, run_train_lowres

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tiny_dataset: Path) -> Path:
    return tiny_dataset


def cfg_with(**train) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    base = dict(resolution="16x16", seq_length=16, batch=2, steps=6, r1_interval=2, log_every=2,
                sample_every=0, checkpoint_every=3, keep_checkpoints=0, ema_beta=0.9, ema_rampup_steps=4)
    cfg["train_lowres"] = base | train
    return cfg


def tensors(ckpt_dir: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(ckpt_dir / f"{name}.safetensors"))


def loss_rows(run: Path) -> list[list[str]]:
    return [r.split(",")[:7] for r in (run / "metrics.csv").read_text().splitlines()]


def test_nan_guard_names_the_step_and_keeps_the_last_good_checkpoint(
        dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    current = {"step": -1}
    real_step, real_forward = LowResGAN.train_step, LowResDiscriminator.forward

    def train_step(self, step, batches):
        current["step"] = step
        return real_step(self, step, batches)

    def poisoned(self, video):
        out = real_forward(self, video)
        return out * float("nan") if current["step"] == 4 else out

    monkeypatch.setattr(LowResGAN, "train_step", train_step)
    monkeypatch.setattr(LowResDiscriminator, "forward", poisoned)
    run = tmp_path / "run"
    with pytest.raises(LvgError, match=r"non-finite loss at step 4: loss_G = nan") as err:
        run_train_lowres(section(cfg_with(), "train_lowres"), dataset, run)
    assert "ckpt-00000003" in str(err.value)
    ckpts = run / "checkpoints"
    assert [p.name for p in ckpts.iterdir()] == ["ckpt-00000003"]
    assert ck.checkpoint_problem(ckpts / "ckpt-00000003") is None
    assert [r[0] for r in loss_rows(run)] == ["step", "2", "4"]  # steps 0-3 completed and were logged
    monkeypatch.undo()
    run_train_lowres(section(cfg_with(), "train_lowres"), dataset, run)  # resumes from ckpt 3 and finishes
    assert [p.name for p in ck.list_checkpoints(ckpts)] == ["ckpt-00000003", "ckpt-00000006"]
    rows = loss_rows(run)
    assert [r[0] for r in rows] == ["step", "2", "4", "6"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r[2:4])


def colour_frechet_distance(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the RGB values of all pixels of two clip sets.

    The colour analogue of FID/FVD: |mu_f - mu_r|^2 + tr(S_f + S_r - 2 (S_f S_r)^1/2). The untrained
    generator outputs near-constant grey (distance ~ the data's colour variance); training must match
    both the mean colour and its spread.
    """
    import numpy as np
    import scipy.linalg

    def fit(v: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        x = v.clamp(-1, 1).transpose(0, 1).reshape(3, -1).double().numpy()
        return x.mean(axis=1), np.cov(x)

    (mf, sf), (mr, sr) = fit(fake), fit(real)
    return float(((mf - mr) ** 2).sum() + np.trace(sf + sr - 2 * scipy.linalg.sqrtm(sf @ sr).real))


@pytest.mark.slow
def test_training_learns_the_colour_distribution(dataset: Path, tmp_path: Path) -> None:
    cfg = cfg_with(steps=80, batch=4, r1_interval=16, log_every=10, checkpoint_every=0, ema_rampup_steps=0)
    out = run_train_lowres(section(cfg, "train_lowres"), dataset, tmp_path / "run")
    data = VideoDataset(dataset, 16, 16, 16)
    real = torch.stack([data.read_window(c, (data.num_frames(c) - 16) // 2) for c in range(len(data))])
    tc = LowResTrainConfig.from_dict(validate_config(copy.deepcopy(cfg))["train_lowres"])
    untrained, _ = build_networks(tc)
    trained = load_generator(out, "lowres")  # G_ema
    seeds = list(range(8))
    with torch.no_grad():
        before = colour_frechet_distance(untrained(seeds, num_frames=16), real)
        after = colour_frechet_distance(trained(seeds, num_frames=16), real)
    print(f"colour Frechet distance: untrained {before:.3f}, trained {after:.3f}")
    assert after < 0.75 * before, (before, after)


@pytest.mark.parametrize("seq_length, footprint", [(8, [4, 64]), (32, [16, 512])])
def test_ablation_variants_train(dataset: Path, tmp_path: Path, seq_length: int, footprint: list[int]) -> None:
    out = run_train_lowres(section(cfg_with(steps=2, seq_length=seq_length, footprint=footprint, checkpoint_every=0), "train_lowres"),
                           dataset, tmp_path / "run")
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["generator"]["seq_length"] == seq_length
    assert [meta["generator"]["min_footprint"], meta["generator"]["max_footprint"]] == footprint
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert resolved["discriminator"]["seq_length"] == seq_length
    assert len(loss_rows(tmp_path / "run")) == 2


def test_bf16_and_grad_accum_steps_are_finite(dataset: Path, tmp_path: Path) -> None:
    run_train_lowres(section(cfg_with(steps=2, bf16=True, grad_accum=2, checkpoint_every=0), "train_lowres"), dataset, tmp_path / "run")
    row = loss_rows(tmp_path / "run")[-1]
    assert row[0] == "2" and all(math.isfinite(float(v)) for v in row[2:4] + row[5:7])


def test_config_errors_name_the_key(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="train_lowres.generator"):
        run_train_lowres(section(cfg_with(generator={"no_such_field": 1}), "train_lowres"), dataset, tmp_path / "a")
    with pytest.raises(InputError, match="train_lowres"):
        run_train_lowres(section(cfg_with(learning_rate=1), "train_lowres"), dataset, tmp_path / "b")
    with pytest.raises(LvgError, match="grad_accum"):
        run_train_lowres(section(cfg_with(batch=3, grad_accum=2), "train_lowres"), dataset, tmp_path / "c")


def test_ema_warmup_and_buffers() -> None:
    assert ema_beta(0, 0.99985, 25000) == pytest.approx(0.0236, abs=5e-4)  # spec: ~0.023 at step 0
    assert ema_beta(25000, 0.99985, 25000) == pytest.approx(0.99985)
    assert half_life(0.99985) == pytest.approx(4620.6, abs=0.5)
    assert ema_beta(10, 0.9, 0) == 0.9
    G, _ = build_networks(LowResTrainConfig.from_dict(validate_config(cfg_with())["train_lowres"]))
    ema = make_ema(G)
    with torch.no_grad():
        G.const.add_(1.0)
        G.to_rgb.gain.magnitude_ema.fill_(3.0)
    update_ema(ema, G, 0.75)
    assert torch.allclose(ema.const, G.const - 0.75)
    assert float(ema.to_rgb.gain.magnitude_ema) == pytest.approx(1.5)  # buffers are averaged too


def test_changed_settings_start_over_instead_of_resuming(dataset: Path, tmp_path: Path) -> None:
    """A pipeline rerun after a config change must not continue the old run (more steps does continue)."""
    run = tmp_path / "run"
    run_train_lowres(section(cfg_with(steps=3), "train_lowres"), dataset, run)
    run_train_lowres(section(cfg_with(steps=4), "train_lowres"), dataset, run)  # schedule change: resumes
    assert json.loads((run / "checkpoints/ckpt-00000004/state.json").read_text())["state"]["metrics"]
    assert not (run / "checkpoints.superseded").exists()
    run_train_lowres(section(cfg_with(steps=4, lr_g=0.001), "train_lowres"), dataset, run)  # a setting changed: starts over
    assert (run / "checkpoints.superseded/ckpt-00000004").is_dir()
    fresh = ck.list_checkpoints(run / "checkpoints")
    assert [p.name for p in fresh] == ["ckpt-00000003", "ckpt-00000004"]
