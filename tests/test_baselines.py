"""StyleGAN-V-lite and DIGAN-lite (lvg/baselines): their generators, and their training through the shared loop.

Proven here: one content code per video (shared by every frame, independent of the motion noise); any
integer t renders alone as inside a batch (to 1e-5: conv summation order), far beyond the training length too; motion-code
smoothing is deterministic, local (no padding, kernel 11 twice) and linearly interpolated between anchors;
N steps == k steps + resume + N - k steps bit for bit; a short run on the tiny real dataset moves the colour
distribution towards the data. DIGAN-lite: any (x, y, t) renders, off the pixel grid and for t beyond the
training [0, 1]; exact resume; colours move towards the data. Everything runs single-threaded.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_PARAMS, section

from lvg.baselines.common import BaselineTrainConfig, FrameTupleDataset, generate_frames
from lvg.baselines.styleganv import (
    MOTION_CONTEXT,
    StyleGANVConfig,
    StyleGANVGenerator,
    content_code,
    motion_codes,
)
from lvg.baselines.styleganv import build as build_styleganv
from lvg.baselines.train import run_train_baseline
from lvg.config import validate_config
from lvg.data.reader import VideoDataset
from lvg.errors import LvgError
from lvg.models import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dataset(tiny_dataset: Path) -> Path:
    return tiny_dataset


@pytest.fixture(scope="module")
def G() -> StyleGANVGenerator:
    torch.manual_seed(0)
    return StyleGANVGenerator(StyleGANVConfig.preset("tiny", height=16, width=16, motion_z_distance=4)).eval()


def cfg_with(**train) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    base = dict(resolution="16x16", batch=2, steps=6, r1_interval=2, log_every=2, sample_every=0,
                checkpoint_every=3, keep_checkpoints=0, ema_beta=0.9, ema_rampup_steps=4, max_gap=4)
    cfg["baselines"] = {"styleganv": base | train}
    return cfg


# ---------------------------------------------------------------------------------------------- generator
def test_content_code_is_one_per_video_and_shared_by_every_frame(G: StyleGANVGenerator,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = G.cfg
    z = content_code(7, cfg.z_dim)[None].repeat(2, 1)  # same content seed, two motion seeds
    motion = torch.stack([motion_codes(s, 0, 40, cfg.motion_dim) for s in (1, 2)])
    phase = torch.randn(2, cfg.time_dim // 2, generator=torch.Generator().manual_seed(3))
    times = torch.tensor([[0, 5, 60], [0, 5, 60]])
    seen = []
    real = G.synthesize
    monkeypatch.setattr(G, "synthesize", lambda w, feats: seen.append(w) or real(w, feats))
    with torch.no_grad():
        video = G(z, motion, phase, times)
    (w,) = seen
    assert w.shape == (2, cfg.w_dim)  # one code per video, no time axis: every frame gets the same content
    assert torch.equal(w[0], w[1])  # motion noise does not reach the content path
    assert torch.equal(w, G.map_content(z))
    assert not torch.allclose(video[0], video[1])  # ... yet the motion does change the frames
    # frames t and t' of one video: the same content style, only the time features differ
    with torch.no_grad():
        feats = G.time_features(motion, phase, times)
        for i in range(3):
            frame = real(w, feats[:, i:i + 1])
            assert torch.allclose(frame[:, :, 0], video[:, :, i], atol=1e-5)
        assert not torch.allclose(feats[:, 0], feats[:, 2])


def test_any_frame_index_renders_alone_as_in_a_batch(G: StyleGANVGenerator) -> None:
    times = [0, 1, 17, 63, 10**6, 10**9 + 3]
    batch = G.render(5, times)
    assert batch.shape == (3, len(times), 16, 16) and torch.isfinite(batch).all()
    for i, t in enumerate(times):
        alone = G.render(5, [t])[:, 0]
        assert torch.allclose(alone, batch[:, i], atol=1e-5), t
    # long videos: any window of generate_frames is the same slice of a longer call, far beyond training
    long = generate_frames(G, 5, 10**6, 100)
    assert long.shape == (3, 100, 16, 16) and torch.isfinite(long).all()
    assert torch.allclose(generate_frames(G, 5, 10**6 + 40, 10), long[:, 40:50], atol=1e-5)
    assert not torch.allclose(long[:, 0], long[:, 99])  # the video moves
    assert not torch.allclose(G.render(6, [0]), G.render(5, [0]))  # another seed, another video


def test_motion_smoothing_is_deterministic_local_and_interpolated(G: StyleGANVGenerator) -> None:
    d = G.cfg.motion_dim
    codes = motion_codes(3, 0, 40, d)
    assert torch.equal(codes, motion_codes(3, 0, 40, d))
    assert torch.equal(codes[:, 10:25], motion_codes(3, 10, 25, d))  # code k depends on (seed, k) only
    with torch.no_grad():
        s = G.smooth_motion(codes[None])
        assert s.shape == (1, d, 40 - MOTION_CONTEXT)  # two kernel-11 convs, no padding
        assert torch.equal(s, G.smooth_motion(codes[None]))
        bumped = codes.clone()
        bumped[:, 5 + MOTION_CONTEXT + 1] += 1.0
        s2 = G.smooth_motion(bumped[None])
        assert torch.equal(s[..., :6], s2[..., :6])  # anchor k sees codes k .. k + 20 only
        assert not torch.allclose(s[..., 6], s2[..., 6])
        dist = G.cfg.motion_z_distance
        m = G.motion_at(codes[None], torch.tensor([[3 * dist, 3 * dist + dist // 2, 4 * dist]]))
        assert torch.allclose(m[0, 0], s[0, :, 3], atol=1e-6) and torch.allclose(m[0, 2], s[0, :, 4], atol=1e-6)
        assert torch.allclose(m[0, 1], (s[0, :, 3] + s[0, :, 4]) / 2, atol=1e-6)
        # an offset window of codes gives the same motion
        m_off = G.motion_at(codes[None, :, 2:], torch.tensor([[3 * dist, 4 * dist]]), motion_offset=2)
        assert torch.allclose(m_off[0], m[0, [0, 2]], atol=1e-6)
        with pytest.raises(ValueError, match="motion codes cover"):
            G.motion_at(codes[None], torch.tensor([[100 * dist]]))


def test_frame_tuples_are_sorted_with_bounded_gaps(dataset: Path) -> None:
    base = VideoDataset(dataset, 16, 16, 1, min_length=3, seed=1)
    data = FrameTupleDataset(base, 3, max_gap=4)
    for key in range(8):
        item = data[key]
        gaps = item["times"].diff()
        assert item["video"].shape == (3, 3, 16, 16) and item["times"][0] == 0
        assert bool(((gaps >= 1) & (gaps <= 4)).all())
        for j, t in enumerate(item["times"].tolist()):  # frame j is clip frame start + times[j]
            expected = base.read_window(item["clip_index"], item["start"] + t, 1, flip=item["flip"])
            assert torch.equal(expected[:, 0], item["video"][:, j])
        assert torch.equal(data[key]["video"], item["video"])  # a pure function of the key


# ---------------------------------------------------------------------------------------------- training
def colour_frechet_distance(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the RGB values of all pixels of two clip sets."""
    import scipy.linalg

    def fit(v: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        x = v.clamp(-1, 1).transpose(0, 1).reshape(3, -1).double().numpy()
        return x.mean(axis=1), np.cov(x)

    (mf, sf), (mr, sr) = fit(fake), fit(real)
    return float(((mf - mr) ** 2).sum() + np.trace(sf + sr - 2 * scipy.linalg.sqrtm(sf @ sr).real))


@pytest.mark.parametrize("method", ["styleganv", "digan"])
@pytest.mark.slow
def test_training_moves_colours_towards_the_data(dataset: Path, tmp_path: Path, method: str) -> None:
    from lvg.baselines.digan import build as build_digan

    cfg = cfg_with(steps=80, batch=4, r1_interval=16, log_every=10, checkpoint_every=0, ema_rampup_steps=0)
    cfg["baselines"] = {method: cfg["baselines"]["styleganv"]}
    out = run_train_baseline(method, section(cfg, "baselines", method), dataset, tmp_path / "run")
    data = VideoDataset(dataset, 16, 16, 16)
    real = torch.stack([data.read_window(c, (data.num_frames(c) - 16) // 2) for c in range(len(data))])
    tc = BaselineTrainConfig.from_dict(validate_config(copy.deepcopy(cfg))["baselines"][method])
    untrained, _ = (build_styleganv if method == "styleganv" else build_digan)(tc)
    trained = load_generator(out, "baseline")
    seeds = range(8)
    before = colour_frechet_distance(torch.stack([generate_frames(untrained, s, 0, 16) for s in seeds]), real)
    after = colour_frechet_distance(torch.stack([generate_frames(trained, s, 0, 16) for s in seeds]), real)
    print(f"{method} colour Frechet distance: untrained {before:.3f}, trained {after:.3f}")
    assert after < 0.75 * before, (before, after)


def test_config_errors(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(LvgError, match="unknown baseline"):
        run_train_baseline("nope", section(cfg_with(), "baselines", "nope"), dataset, tmp_path / "a")
    with pytest.raises(LvgError, match="samples_from"):
        run_train_baseline("styleganv", section(cfg_with(samples_from="somewhere"), "baselines", "styleganv"), dataset, tmp_path / "c")
    with pytest.raises(LvgError, match="baselines.styleganv"):
        run_train_baseline("styleganv", section(cfg_with(generator={"no_such": 1}), "baselines", "styleganv"), dataset, tmp_path / "d")
    with pytest.raises(LvgError, match="baselines.styleganv.learning_rate"):
        run_train_baseline("styleganv", section(cfg_with(learning_rate=1), "baselines", "styleganv"), dataset, tmp_path / "e")


# ---------------------------------------------------------------------------------------------- DIGAN-lite
def test_digan_renders_any_coordinate_and_time() -> None:
    from lvg.baselines.digan import DIGANConfig, DIGANGenerator, pixel_coords

    torch.manual_seed(0)
    G = DIGANGenerator(DIGANConfig.preset("tiny", height=16, width=16)).eval()
    zc, zm = torch.randn(2, G.cfg.z_dim), torch.randn(2, G.cfg.motion_dim)
    t = torch.tensor([[0.0, 0.5, 1.0, 7.25], [0.0, 0.5, 1.0, 1000.0]])  # t beyond the training [0, 1]
    with torch.no_grad():
        video = G.render(zc, zm, t)
        assert video.shape == (2, 3, 4, 16, 16) and torch.isfinite(video).all()
        yy, xx = pixel_coords(16, 16)
        # one pixel queried alone equals the same pixel of the rendered frame
        q = torch.tensor([[[float(xx[3]), float(yy[11]), 7.25]], [[float(xx[3]), float(yy[11]), 1000.0]]])
        assert torch.allclose(G(zc, zm, q)[:, 0], video[:, :, 3, 11, 3], atol=1e-5)
        # off-grid coordinates (between pixels, outside the image) and fractional times are finite and
        # continuous: a tiny step in any coordinate changes the colour by a tiny amount
        off = torch.tensor([[[0.123, -0.777, 1.5], [1.3, -1.2, 2.0]]] * 2)
        near = off + 1e-4
        a, b = G(zc, zm, off), G(zc, zm, near)
        assert torch.isfinite(a).all() and (a - b).abs().max() < 1e-2 and not torch.equal(a, b)
        # long videos continue t at the training spacing: frame k alone == frame k of a longer call
        long = generate_frames(G, 4, 100, 40)
        assert long.shape == (3, 40, 16, 16)
        assert torch.allclose(generate_frames(G, 4, 130, 3), long[:, 30:33], atol=1e-5)
        assert not torch.allclose(long[:, 0], long[:, 1])
