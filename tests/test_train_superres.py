"""SR GAN training on the tiny real dataset (synthetic world -> the real Snakemake pipeline -> 16x16 + 32x32).

What is proven here: N steps == k steps + resume + N - k steps, bit for bit (weights, magnitude EMAs,
G_ema, Adam, RNG states, ADA's p and sign accumulator, loss log), with ADA active; the NaN guard of the
shared loop stops with the step named and keeps the last good checkpoint; a short run brings G_ema's
super-resolved real LR clips closer to the real HR frames (L1 and colour distance, numbers printed); the
exported generator loads through :func:`lvg.generate.load_superres`; config errors name the section.
Everything runs single-threaded (bit-exact and fast on a shared 2-core machine).
"""

from __future__ import annotations

import copy
import functools
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_PARAMS
from safetensors.torch import load_file

from lvg.augment.ada import AdaptiveP
from lvg.config import validate_config
from lvg.data.reader import PairedVideoDataset
from lvg.errors import InputError, LvgError
from lvg.superres.discriminator import SRDiscriminator
from lvg.train import checkpoint as ck
from lvg.train import superres as sr
from lvg.train.superres import SRTrainConfig, SuperResGAN, build_networks, load_generator, run_train_superres

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


def test_exact_resume_bit_for_bit(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ADA starts at p = 0.2 here (instead of 0) so that the augmentation runs from the first step
    monkeypatch.setattr(sr, "AdaptiveP", functools.partial(AdaptiveP, p=0.2))
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    run_train_superres(cfg_with(sample_every=3), dataset, run_a, resume=False)
    run_train_superres(cfg_with(steps=3), dataset, run_b)  # stop after 3 (mid log and ADA interval) ...
    run_train_superres(cfg_with(steps=6), dataset, run_b)  # ... and resume to 6
    a, b = run_a / "checkpoints" / "ckpt-00000006", run_b / "checkpoints" / "ckpt-00000006"
    for name in ["G", "D", "G_ema", "optim"]:
        ta, tb = tensors(a, name), tensors(b, name)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), (name, k)
    g = tensors(a, "G")
    ema_keys = [k for k in g if k.endswith("magnitude_ema")]
    assert ema_keys and any(float(g[k]) != 1.0 for k in ema_keys)  # G's magnitude EMAs did move
    sa, sb = json.loads((a / "state.json").read_text()), json.loads((b / "state.json").read_text())
    assert sa["state"]["ranks"] == sb["state"]["ranks"]  # RNG states, ADA state, data position
    mid = json.loads((run_b / "checkpoints" / "ckpt-00000003" / "state.json").read_text())
    ada_mid = mid["state"]["ranks"][0]["algorithm"]["ada"]
    assert ada_mid["count"] == 2.0  # step 2's real logits were pending in the open ADA interval
    p_end = sa["state"]["ranks"][0]["algorithm"]["ada"]["p"]
    assert p_end != 0.2 and abs(p_end - 0.2) < 3 * 0.05 + 1e-9  # p moved, at most once per 2 steps
    assert len({float(r[7]) for r in loss_rows(run_a)[1:]}) > 1  # ada_p is logged (interval mean)
    assert loss_rows(run_a) == loss_rows(run_b)
    assert loss_rows(run_a)[0] == ["step", "kimg", "loss_G", "loss_D", "r1_penalty", "logits_real",
                                   "logits_fake", "ada_p"]
    assert len(loss_rows(run_a)) == 4  # header + steps 2, 4, 6
    for name in ["G_ema.safetensors"]:
        ea, eb = load_file(str(run_a / name)), load_file(str(run_b / name))
        assert all(torch.equal(ea[k], eb[k]) for k in ea)
    meta = json.loads((run_a / "G_ema.json").read_text())
    assert meta["model"] == "superres.SRGenerator" and meta["generator"]["hr_height"] == 32
    from lvg.generate import load_superres

    G = load_superres(run_a)
    assert G(torch.zeros(1, 3, 12, 16, 16), torch.zeros(1, G.cfg.z_dim)).shape == (1, 3, 4, 32, 32)
    assert (run_a / "samples" / "step-00000006.mp4").is_file()
    with pytest.raises(LvgError, match="already holds checkpoints"):
        run_train_superres(cfg_with(), dataset, run_a, resume=False)


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
        run_train_superres(cfg_with(), dataset, run)
    assert "ckpt-00000003" in str(err.value)
    ckpts = run / "checkpoints"
    assert [p.name for p in ckpts.iterdir()] == ["ckpt-00000003"]
    assert ck.checkpoint_problem(ckpts / "ckpt-00000003") is None
    monkeypatch.undo()
    run_train_superres(cfg_with(), dataset, run)  # resumes from ckpt 3 and finishes
    assert [p.name for p in ck.list_checkpoints(ckpts)] == ["ckpt-00000003", "ckpt-00000006"]
    rows = loss_rows(run)
    assert [r[0] for r in rows] == ["step", "2", "4", "6"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r[2:4])


def colour_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Distance between per-channel means and stds over all pixels of two clip sets."""
    fa, fb = a.transpose(0, 1).reshape(3, -1), b.transpose(0, 1).reshape(3, -1)
    return float((fa.mean(1) - fb.mean(1)).abs().sum() + (fa.std(1) - fb.std(1)).abs().sum())


def test_training_brings_sr_output_towards_real_hr(dataset: Path, tmp_path: Path) -> None:
    cfg = cfg_with(steps=STEPS, batch=2, r1_interval=16, log_every=10, checkpoint_every=0, ema_rampup_steps=0,
                   ada_adjust=0.0005, ada_interval=4)
    out = run_train_superres(cfg, dataset, tmp_path / "run")
    data = PairedVideoDataset(dataset, (16, 16), (32, 32), 12)
    lr, hr = sr._sample_clips(data, len(data))
    hr = hr[:, :, 4:8]
    tc = SRTrainConfig.from_dict(validate_config(copy.deepcopy(cfg))["train_superres"])
    untrained, _ = build_networks(tc)
    trained = load_generator(out)  # G_ema
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
    run_train_superres(cfg_with(steps=2, bf16=True, checkpoint_every=0), dataset, tmp_path / "run")
    row = loss_rows(tmp_path / "run")[-1]
    assert row[0] == "2" and all(math.isfinite(float(v)) for v in row[2:8])


def test_config_errors_name_the_key(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="train_superres.generator"):
        run_train_superres(cfg_with(generator={"no_such_field": 1}), dataset, tmp_path / "a")
    with pytest.raises(InputError, match="train_superres"):
        run_train_superres(cfg_with(learning_rate=1), dataset, tmp_path / "b")
    with pytest.raises(LvgError, match="batch"):
        SuperResGAN(SRTrainConfig.from_dict(validate_config(cfg_with(batch=3))["train_superres"]),
                    info=_two_ranks())


def _two_ranks():
    from lvg.train.distributed import DistInfo

    return DistInfo(rank=0, world_size=2)
