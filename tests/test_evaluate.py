"""The evaluate phase (lvg/evaluate.py) and the sample sets it reads (lvg/sample_sets.py).

Proven here: a sample set made of real frames scores a far lower FVD (16 and 128) than noise, and its colour
curve matches the real one while noise's does not; the real statistics are computed once and then read from
the cache; records carry the protocol, counts, seeds and detector (and the resize, for a set at another
resolution); a length that real or generated videos cannot supply is recorded as not computed; the
``i3d-random`` stand-in labels every record it produces; external folders are indexed (and bad ones refused);
baseline and untrained sample sets decode to their generators' frames.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_PARAMS

from lvg.config import validate_config
from lvg.data.shards import ShardWriter
from lvg.data.video import iter_frames, write_video
from lvg.errors import InputError
from lvg.evaluate import fake_clips, run_method, run_real
from lvg.metrics.fvd import plan_longvideogan
from lvg.metrics.i3d import to_uint8_videos
from lvg.models import model_id
from lvg.report.records import load_records, read_record
from lvg.sample_sets import (
    SampleSet,
    baseline_sample_set,
    import_sample_set,
    untrained_models,
    untrained_sample_set,
)

pytestmark = pytest.mark.usefixtures("one_thread")

RES = (32, 32)
LENGTHS = {"a": 150, "b": 140, "c": 60}


def real_frame(clip: int, k: int, size: tuple[int, int] = RES) -> np.ndarray:
    """A smooth coloured pattern drifting with time: different clips differ in hue."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    phase = 0.05 * k + 1.7 * clip
    img = np.stack([0.5 + 0.4 * np.sin(6 * x + phase), 0.5 + 0.4 * np.cos(5 * y - phase),
                    np.full_like(x, 0.2 + 0.25 * clip)], axis=-1)
    return (img * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval_ds")
    with ShardWriter(root / f"{RES[0]:04d}x{RES[1]:04d}", list(LENGTHS), 2, quality=95) as w:
        for c, (cid, n) in enumerate(LENGTHS.items()):
            for k in range(n):
                w.add_image(cid, real_frame(c, k))
    return root


def write_set(out: Path, videos: list[np.ndarray]) -> Path:
    """A sample set of uint8 [T, H, W, 3] videos in the generated-set layout."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, v in enumerate(videos):
        write_video([v], out / f"v{i}.mp4", crf=0, pix_fmt="yuv444p", upscale=1)
        entries.append({"file": f"v{i}.mp4", "seed": i, "num_frames": len(v)})
    (out / "index.json").write_text(json.dumps({"kind": "generated", "models": {"test": "x"}, "videos": entries}))
    return out


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval_sets")
    rng = np.random.default_rng(0)
    copy_ = [np.stack([real_frame(c, k + 3) for k in range(130)]) for c in (0, 1, 2)]
    noise = [rng.integers(0, 256, (130, *RES, 3), dtype=np.uint8) for _ in range(3)]
    small = [np.stack([real_frame(c, k + 3, (16, 16)) for k in range(130)]) for c in (0, 1)]
    short = [np.stack([real_frame(c, k) for k in range(20)]) for c in (0, 1)]
    return {"copy": write_set(root / "copy", copy_), "noise": write_set(root / "noise", noise),
            "small": write_set(root / "small", small), "short": write_set(root / "short", short)}


class StubDetector:
    """A cheap stand-in (NOT I3D): per-frame channel means through a fixed projection; counts its calls."""

    name, sha256 = "stub", "0" * 64

    def __init__(self) -> None:
        self.clips = 0
        self.proj = np.random.default_rng(0).standard_normal((3 * 128, 400))

    def features(self, videos, batch_size=None) -> np.ndarray:
        self.clips += len(videos)
        x = to_uint8_videos(videos).float().mean(dim=(3, 4))  # [N, 3, T]
        x = torch.nn.functional.pad(x, (0, 128 - x.shape[2])).flatten(1).numpy().astype(np.float64)
        return x @ self.proj / 255


def cfg(**metrics) -> dict:
    c = copy.deepcopy(TINY_PARAMS)
    c["metrics"] = {"fvd16_clips": 6, "fvd128_clips": 4, "seeds": [0, 1], "color_clips": 4} | metrics
    c["samples"] = {**c["samples"], "num_frames": 129}
    return validate_config(c)


def metric_args(**metrics) -> tuple[dict, int]:
    """What run_real / run_method take: the metrics section and the sample sets' length."""
    c = cfg(**metrics)
    return c["metrics"], c["samples"]["num_frames"]


@pytest.mark.slow
def test_real_frames_beat_noise_and_the_cache_is_read_not_recomputed(dataset_dir, sets, tmp_path) -> None:
    det, metrics = StubDetector(), tmp_path / "metrics"
    real_color = run_real("toy", dataset_dir, "32x32", metrics, *metric_args(), detector=det)
    stats = json.loads((metrics / "toy/real/fvd_stats.json").read_text())
    assert [(e["clip_len"], e["seed"], e["num"]) for e in stats["entries"]] == [(16, 0, 6), (16, 1, 6),
                                                                                 (128, 0, 4), (128, 1, 4)]
    assert real_color["mean"][0] == 1.0 and len(real_color["mean"]) == 129
    assert det.clips == 2 * (6 + 4)  # 2 seeds x (6 + 4) real clips
    for method in ("copy", "noise"):
        run_method("toy", method, dataset_dir, "32x32", sets[method], metrics, *metric_args(), detector=det)
    assert det.clips == 20 + 2 * 2 * (6 + 4)  # only generated clips went through: real stats from the cache
    rec = {m: {k: read_record(metrics / f"toy/{m}/{k}.json") for k in ("fvd16", "fvd128", "color_similarity")}
           for m in ("copy", "noise")}
    for k in ("fvd16", "fvd128"):
        good, bad = rec["copy"][k], rec["noise"][k]
        assert good["status"] == "computed" and good["num_runs"] == 2 and good["std"] is not None
        assert good["mean"] * 3 < bad["mean"], (k, good["mean"], bad["mean"])
        assert good["clip_len"] == int(k[3:]) and good["protocol"] == "longvideogan"
        assert [r["seeds"] for r in good["runs"]] == [{"real": 0, "fake": 0}, {"real": 1, "fake": 1}]
        assert good["model"]["sample_set_sha256"] and good["detector"]["name"] == "stub"
    real_mean = np.array(real_color["mean"])
    gap = {m: np.abs(np.array(rec[m]["color_similarity"]["mean"]) - real_mean).mean() for m in rec}
    assert gap["copy"] < 0.1 < gap["noise"], gap
    df = load_records(metrics)
    assert set(df["method"]) == {"real", "copy", "noise"}  # fvd_stats.json is not a record


@pytest.mark.slow
def test_resized_and_too_short_sets_are_labelled(dataset_dir, sets, tmp_path) -> None:
    det, metrics = StubDetector(), tmp_path / "metrics"
    run_method("toy", "small", dataset_dir, "32x32", sets["small"], metrics, *metric_args(), detector=det)
    small = read_record(metrics / "toy/small/fvd16.json")
    assert small["runs"][0]["sample_resolution"] == "16x16" and "resized to 32x32" in small["runs"][0]["resized"]
    clips = list(fake_clips(SampleSet.open(sets["small"]), 3, 16, 0, RES))
    assert all(c.shape == (3, 16, *RES) and c.dtype == torch.uint8 for c in clips)
    run_method("toy", "short", dataset_dir, "32x32", sets["short"], metrics, *metric_args(), detector=det)
    assert read_record(metrics / "toy/short/fvd16.json")["status"] == "computed"
    assert read_record(metrics / "toy/short/fvd128.json")["status"].startswith("not computed (generated videos")
    assert read_record(metrics / "toy/short/color_similarity.json")["clip_len"] == 19


def test_generated_windows_are_uniform_over_videos_with_random_starts(sets) -> None:
    s = SampleSet.open(sets["copy"])
    a = [c.float().mean().item() for c in fake_clips(s, 8, 16, 0, RES)]
    b = [c.float().mean().item() for c in fake_clips(s, 8, 16, 1, RES)]
    assert len(a) == 8 and a != b  # a new seed draws new windows
    (video, start), = plan_longvideogan(s.lengths, 1, 130, 0)
    first = next(iter(fake_clips(s, 1, 130, 0, RES)))
    np.testing.assert_array_equal(first.permute(1, 2, 3, 0).numpy(), s.read(video, start, 130))


@pytest.mark.slow
def test_i3d_random_labels_every_record(dataset_dir, sets, tmp_path) -> None:
    metrics = tmp_path / "metrics"
    c = metric_args(fvd16_clips=2, seeds=[0], color_clips=2)
    with pytest.warns(UserWarning, match="NOT comparable to published FVD"):
        run_method("toy", "short", dataset_dir, "32x32", sets["short"], metrics, *c)
    rec = read_record(metrics / "toy/short/fvd16.json")
    assert rec["detector"]["name"] == "i3d-random" and rec["detector"]["comparable"] is False
    assert any("not comparable to published fvd" in w.lower() for w in rec["warnings"])
    assert rec["runs"][0]["detector_input"] == "224x224" and np.isfinite(rec["mean"])


def test_import_sample_set_indexes_a_folder_and_refuses_bad_ones(sets, tmp_path) -> None:
    out = tmp_path / "imported"
    index = import_sample_set(sets["copy"], out)
    s = SampleSet.open(out)
    assert json.loads(index.read_text())["kind"] == "external" and s.lengths == [130, 130, 130]
    assert s.paths[0] == (sets["copy"] / "v0.mp4").resolve()
    with pytest.raises(InputError, match="no video files"):
        import_sample_set(tmp_path, tmp_path / "x")
    with pytest.raises(InputError, match="not a folder"):
        import_sample_set(tmp_path / "missing", tmp_path / "x")
    with pytest.raises(InputError, match="20 frames, at least 64"):
        import_sample_set(sets["short"], tmp_path / "y", min_frames=64)


def test_baseline_sample_set_decodes_to_the_generator_frames(tmp_path) -> None:
    from lvg.baselines.common import generate_frames
    from lvg.baselines.styleganv import StyleGANVConfig, StyleGANVGenerator

    torch.manual_seed(0)
    G = StyleGANVGenerator(StyleGANVConfig.preset("tiny", height=16, width=16, motion_z_distance=4)).eval()
    index = baseline_sample_set(G, "styleganv", 2, 20, 5, tmp_path / "s")
    meta = json.loads(index.read_text())
    assert [v["seed"] for v in meta["videos"]] == [5, 6] and all(0 <= t < 32 for t in meta["t0s"])
    assert meta["models"] == {"styleganv": model_id(G)}
    v = meta["videos"][1]
    decoded = np.stack([f for _, f in iter_frames(tmp_path / "s" / v["file"])]).astype(np.int16)
    want = ((generate_frames(G, 6, v["t0"], 20) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
            .permute(1, 2, 3, 0).numpy().astype(np.int16))
    assert decoded.shape == want.shape and np.abs(decoded - want).max() <= 3  # lossless YUV 4:4:4, RGB rounding


def test_untrained_control_is_the_training_initialisation(tmp_path) -> None:
    from lvg.train import lowres

    c = validate_config(copy.deepcopy(TINY_PARAMS) | {"samples": {"num_videos": 1, "num_frames": 16,
                                                                  "resolution": "hr"}})
    G_lr, G_sr = untrained_models(c["train_lowres"], c["train_superres"])
    G0, _ = lowres.build_networks(lowres.LowResTrainConfig.from_dict(c["train_lowres"]))
    assert model_id(G_lr) == model_id(G0)  # same seed, same init
    index = untrained_sample_set(c["train_lowres"], c["train_superres"], c["samples"], tmp_path / "u")
    meta = json.loads(index.read_text())
    assert meta["models"]["lowres"] == model_id(G0) and meta["resolution"] == "hr"
    frames = [f for _, f in iter_frames(tmp_path / "u" / meta["videos"][0]["file"])]
    assert len(frames) == 16 and frames[0].shape == (32, 32, 3)
    lr = untrained_sample_set(c["train_lowres"], c["train_superres"], c["samples"] | {"resolution": "lr"},
                              tmp_path / "lr")
    meta = json.loads(lr.read_text())
    assert meta["resolution"] == "lr" and meta["models"]["superres"] is None
    assert next(iter_frames(tmp_path / "lr" / meta["videos"][0]["file"]))[1].shape == (16, 16, 3)


def test_sample_set_decodes_each_video_once_within_its_budget(sets) -> None:
    cached, uncached = SampleSet.open(sets["copy"]), SampleSet.open(sets["copy"])
    uncached.cache_bytes = 0
    first = cached.read(1, 5, 16)  # a short window decodes (and keeps) the whole video
    assert list(cached._decoded) == [1] and len(cached._decoded[1]) == 130
    np.testing.assert_array_equal(first, uncached.read(1, 5, 16))
    np.testing.assert_array_equal(cached.read(1, 0, 130), uncached.read(1, 0, 130))
    assert uncached._decoded == {}  # over budget: read again each time, same frames
    with pytest.raises(InputError, match="130 frames, 131 needed"):
        uncached.read(0, 1, 130)


def test_other_aspects_are_centre_cropped_like_the_real_videos_then_resized() -> None:
    """A 16:9 sample set on a square dataset (a released 36x64 model) is centre-cropped to the square first,
    with the preprocessing's crop box, instead of being squashed; a 144x256 set on a 128x256 dataset (Video
    LDM's protocol) is a pure crop of the middle rows."""
    from lvg.data.preprocess import crop_box
    from lvg.evaluate import evaluation_resolution, resize_clip

    clip = torch.arange(3 * 2 * 36 * 64, dtype=torch.float32).reshape(3, 2, 36, 64).remainder(251).to(torch.uint8)
    x0, y0, x1, y1 = crop_box(36, 64, 32, 32)
    assert (x0, y0, x1, y1) == (14, 0, 50, 36)
    assert torch.equal(resize_clip(clip, (36, 36)), clip[..., 14:50])
    square = resize_clip(clip, (32, 32))
    ref = torch.nn.functional.interpolate(clip[..., 14:50].permute(1, 0, 2, 3).float(), size=(32, 32),
                                          mode="bilinear", antialias=True, align_corners=False)
    assert torch.equal(square, ref.round().clamp(0, 255).to(torch.uint8).permute(1, 0, 2, 3))
    tall = torch.randint(0, 255, (3, 2, 144, 256), dtype=torch.uint8)
    assert torch.equal(resize_clip(tall, (128, 256)), tall[:, :, 8:136])
    cfg = validate_config(copy.deepcopy(TINY_PARAMS) | {"metrics": {"resolution": "16x16"}})
    assert evaluation_resolution(cfg) == "16x16"  # metrics.resolution overrides the HR size ...
    assert evaluation_resolution(validate_config(copy.deepcopy(TINY_PARAMS))) == "32x32"  # ... the default
    with pytest.raises(Exception, match=r"metrics.resolution = 128x256 is not among preprocess.resolutions"):
        evaluation_resolution(validate_config(copy.deepcopy(TINY_PARAMS) | {"metrics": {"resolution": "128x256"}}))
