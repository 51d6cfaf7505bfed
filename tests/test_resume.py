"""Exact resume, for every model trained through the shared loop: N steps in one run equal k steps, a
stop, and a resumed run to N, bit for bit (weights, optimizer states, every random stream, the data
position, the logged losses). The two-stage baselines (MoCoGAN-HD, TATS) also resume across their stage
switch: tests/test_baseline_mocoganhd.py and tests/test_baseline_tats.py, with the same comparison.

Each case also checks what its run must contain beyond that (the magnitude EMAs moved, ADA's state is in
the checkpoint, samples are videos, the export loads without the training code).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from helpers import assert_same_run
from safetensors.torch import load_file

from lvg.augment.ada import AdaptiveP
from lvg.baselines.common import generate_frames
from lvg.baselines.train import run_train_baseline
from lvg.data.video import probe
from lvg.errors import LvgError
from lvg.models import load_generator
from lvg.train import superres as sr
from lvg.train.lowres import run_train_lowres
from lvg.train.superres import run_train_superres

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

COMMON = dict(batch=2, steps=6, r1_interval=2, log_every=2, sample_every=0, checkpoint_every=3, keep_checkpoints=0,
              ema_beta=0.9, ema_rampup_steps=4)
SECTIONS = {
    "lowres": COMMON | dict(resolution="16x16", seq_length=16),
    "superres": COMMON | dict(lr_resolution="16x16", hr_resolution="32x32", ada_interval=2, ada_adjust=0.05,
                              sample_clips=1),
    "styleganv": COMMON | dict(resolution="16x16", max_gap=4),
    "digan": COMMON | dict(resolution="16x16", max_gap=4),
}
COLUMNS = {"lowres": 7, "superres": 8, "styleganv": 7, "digan": 7}  # step, kimg and the losses


def train(model: str, out: Path, dataset: Path, resume: bool = True, **overrides) -> Path:
    section = copy.deepcopy(SECTIONS[model]) | overrides
    if model == "lowres":
        return run_train_lowres(section, dataset, out, resume)
    if model == "superres":
        return run_train_superres(section, dataset, out, resume)
    return run_train_baseline(model, section, dataset, out, resume)


def tensors(run: Path, step: int, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"ckpt-{step:08d}" / f"{name}.safetensors"))


def header(run: Path) -> list[str]:
    return (run / "metrics.csv").read_text().splitlines()[0].split(",")


def check_lowres(a: Path, b: Path, dataset: Path) -> None:
    g = tensors(a, 6, "G")
    ema_keys = [k for k in g if k.endswith("magnitude_ema")]
    assert ema_keys and any(float(g[k]) != 1.0 for k in ema_keys)  # the magnitude EMAs did move
    assert any(k.startswith("D/") for k in tensors(a, 6, "optim"))
    assert header(a)[:7] == ["step", "kimg", "loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake"]
    assert len((a / "metrics.csv").read_text().splitlines()) == 4  # header + steps 2, 4, 6
    # the exported generator loads without the training code, samples are real videos
    G = load_generator(a / "G_ema.safetensors", "lowres")
    assert G(seeds=[0], num_frames=8).shape == (1, 3, 8, 16, 16)
    assert probe(a / "samples" / "step-00000006.mp4", count=True).num_frames == 64
    assert (a / "samples" / "step-00000000.mp4").is_file()
    assert (a / "config.yaml").is_file()
    assert json.loads((a / "config.json").read_text())["generator"]["height"] == 16
    with pytest.raises(LvgError, match="already holds checkpoints"):
        train("lowres", a, dataset, resume=False)


def check_superres(a: Path, b: Path, dataset: Path) -> None:
    g = tensors(a, 6, "G")
    ema_keys = [k for k in g if k.endswith("magnitude_ema")]
    assert ema_keys and any(float(g[k]) != 1.0 for k in ema_keys)  # G's magnitude EMAs did move
    sa = json.loads((a / "checkpoints" / "ckpt-00000006" / "state.json").read_text())
    mid = json.loads((b / "checkpoints" / "ckpt-00000003" / "state.json").read_text())
    assert mid["state"]["ranks"][0]["algorithm"]["ada"]["count"] == 2.0  # step 2's logits pending in ADA
    p_end = sa["state"]["ranks"][0]["algorithm"]["ada"]["p"]
    assert p_end != 0.2 and abs(p_end - 0.2) < 3 * 0.05 + 1e-9  # p moved, at most once per 2 steps
    rows = (a / "metrics.csv").read_text().splitlines()
    assert len({float(r.split(",")[7]) for r in rows[1:]}) > 1  # ada_p is logged (interval mean)
    assert header(a)[:8] == ["step", "kimg", "loss_G", "loss_D", "r1_penalty", "logits_real", "logits_fake",
                             "ada_p"]
    assert len(rows) == 4  # header + steps 2, 4, 6
    meta = json.loads((a / "G_ema.json").read_text())
    assert meta["model"] == "superres.SRGenerator" and meta["generator"]["hr_height"] == 32
    G = load_generator(a, "superres")
    assert G(torch.zeros(1, 3, 12, 16, 16), torch.zeros(1, G.cfg.z_dim)).shape == (1, 3, 4, 32, 32)
    assert (a / "samples" / "step-00000006.mp4").is_file()
    with pytest.raises(LvgError, match="already holds checkpoints"):
        train("superres", a, dataset, resume=False)


def check_baseline(method: str, t0: int, n: int) -> Callable[[Path, Path, Path], None]:
    def check(a: Path, b: Path, dataset: Path) -> None:
        assert len((a / "metrics.csv").read_text().splitlines()) == 4
        meta = json.loads((a / "G_ema.json").read_text())
        assert meta["model"] == f"baselines.{method}" and meta["generator"]["height"] == 16
        G = load_generator(a / "G_ema.safetensors", "baseline")
        assert G.method == method
        assert generate_frames(G, 0, t0, n).shape == (3, n, 16, 16)  # far beyond the training clips
        assert (a / "samples" / "step-00000006.mp4").is_file()
    return check


CHECKS = {"lowres": check_lowres, "superres": check_superres, "styleganv": check_baseline("styleganv", 5000, 8),
          "digan": check_baseline("digan", 1000, 5)}


@pytest.mark.parametrize("model", list(SECTIONS))
def test_exact_resume_bit_for_bit(model: str, tiny_dataset: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if model == "superres":  # ADA starts at p = 0.2 (instead of 0) so that the augmentation runs from step 0
        monkeypatch.setattr(sr, "AdaptiveP", functools.partial(AdaptiveP, p=0.2))
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    train(model, run_a, tiny_dataset, resume=False, sample_every=3)  # samples use no training randomness
    train(model, run_b, tiny_dataset, steps=3)  # stop after 3 (mid log interval) ...
    train(model, run_b, tiny_dataset, steps=6)  # ... and resume to 6
    assert_same_run(run_a, run_b, 6, columns=COLUMNS[model])
    CHECKS[model](run_a, run_b, tiny_dataset)
