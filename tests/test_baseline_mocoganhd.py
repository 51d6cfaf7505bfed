"""MoCoGAN-HD-lite (lvg/baselines/mocoganhd.py): a frozen image generator driven by a motion LSTM.

Proven here: the recurrence is a pure function of its seed (the same seed gives the same video, another seed
another one, the noise of step t depends on (seed, t) only); any window of a long video equals the same
slice of a longer call, far beyond the training clip length and across noise blocks; the batched training
path and the streaming generation path give the same styles; the motion never leaves the PCA span
(w_t - w_0 in span(pca_basis)); stage 1 trains only the image GAN and stage 2 only the motion generator and
the discriminators, with the image generator frozen (copied from G_ema, PCA stored in G and G_ema);
N steps == k steps + resume + N - k steps bit for bit across the stage boundary; the exported generator
renders exactly what the in-memory G_ema renders. Everything runs single-threaded at 16x16.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import TINY_PARAMS, assert_same_run, section

from lvg.baselines.common import BaselineTrainConfig, FrameTupleDataset, generate_frames
from lvg.baselines.mocoganhd import (
    NOISE_CHUNK,
    MoCoGANHD,
    MoCoGANHDConfig,
    MoCoGANHDGenerator,
    step_noise,
)
from lvg.baselines.styleganv import content_code
from lvg.baselines.train import run_train_baseline
from lvg.config import validate_config
from lvg.data.reader import VideoDataset
from lvg.errors import InputError
from lvg.models import load_generator
from lvg.train.loop import BatchSource

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


def cfg_with(**train) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    base = dict(resolution="16x16", batch=2, steps=6, r1_interval=2, log_every=2, sample_every=0,
                checkpoint_every=2, keep_checkpoints=0, ema_beta=0.9, ema_rampup_steps=2,
                generator={"pca_samples": 256})
    cfg["baselines"] = {"mocoganhd": base | train}
    return cfg


def train_config(cfg: dict) -> BaselineTrainConfig:
    return BaselineTrainConfig.from_dict(validate_config(copy.deepcopy(cfg))["baselines"]["mocoganhd"], "mocoganhd")


@pytest.fixture(scope="module")
def G() -> MoCoGANHDGenerator:
    torch.manual_seed(0)
    G = MoCoGANHDGenerator(MoCoGANHDConfig.preset("tiny", height=16, width=16, pca_samples=512)).eval()
    G.compute_pca()
    return G


# ---------------------------------------------------------------------------------------------- generator
def test_recurrence_is_deterministic_given_its_seed(G: MoCoGANHDGenerator) -> None:
    a = generate_frames(G, 3, 0, 20)
    assert a.shape == (3, 20, 16, 16) and torch.isfinite(a).all()
    assert torch.equal(a, generate_frames(G, 3, 0, 20))  # same seed, same video (no global RNG involved)
    torch.manual_seed(123)
    assert torch.equal(a, generate_frames(G, 3, 0, 20))
    b = generate_frames(G, 4, 0, 20)
    assert not torch.allclose(a[:, 0], b[:, 0]) and not torch.allclose(a[:, 10], b[:, 10])  # another video
    assert (a[:, 0] - a[:, 19]).abs().max() > 1e-3  # the video moves
    # the noise of step t is a pure function of (seed, t), whatever window is drawn
    d = G.cfg.noise_dim
    full = step_noise(3, 0, 3 * NOISE_CHUNK, d)
    assert torch.equal(step_noise(3, 50, 140, d), full[50:140])
    assert not torch.equal(step_noise(4, 0, 10, d), full[:10])


def test_any_window_equals_the_slice_of_a_longer_call(G: MoCoGANHDGenerator) -> None:
    n = 2 * NOISE_CHUNK + 20  # far beyond the 8-frame training clips, across noise blocks
    long = generate_frames(G, 5, 0, n)
    for t0, k in [(0, 1), (3, 5), (NOISE_CHUNK - 2, 5), (120, n - 120)]:
        assert torch.allclose(generate_frames(G, 5, t0, k), long[:, t0:t0 + k], atol=1e-5), (t0, k)
    # the render chunk size is irrelevant too
    assert torch.allclose(G.frames(5, 0, n, chunk=7).clamp(-1, 1), long, atol=1e-5)


def test_training_and_generation_paths_agree(G: MoCoGANHDGenerator) -> None:
    cfg = G.cfg
    z = content_code(9, cfg.z_dim)[None]
    noise = step_noise(9, 1, 30, cfg.noise_dim)[None]  # steps 1 .. 29
    with torch.no_grad():
        batched = G.trajectory(z, noise)[0]
        video = G(z, noise)[0]
    streamed = torch.cat([ws for _, ws in G.styles(9, 0, 30, chunk=11)])
    assert torch.allclose(batched, streamed, atol=1e-6)
    assert torch.allclose(video.clamp(-1, 1), generate_frames(G, 9, 0, 30), atol=1e-5)


@pytest.mark.parametrize("cumulative", [False, True])
def test_motion_stays_in_the_pca_span(G: MoCoGANHDGenerator, cumulative: bool) -> None:
    if cumulative:  # same weights, w_t = w_{t-1} + residual_t
        G2 = MoCoGANHDGenerator(dataclasses.replace(G.cfg, cumulative=True)).eval()
        G2.load_state_dict(G.state_dict())
        assert torch.allclose(generate_frames(G2, 2, 60, 10), generate_frames(G2, 2, 0, 70)[:, 60:], atol=1e-5)
        G = G2
    basis = G.pca_basis.double()
    assert basis.shape == (G.cfg.pca_dim, G.cfg.w_dim) and G.cfg.pca_dim < G.cfg.w_dim
    assert torch.allclose(basis @ basis.T, torch.eye(G.cfg.pca_dim, dtype=torch.float64), atol=1e-5)
    ws = torch.cat([w for _, w in G.styles(2, 0, 100)]).double()
    with torch.no_grad():
        assert torch.equal(ws[0].float(), G.mapping(content_code(2, G.cfg.z_dim)[None])[0])  # starts at w_0
    delta = ws[1:] - ws[0]
    outside = delta - delta @ basis.T @ basis
    assert delta.norm(dim=1).min() > 1e-3  # it moves ...
    assert (outside.norm(dim=1) / delta.norm(dim=1)).max() < 1e-5  # ... only within the span
    # the span is the top of W's spectrum: it holds most of the mapped w's variance
    with torch.no_grad():
        w = G.mapping(torch.randn(2000, G.cfg.z_dim, generator=torch.Generator().manual_seed(1))).double()
    c = w - G.pca_mean.double()
    assert (c @ basis.T).square().sum() > 0.8 * c.square().sum()


# ---------------------------------------------------------------------------------------------- training
def test_stages_freeze_export_and_load(tiny_dataset: Path, tmp_path: Path) -> None:
    tc = train_config(cfg_with(r1_interval=4))
    algo = MoCoGANHD(tc)
    assert algo.num_frames == 8 and algo.data_max_gap == 1 and algo.stage1_steps == 3
    base = VideoDataset(tiny_dataset, 16, 16, 1, min_length=3, seed=1)
    batches = BatchSource(FrameTupleDataset(base, algo.num_frames, algo.data_max_gap), algo.micro_batch, 1)

    def snap(m: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in m.state_dict().items()}

    image0, motion0, video_d0 = snap(algo.G.image), snap(algo.G.motion), snap(algo.D.video_trunk)
    stages = [algo.train_step(s, batches)["stage"] for s in range(3)]
    assert stages == [1.0, 1.0, 1.0] and not bool(algo.G.pca_ready)
    assert any(not torch.equal(image0[k], v) for k, v in algo.G.image.state_dict().items())  # image GAN trains
    assert all(torch.equal(motion0[k], v) for k, v in algo.G.motion.state_dict().items())  # motion does not
    assert all(torch.equal(video_d0[k], v) for k, v in algo.D.video_trunk.state_dict().items())
    ema_image = snap(algo.G_ema.image)
    motion1 = snap(algo.G.motion)
    stages = [algo.train_step(s, batches)["stage"] for s in range(3, 6)]
    assert stages == [2.0, 2.0, 2.0] and bool(algo.G.pca_ready) and bool(algo.G_ema.pca_ready)
    # stage 2: G's image generator became G_ema's and stayed frozen (in both), the motion trained
    for m in (algo.G.image, algo.G_ema.image):
        assert all(torch.equal(ema_image[k], v) for k, v in m.state_dict().items())
    assert any(not torch.equal(motion1[k], v) for k, v in algo.G.motion.state_dict().items())
    assert any(not torch.equal(video_d0[k], v) for k, v in algo.D.video_trunk.state_dict().items())
    for name in ("pca_mean", "pca_basis", "pca_std"):
        assert torch.equal(getattr(algo.G, name), getattr(algo.G_ema, name))
    # export -> load_generator renders exactly what the in-memory G_ema renders, any window
    path = algo.export(tmp_path, 6)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["model"] == "baselines.mocoganhd" and meta["stage"] == 2 and meta["generator"]["pca_dim"] == 32
    loaded = load_generator(path, "baseline")
    assert loaded.method == "mocoganhd" and bool(loaded.pca_ready)
    for t0, n in [(0, 12), (70, 4)]:
        assert torch.equal(generate_frames(loaded, 1, t0, n), generate_frames(algo.G_ema, 1, t0, n))
    assert torch.equal(loaded.pca_basis, algo.G_ema.pca_basis)
    assert algo.sample_video().shape[0] == 32


def test_exact_resume_across_the_stage_boundary(tiny_dataset: Path, tmp_path: Path) -> None:
    run_a, run_b, run_c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    out = run_train_baseline("mocoganhd", section(cfg_with(), "baselines", "mocoganhd"), tiny_dataset, run_a, resume=False)  # stage 2 from step 3
    assert json.loads(out.with_suffix(".json").read_text())["stage"] == 2
    stage_col = [r.split(",")[2] for r in (run_a / "metrics.csv").read_text().splitlines()[1:]]
    assert [float(s) for s in stage_col] == [1.0, 1.5, 2.0]  # means over steps (0, 1), (2, 3), (4, 5)
    # a run killed after step 2 (stage 1) and resumed crosses the boundary exactly like the uninterrupted one
    shutil.copytree(run_a, run_b)
    for p in [run_b / "checkpoints" / "ckpt-00000004", run_b / "checkpoints" / "ckpt-00000006"]:
        shutil.rmtree(p)
    (run_b / "G_ema.safetensors").unlink()
    run_train_baseline("mocoganhd", section(cfg_with(), "baselines", "mocoganhd"), tiny_dataset, run_b)
    assert_same_run(run_a, run_b, 6, columns=10)
    # k steps + resume with more steps: stage 2 began at step round(0.2 * 4) = round(0.2 * 6) = 1 in both
    cfg = cfg_with(stage_split=0.2, checkpoint_every=0)
    run_train_baseline("mocoganhd", section(cfg_with(stage_split=0.2, checkpoint_every=0, steps=4), "baselines", "mocoganhd"), tiny_dataset, run_c)
    run_train_baseline("mocoganhd", section(cfg, "baselines", "mocoganhd"), tiny_dataset, run_c)
    run_d = tmp_path / "d"
    run_train_baseline("mocoganhd", section(cfg, "baselines", "mocoganhd"), tiny_dataset, run_d)
    assert_same_run(run_c, run_d, 6, columns=10)


def test_config_errors(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="baselines.mocoganhd: .*no_such"):
        run_train_baseline("mocoganhd", section(cfg_with(generator={"no_such": 1}), "baselines", "mocoganhd"), tiny_dataset, tmp_path / "a")
    with pytest.raises(InputError, match="baselines.mocoganhd: .*unexpected"):
        run_train_baseline("mocoganhd", section(cfg_with(discriminator={"bogus": 2}), "baselines", "mocoganhd"), tiny_dataset, tmp_path / "b")
    with pytest.raises(InputError, match="baselines.mocoganhd: pca_dim"):
        run_train_baseline("mocoganhd", section(cfg_with(generator={"pca_dim": 1000}), "baselines", "mocoganhd"), tiny_dataset, tmp_path / "c")
    with pytest.raises(InputError, match="baselines.mocoganhd: video_downsample"):
        run_train_baseline("mocoganhd", section(cfg_with(discriminator={"video_downsample": 8}), "baselines", "mocoganhd"), tiny_dataset,
                           tmp_path / "d")
