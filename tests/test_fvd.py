"""FVD: weight-file verification, the I3D layout and preprocessing, the Fréchet math on closed-form cases,
real-clip protocols, the real-statistics cache, and FVD end to end with the random I3D stand-in.

No published detector weights are reachable offline. Where a test needs "the published file", it writes a
state dict of our own (random) I3D and monkeypatches the expected SHA-1 to that file's: a stand-in for the
unreachable i3d_pretrained_400.pt, which checks the verification and name mapping, not the real weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from lvg.data.reader import VideoDataset
from lvg.data.shards import ShardWriter
from lvg.errors import LvgError
from lvg.metrics import i3d
from lvg.metrics.fvd import (
    FeatureAccumulator,
    compute_fvd,
    detector_stats,
    feature_stats,
    frechet_distance,
    fvd_from_features,
    metric_record,
    plan_longvideogan,
    plan_styleganv,
    real_stats_cached,
    sample_real_clips,
    sample_real_clips_styleganv,
)
from lvg.metrics.i3d import (
    InceptionI3D,
    load_detector,
    max_pool3d_separable,
    random_detector,
    same_padding,
    to_uint8_videos,
    to_videogpt_state_dict,
)

# sha256 over the state dict of i3d-random (seed i3d.RANDOM_SEED). It changes only if the architecture or
# the initialisation changes; caches are keyed on it, so update it deliberately.
RANDOM_FINGERPRINT = "88bfeef9a6396dedc2357589a4cb20aeb12803ea4007293040a7e2a69b819f06"


@pytest.fixture(scope="module")
def rand_det() -> i3d.Detector:
    return random_detector()


# ============================================================================================ weight files
def test_git_blob_sha1_agrees_with_git(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name, data in [("empty.bin", b""), ("text.txt", b"hello\n"), ("bin.pt", rng.bytes(300_000) + b"\0x")]:
        p = tmp_path / name
        p.write_bytes(data)
        expected = subprocess.run(["git", "hash-object", "--no-filters", str(p)], cwd=tmp_path, check=True,
                                  capture_output=True, text=True).stdout.strip()
        assert i3d.git_blob_sha1(p) == expected
    assert i3d.git_blob_sha1(tmp_path / "empty.bin") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_unpublished_file_is_refused_before_deserialising(tmp_path: Path, monkeypatch) -> None:
    def boom(*a, **k):
        raise AssertionError("deserialised before the SHA-1 check")

    monkeypatch.setattr(torch, "load", boom)
    monkeypatch.setattr(torch.jit, "load", boom)
    for name, expected in i3d.PUBLISHED_SHA1.items():
        p = tmp_path / name
        p.write_bytes(b"not the published detector")
        actual = i3d.git_blob_sha1(p)
        with pytest.raises(LvgError) as e:
            load_detector(p)
        msg = str(e.value)
        assert str(p) in msg and expected in msg and actual in msg and "refusing" in msg
    other = tmp_path / "my_i3d.pt"
    other.write_bytes(b"x")
    with pytest.raises(LvgError, match="expected one of") as e:
        load_detector(other)
    assert all(sha in str(e.value) for sha in i3d.PUBLISHED_SHA1.values())
    with pytest.raises(LvgError, match="not found"):
        load_detector(tmp_path / "missing" / "i3d_torchscript.pt")  # never a silent random fallback


def test_videogpt_state_dict_layout() -> None:
    sd = to_videogpt_state_dict(InceptionI3D())
    assert len(sd) == 287  # 57 conv+BN units x 5 tensors + logits weight and bias
    assert sum(v.numel() for v in sd.values()) == 12_711_824
    shapes = {"Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7), "Conv3d_1a_7x7.bn.running_var": (64,),
              "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3), "Mixed_3b.b0.conv3d.weight": (64, 192, 1, 1, 1),
              "Mixed_4f.b1b.conv3d.weight": (320, 160, 3, 3, 3), "Mixed_5b.b2a.bn.bias": (32,),
              "Mixed_5c.b3b.conv3d.weight": (128, 832, 1, 1, 1), "logits.conv3d.weight": (400, 1024, 1, 1, 1),
              "logits.conv3d.bias": (400,)}
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert not any("num_batches_tracked" in k or "branch" in k for k in sd)


def test_pretrained_400_round_trip_by_name_mapping(tmp_path: Path, monkeypatch) -> None:
    # Stand-in for the unreachable published i3d_pretrained_400.pt: OUR random I3D (seed 7) saved under the
    # VideoGPT/TATS names, with the expected SHA-1 monkeypatched to this file's for this test only.
    src = random_detector(seed=7)
    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save(to_videogpt_state_dict(src.net), path)
    monkeypatch.setitem(i3d.PUBLISHED_SHA1, "i3d_pretrained_400.pt", i3d.git_blob_sha1(path))
    det = load_detector(path)
    assert det.name == "i3d-pretrained-400" and det.comparable
    assert det.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert det.describe()["git_blob_sha1"] == i3d.git_blob_sha1(path)
    for (k, a), (k2, b) in zip(src.net.state_dict().items(), det.net.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b), k  # every weight and BN buffer: the same network

    bad = to_videogpt_state_dict(src.net)
    del bad["Mixed_4c.b2b.bn.running_mean"]
    torch.save(bad, path)
    monkeypatch.setitem(i3d.PUBLISHED_SHA1, "i3d_pretrained_400.pt", i3d.git_blob_sha1(path))
    with pytest.raises(LvgError, match=r"Mixed_4c\.b2b\.bn\.running_mean"):
        load_detector(path)


def test_random_detector_is_fixed_and_labelled(rand_det) -> None:
    with pytest.warns(UserWarning, match="NOT comparable"):
        det = load_detector(None)
    assert det.name == "i3d-random" and det.sha256 is None and not det.comparable
    assert det.fingerprint == rand_det.fingerprint == RANDOM_FINGERPRINT
    assert random_detector(seed=1).fingerprint != RANDOM_FINGERPRINT
    d = det.describe()
    assert d["seed"] == i3d.RANDOM_SEED and "NOT comparable" in d["warning"]


# ============================================================================================ network pieces
def test_tf_same_padding() -> None:
    assert same_padding(224, 7, 2) == (2, 3)  # out 112
    assert same_padding(16, 7, 2) == (2, 3)   # out 8
    assert same_padding(112, 3, 2) == (0, 1)  # out 56
    assert same_padding(8, 3, 1) == (1, 1)
    assert same_padding(4, 2, 2) == (0, 0)
    assert same_padding(5, 2, 2) == (0, 1)    # odd size: the extra cell goes at the back
    pool = i3d.MaxPoolSame((1, 3, 3), (1, 2, 2))
    x = -torch.ones(1, 1, 1, 4, 4)  # all negative: zero padding would leak zeros into the max
    assert torch.equal(pool(x), -torch.ones(1, 1, 1, 2, 2))  # asymmetric (0, 1): explicit -inf pad
    assert torch.equal(i3d.MaxPoolSame((3, 3, 3), (1, 1, 1))(-torch.ones(1, 1, 3, 4, 4)), -torch.ones(1, 1, 3, 4, 4))
    unit = i3d.Unit3D(2, 3, (3, 3, 3), batch_norm=False, relu=False)  # symmetric pads: the conv pads itself
    v = torch.randn(1, 2, 5, 6, 7)
    np.testing.assert_allclose(unit(v).detach(), unit.conv(torch.nn.functional.pad(v, [1] * 6)).detach(), atol=1e-6)
    odd = i3d.Unit3D(2, 3, (7, 7, 7), (2, 2, 2), batch_norm=False, relu=False)  # T, H, W pads (3,3) (2,3) (3,3)
    ref = odd.conv(torch.nn.functional.pad(v, [3, 3, 2, 3, 3, 3]))
    assert odd(v).shape == (1, 3, 3, 3, 4)  # ceil(n / 2)
    np.testing.assert_allclose(odd(v).detach(), ref.detach(), atol=1e-6)


def test_preprocessing(rand_det) -> None:
    u = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 1, 16, 16).expand(1, 3, 9, 16, 16)
    f = 2 * u.to(torch.float32) / 255 - 1  # the reader's float decoding
    assert torch.equal(to_uint8_videos(f), u)  # x * 127.5 + 128, truncated: back to the same bytes
    assert torch.equal(to_uint8_videos(np.asarray(u)), u)
    assert to_uint8_videos(torch.full((1, 3, 9, 2, 2), 5.0)).max() == 255  # clamped
    assert to_uint8_videos(torch.zeros(2, 1, 9, 4, 4, dtype=torch.uint8)).shape == (2, 3, 9, 4, 4)
    x = i3d.preprocess(torch.full((1, 3, 9, 36, 64), 255, dtype=torch.uint8))
    assert x.shape == (1, 3, 9, 224, 224) and torch.allclose(x, torch.ones(()))  # squashed, no crop
    y = i3d.preprocess(torch.zeros(1, 3, 9, 224, 224, dtype=torch.uint8))
    assert torch.all(y == -1)
    with pytest.raises(ValueError, match="at least 9 frames"):
        rand_det.features(torch.zeros(1, 3, 8, 8, 8, dtype=torch.uint8))


# ============================================================================================ Fréchet math
def _correlated(rng: np.random.Generator, n: int, d: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal((n, d)) @ rng.standard_normal((d, d))) * scale + rng.standard_normal(d)


def test_identical_sets_give_zero_and_mean_shift_gives_its_norm() -> None:
    rng = np.random.default_rng(0)
    x = _correlated(rng, 500, 16)
    mu, sigma = feature_stats(x)
    assert abs(fvd_from_features(x, x)) <= 1e-6 * np.trace(sigma)
    delta = rng.standard_normal(16) * 3
    assert fvd_from_features(x, x + delta) == pytest.approx(float(delta @ delta), rel=1e-6,
                                                            abs=1e-6 * np.trace(sigma))


def test_diagonal_gaussians_closed_form() -> None:
    # diagonal covariances: tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (s1 - s2)^2 with s the standard deviations
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 5.0 + ((s1 - s2) ** 2).sum()
    assert frechet_distance(mu1, np.diag(s1**2), mu2, np.diag(s2**2)) == pytest.approx(expected, rel=1e-12)


def test_agrees_with_independent_eigen_computation() -> None:
    rng = np.random.default_rng(1)
    a, b = _correlated(rng, 300, 12), _correlated(rng, 200, 12, 0.7)
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum()
    assert fvd_from_features(b, a) == pytest.approx(expected, rel=1e-9)
    assert fvd_from_features(a, b) == pytest.approx(expected, rel=1e-9)  # symmetric


def test_biased_covariance_and_streaming() -> None:
    mu, sigma = feature_stats(np.array([[1.0, 0.0], [3.0, 2.0]]))
    np.testing.assert_allclose(mu, [2.0, 1.0])
    np.testing.assert_allclose(sigma, [[1.0, 1.0], [1.0, 1.0]])  # divided by N = 2 (N - 1 would give 2)
    rng = np.random.default_rng(2)
    x = _correlated(rng, 101, 7)
    np.testing.assert_allclose(feature_stats(x)[1], np.cov(x, rowvar=False, bias=True), atol=1e-10)
    acc = FeatureAccumulator()
    for chunk in np.array_split(x, 5):
        acc.add(chunk)
    s = acc.stats()
    assert s.num == 101
    np.testing.assert_allclose(s.sigma, feature_stats(x)[1], atol=1e-10)


# ============================================================================================ real clips
LENGTHS = {"a": 20, "b": 200, "c": 40, "d": 17, "e": 10}  # e is shorter than a 16-frame clip
RES = (32, 32)


def coded_frame(clip: int, k: int) -> np.ndarray:
    """R = 5 + k (frame index), G = 30 + 40 * clip; B a ramp. Decodable after JPEG."""
    img = np.empty((*RES, 3), np.uint8)
    img[..., 0] = 5 + k
    img[..., 1] = 30 + 40 * clip
    img[..., 2] = np.linspace(0, 255, RES[1])[None, :].round().astype(np.uint8)
    return img


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fvd_ds")
    with ShardWriter(root / f"{RES[0]:04d}x{RES[1]:04d}", list(LENGTHS), 2, quality=95) as w:
        for c, (cid, n) in enumerate(sorted(LENGTHS.items())):
            for k in range(n):
                w.add_image(cid, coded_frame(c, k))
    return root


def test_longvideogan_plan_is_uniform_over_videos_not_frames() -> None:
    lengths = [20, 200, 40, 17, 10]
    plan = plan_longvideogan(lengths, 4001, 16, seed=3)
    assert len(plan) == 4001
    counts = np.bincount([v for v, _ in plan], minlength=5)
    assert counts[4] == 0 and sorted(counts[:4].tolist()) == [1000, 1000, 1000, 1001]  # one visit per pass
    assert all(0 <= s <= lengths[v] - 16 for v, s in plan)
    starts = np.bincount([s for v, s in plan if v == 1], minlength=185)  # 185 valid starts in video b
    assert starts.min() >= 0 and len(starts) == 185 and np.count_nonzero(starts) > 150
    assert plan_longvideogan(lengths, 50, 16, seed=3) == plan[:50]  # a prefix: same seed, same stream
    assert plan_longvideogan(lengths, 50, 16, seed=4) != plan[:50]
    with pytest.raises(LvgError, match="at least 300 frames"):
        plan_longvideogan(lengths, 5, 300, seed=0)


def test_real_clip_protocols_on_shards(dataset_dir) -> None:
    ds = VideoDataset(dataset_dir, *RES, seq_length=16)
    assert ds.clip_ids == ["a", "b", "c", "d"]  # e (10 frames) dropped by the reader too
    clips = sample_real_clips(ds, 7, 16, seed=0)
    assert len(clips) == 7
    for (v, start), clip in zip(clips.windows, clips, strict=True):
        assert clip.shape == (3, 16, *RES) and clip.dtype == torch.uint8
        red = clip[0].float().mean(dim=(1, 2)).numpy()
        green = clip[1].float().mean(dim=(1, 2)).numpy()
        np.testing.assert_allclose(red, 5 + np.arange(start, start + 16), atol=2)  # the planned frames
        np.testing.assert_allclose(green, 30 + 40 * v, atol=2)
    assert sorted(np.bincount([v for v, _ in clips.windows]).tolist()) == [1, 2, 2, 2]

    sg = sample_real_clips_styleganv(ds, 3, 16, seed=0)
    assert [v for v, _ in sg.windows] == [0, 1, 2]  # first 3 videos by id, one clip each
    sg_all = sample_real_clips_styleganv(ds, 100, 16, seed=0)
    assert len(sg_all) == 4 and len({v for v, _ in sg_all.windows}) == 4  # <= 1 clip per video
    assert plan_styleganv(["z", "y", "x"], [30, 5, 30], 5, 16, seed=1)[0][0] == 2  # sorted ids, short dropped


# ============================================================================================ cache
class StubDetector:
    """A cheap stand-in (NOT I3D) for cache tests: per-frame channel means through a fixed projection."""

    def __init__(self, name: str = "stub", sha256: str | None = "0" * 64) -> None:
        self.name, self.sha256, self.calls = name, sha256, 0
        self.proj = np.random.default_rng(0).standard_normal((48, 400))

    def features(self, videos, batch_size=None) -> np.ndarray:
        self.calls += 1
        x = to_uint8_videos(videos).float().mean(dim=(3, 4)).flatten(1).numpy().astype(np.float64)
        return x[:, :48] @ self.proj / 255


def test_real_stats_cache_hits_and_misses(dataset_dir, tmp_path) -> None:
    cache = tmp_path / "cache"
    det = StubDetector()
    kw = dict(protocol="longvideogan", clip_len=16, num_clips=6, seed=0, cache_dir=cache)
    first = real_stats_cached(dataset_dir, *RES, detector=det, **kw)
    assert not first.cache_hit and det.calls > 0 and first.stats.num == 6
    tensors, meta = first.files
    assert tensors.suffix == ".safetensors" and not tensors.read_bytes().startswith(b"\x80")  # no pickle
    key = json.loads(meta.read_text())["key"]
    assert key["detector"] == {"name": "stub", "sha256": "0" * 64} and key["num_clips"] == 6
    assert key["dataset"]["index_sha256"] and key["resolution"] == [32, 32]

    calls = det.calls
    second = real_stats_cached(dataset_dir, *RES, detector=det, **kw)
    assert second.cache_hit and det.calls == calls
    np.testing.assert_array_equal(second.stats.sigma, first.stats.sigma)
    assert second.stats.mu.dtype == np.float64

    for change in [dict(num_clips=5), dict(seed=1), dict(protocol="styleganv"), dict(clip_len=17)]:
        assert not real_stats_cached(dataset_dir, *RES, detector=det, **{**kw, **change}).cache_hit, change
    assert not real_stats_cached(dataset_dir, *RES, detector=StubDetector(sha256="1" * 64), **kw).cache_hit
    assert not real_stats_cached(dataset_dir, *RES, detector=StubDetector(name="other"), **kw).cache_hit
    assert real_stats_cached(dataset_dir, *RES, detector=det, **kw).cache_hit
    assert not real_stats_cached(dataset_dir, *RES, detector=det, replace_cache=True, **kw).cache_hit


# ============================================================================================ end to end
@pytest.mark.slow
def test_fvd_with_random_i3d_grows_with_shift(dataset_dir, rand_det) -> None:
    """2 real clips (16 x 32x32, upsampled to 224) against themselves and brightened copies, random I3D.

    Only 6 I3D passes at 224x224 (the full protocol input): the test must stay fast on 2 busy CPU cores.
    """
    ds = VideoDataset(dataset_dir, *RES, seq_length=16)
    real = torch.stack(list(sample_real_clips(ds, 2, 16, seed=0)))  # uint8 [2, 3, 16, 32, 32]
    real_stats = detector_stats([real], rand_det, batch_size=1)  # one batched item, regrouped 1 + 1
    trace = float(np.trace(real_stats.sigma))
    same = frechet_distance(real_stats.mu, real_stats.sigma, real_stats.mu, real_stats.sigma)
    assert abs(same) <= 1e-3 * trace + 1e-9  # rank-1 covariances in 400-d: sqrtm of a singular matrix

    values = []
    for shift in (30, 90):
        fake = (real.float() + shift).clamp(0, 255) * (2 / 255) - 1  # float in [-1, 1], as generators give
        res = compute_fvd(None, iter(fake), rand_det, real_stats=real_stats)
        assert res.num_real == 2 and res.num_fake == 2
        values.append(res.value)
    assert 0 < values[0] < values[1]

    rec = metric_record(value=values[0], clip_len=16, protocol="longvideogan", num_real=2, num_fake=2,
                        seeds={"real": 0, "fake": 0}, detector=rand_det, resolution=RES,
                        dataset_id={"path": str(dataset_dir)}, model_id="test")
    assert rec["metric"] == "fvd16" and rec["detector_name"] == "i3d-random" and rec["detector_sha256"] is None
    assert not rec["comparable_to_published"] and rec["resolution"] == "32x32" and "stand-in" in rec["status"]
    assert any("NOT comparable" in w for w in rec["warnings"]) and any("small sample" in w for w in rec["warnings"])
    json.dumps(rec)


@pytest.mark.parametrize(("kernel", "stride"), [((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (1, 1, 1)),
                                                ((2, 2, 2), (2, 2, 2)), ((2, 7, 7), (1, 1, 1))])
def test_separable_max_pool_is_max_pool3d_bit_for_bit(kernel, stride) -> None:
    x = torch.randn(2, 5, 9, 17, 16, generator=torch.Generator().manual_seed(0))
    x[0, 0, 0, 0, 0] = -math.inf  # the SAME padding value
    assert torch.equal(max_pool3d_separable(x, kernel, stride), torch.nn.functional.max_pool3d(x, kernel, stride))
