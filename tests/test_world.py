"""The synthetic world's per-frame ground truth, the `world` detector, its semantic readout and the sanity
degradations (lvg/data/world.py, lvg/metrics/world.py, lvg/metrics/semantic.py, lvg/metrics/sanity.py).

Proven here: the renderer's state table matches what it drew (the sky fraction is the centre square above the
horizon; objects are in view exactly when their pixels are), survives the cut into clips frame for frame, and
is the same table whatever else is rendered; the network's shapes, features and readout; semantic change
counts known biome switches and slopes; each degradation does what its name says, reproducibly; the
detector trains through the shared loop, writes its held-out accuracy, loads back, and resumes exactly.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import assert_same_run
from torch import Tensor

from lvg.data.reader import VideoDataset, derived_generator
from lvg.data.shards import ShardReader
from lvg.data.synthetic import (
    _NK,
    _NL,
    _NS,
    BIOME_NAMES,
    OBJECT_CLASSES,
    WORLD_COLUMNS,
    SyntheticSpec,
    SyntheticVideo,
    render_video,
)
from lvg.data.world import NOON, REGRESSION, WorldLabels, heldout_clips, write_clip_states
from lvg.data.world_corpus import WORLD_CSV, clip_id, render_ride, ride_seed, write_corpus
from lvg.errors import InputError, LvgError
from lvg.metrics import sanity, semantic
from lvg.metrics.world import (
    WorldDetector,
    WorldNet,
    WorldNetConfig,
    colour_stats,
    fit_colour_standardisation,
    load_world_detector,
    motion_stats,
    save_world_detector,
)
from lvg.train.world import (
    NEGATIVE_KINDS,
    ConcatWindows,
    WorldWindows,
    balanced_accuracy,
    fit_heads,
    group_labels,
    make_negatives,
    read_object_frames,
    regression_means,
    run_train_world,
    train_object_net,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SPEC = SyntheticSpec(seed=7, duration_s=6.0, height=96, width=160, shot_min_s=1.5, shot_max_s=2.5)


# ---------------------------------------------------------------------------------------------- ground truth
def test_state_matches_the_rendered_frame() -> None:
    video = SyntheticVideo(SPEC)
    kinds = set()
    seen_riders = False
    for i in range(0, len(video), 7):
        frame, state = video.frame_and_state(i)
        assert np.array_equal(frame, video.frame(i))  # the state costs nothing to the picture
        kinds.add(state["kind"])
        if state["kind"] != "shot":
            assert set(state) == {"frame", "kind"}
            continue
        assert set(state) == set(WORLD_COLUMNS) and state["biome"] in BIOME_NAMES
        seg = video.segment_at(i)
        idx = video.world.render_shot(seg["shot"], seg["horizon"], seg["direction"], video.ride_time(i))
        x0 = (SPEC.width - SPEC.height) // 2
        sq = idx[:, x0:x0 + SPEC.height]
        assert state["sky"] == pytest.approx(float((sq >= _NL * _NK * _NS).mean()))
        y_h = int(round(state["horizon"] * SPEC.height))
        assert (sq[:y_h] >= _NL * _NK * _NS).mean() > 0.5 and (sq[y_h + 2:] < _NL * _NK * _NS).all()
        for c in OBJECT_CLASSES:
            assert 0 <= state[c] < 0.5, c
        seen_riders |= state["riders"] > 0
        assert 6.5 <= state["hour"] <= 19.5 and 0 <= state["fog"] <= 1 and state["speed"] > 0
    assert "shot" in kinds and kinds & {"title_card", "end_card", "black"} and seen_riders


def test_world_table_is_written_beside_the_video_and_cut_into_clips(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    render_video(SPEC, raw / "v0.mp4", world_path=raw / "v0.world.csv")
    table = pd.read_csv(raw / "v0.world.csv")
    assert list(table.columns) == list(WORLD_COLUMNS) and len(table) == SPEC.num_frames
    assert (table["frame"] == np.arange(len(table))).all()
    (raw / "v0.provenance.json").write_text(json.dumps({"world_file": "v0.world.csv"}))
    shots = table[table["kind"] == "shot"]
    a = int(shots["frame"].iloc[3])
    clips = pd.DataFrame([{"clip_id": "v0/a", "source": "v0", "start_frame": a, "end_frame": a + 20}])
    clips.to_csv(tmp_path / "clips.csv", index=False)
    out = write_clip_states(tmp_path / "clips.csv", raw, tmp_path / "world.csv")
    assert list(out["frame"]) == list(range(20)) and (out["clip_id"] == "v0/a").all()
    expected = table.set_index("frame").loc[a:a + 19]
    np.testing.assert_allclose(out["hour"].to_numpy(), expected["hour"].to_numpy(), rtol=1e-5)
    labels = WorldLabels.read(tmp_path / "world.csv")
    w = labels.window("v0/a", 4, 8)
    assert w["biome"].dtype == np.int64 and set(w) >= {"biome", "direction", *REGRESSION}
    assert (w["biome"] == BIOME_NAMES.index(expected["biome"].iloc[4])).all()
    sun = (np.abs(expected["hour"].to_numpy()[4:12] - NOON) - REGRESSION["sun"][1]) / REGRESSION["sun"][2]
    np.testing.assert_allclose(w["sun"], sun, rtol=1e-4, atol=1e-5)  # hours from midday, standardised
    # a clip over a title card is refused, naming it
    title = int(table[table["kind"] == "title_card"]["frame"].iloc[0])
    pd.DataFrame([{"clip_id": "v0/t", "source": "v0", "start_frame": title, "end_frame": title + 5}]).to_csv(
        tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="v0/t"):
        write_clip_states(tmp_path / "bad.csv", raw, tmp_path / "world2.csv")


def test_heldout_split_is_a_fixed_fraction() -> None:
    ids = [f"ride_{i:03d}/clip{j}" for i in range(20) for j in range(10)]
    held = heldout_clips(ids, 0.2)
    assert 0.12 < len(held) / len(ids) < 0.28 and held == heldout_clips(list(reversed(ids)), 0.2)
    assert held - heldout_clips(ids[:100], 0.2) <= set(ids[100:])  # a clip keeps its side
    assert len(heldout_clips(ids[:2], 0.01)) == 1 and len(heldout_clips(ids[:2], 0.99)) == 1  # never empty
    with pytest.raises(InputError, match="at least 2"):
        heldout_clips(ids[:1], 0.2)


def test_group_labels_per_four_frames() -> None:
    n = 16
    window = {"biome": np.repeat([1, 2], 8), "direction": np.ones(n, np.int64),
              **{f"in_view_{c}": np.zeros(n, np.int64) for c in OBJECT_CLASSES},
              **{k: np.arange(n, dtype=np.float32) for k in REGRESSION}}
    g = group_labels(window)
    assert g["biome"].tolist() == [1, 1, 2, 2] and g["in_view"].shape == (len(OBJECT_CLASSES), 4)
    assert g["regression"][0].tolist() == [1.5, 5.5, 9.5, 13.5]


# ---------------------------------------------------------------------------------------------- network
def test_network_shapes_features_and_readout() -> None:
    torch.manual_seed(0)
    det = WorldDetector(WorldNet(WorldNetConfig(height=32, width=32, embed_dim=8)), {"dataset": "t"})
    video = torch.rand(2, 3, 24, 32, 32) * 2 - 1
    out = det.net(video)
    assert out["biome"].shape == (2, len(BIOME_NAMES), 6) and out["regression"].shape == (2, len(REGRESSION), 6)
    f = det.features(video)
    assert f.shape == (2, 8) and f.dtype == np.float64
    np.testing.assert_allclose(det.features((video * 127.5 + 128).clamp(0, 255).to(torch.uint8)), f, atol=0.05)
    big = torch.nn.functional.interpolate(video[0].transpose(0, 1), size=(64, 64), mode="nearest")
    assert det.features(big.transpose(0, 1)[None]).shape == (1, 8)  # other sizes are resized first
    r = det.readout(video[0])
    assert r["biome"].shape == (24, len(BIOME_NAMES)) and np.allclose(r["biome"].sum(1), 1)
    assert r["regression"].shape == (24, len(REGRESSION)) and r["direction"].shape == (24,)
    with pytest.raises(ValueError, match="16 frames"):
        det.features(video[:, :, :12])


def test_colour_statistics_and_their_standardisation() -> None:
    video = torch.zeros(1, 3, 8, 8, 8)
    video[:, 0, :, :4] = 0.5  # red in the top half
    video[:, 2, 4:, :, :4] = torch.tensor([-1.0, 1.0]).repeat(2)[:, None, None].expand(4, 8, 4)  # a flicker
    s = colour_stats(video, 2).reshape(2, 2, 3, 2, 2)  # [T/4, mean|std, C, cells, cells]
    assert s[:, 0, 0, 0].eq(0.5).all() and s[:, 0, 0, 1].eq(0).all()  # red mean: top cells only
    assert s[0, 1].abs().max() < 1e-2 and s[1, 1, 2, :, 0].sub(1).abs().max() < 1e-2  # std: the flicker
    torch.manual_seed(0)
    net = WorldNet(WorldNetConfig(height=16, width=16, embed_dim=8, colour_cells=2, colour_heads=True))
    windows = [torch.rand(3, 16, 16, 16) * (0.1 + 0.2 * k) + 0.3 * k - 0.5 for k in range(4)]
    fit_colour_standardisation(net, windows)
    z = (torch.cat([colour_stats(w[None], 2)[0] for w in windows]) - net.colour_mean) / net.colour_std
    assert z.mean(0).abs().max() < 1e-5 and z.std(0).sub(1).abs().max() < 1e-4
    assert net(windows[0][None])["regression"].shape == (1, len(REGRESSION), 4)
    assert {"colour_mean", "colour_std"} <= set(net.state_dict())  # saved with the weights


def test_motion_statistics_read_the_scroll_speed_per_band() -> None:
    """A texture whose top half scrolls 1 px per frame and bottom half 2.5 px (sub-pixel, by interpolation):
    each band's speed is read to a tenth of a pixel, whatever the direction, and a still video reads 0."""
    torch.manual_seed(0)
    w, t = 64, 16
    row = torch.nn.functional.avg_pool1d(torch.rand(1, 1, 8 * w), 5, 1, 2)[0, 0]  # smooth 1-D texture

    def scroll(speed: float) -> Tensor:  # [T, W] rows of the texture translated by speed px per frame
        x = torch.arange(w)[None] + 100 + speed * torch.arange(t)[:, None]
        i = x.floor().long()
        f = x - i
        return row[i] * (1 - f) + row[i + 1] * f

    video = torch.empty(1, 3, t, 32, w)
    video[:, :, :, :16] = scroll(1.0)[None, None, :, None]
    video[:, :, :, 16:] = scroll(2.5)[None, None, :, None]
    video = video * 2 - 1
    m = motion_stats(video, 2)  # [1, T/4, 2 * bands]: speeds, then sharpness
    assert m.shape == (1, 4, 4)
    torch.testing.assert_close(m[0, :, :2] * w, torch.tensor([1.0, 2.5]).expand(4, 2), atol=0.1, rtol=0)
    torch.testing.assert_close(motion_stats(video.flip(-1), 2), m, atol=1e-5, rtol=0)  # mirrored: same speed
    assert (m[0, :, 2:] > 0.5).all()  # a clear match
    still = motion_stats(video[:, :, :1].expand(-1, -1, t, -1, -1), 2)
    assert still[0, :, :2].abs().max() * w < 0.01  # (the parabola through an exact match: a hair off 0)
    net = WorldNet(WorldNetConfig(height=32, width=w, embed_dim=4, colour_cells=1, colour_heads=True,
                                  motion_bands=2))
    assert net.head_input(video).shape == (1, 4, 4 + 6 + 4)  # e, colour, motion


def test_regression_head_refit_is_least_squares() -> None:
    torch.manual_seed(0)
    net = WorldNet(WorldNetConfig(height=16, width=16, embed_dim=4, colour_cells=1, colour_heads=True))
    videos = [torch.rand(3, 16, 16, 16) * 2 - 1 for _ in range(8)]
    items = [{"video": v, "labels": {"regression": torch.randn(len(REGRESSION), 4), "in_view": torch.zeros(len(OBJECT_CLASSES), 4, dtype=torch.long)}}
             for v in videos]
    fit_heads(net, items, ridges=(1e-9,))
    with torch.no_grad():
        x = torch.cat([net.head_input(v[None])[0] for v in videos]).double()  # [32, 4 + 6]
        pred = torch.cat([net(v[None])["regression"][0].T for v in videos]).double()
    y = torch.cat([it["labels"]["regression"].T for it in items]).double()
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    best = x1 @ torch.linalg.lstsq(x1, y).solution
    torch.testing.assert_close(pred, best, atol=1e-4, rtol=1e-4)  # ordinary least squares with a bias


def test_regression_head_refit_picks_each_targets_penalty_by_cross_validation() -> None:
    """A target that is a linear function of the head's input gets the weakest penalty, pure noise the
    strongest; the head then predicts the first almost exactly, the noise almost as a constant."""
    torch.manual_seed(0)
    net = WorldNet(WorldNetConfig(height=16, width=16, embed_dim=4, colour_cells=1, colour_heads=True))
    videos = [torch.rand(3, 16, 16, 16) * 2 - 1 for _ in range(24)]
    with torch.no_grad():
        x = torch.cat([net.head_input(v[None])[0] for v in videos])  # [96, 10]
    y = torch.randn(len(x), len(REGRESSION))
    y[:, 0] = x @ torch.randn(x.shape[1]) * 5
    items = [{"video": v, "labels": {"regression": y[4 * i:4 * i + 4].T, "in_view": torch.zeros(len(OBJECT_CLASSES), 4, dtype=torch.long)}}
             for i, v in enumerate(videos)]
    ridges = fit_heads(net, items, groups=list(range(len(videos))), ridges=(1e-3, 1e4))["regression_ridge"]
    names = list(REGRESSION)
    assert ridges[names[0]] == 1e-3 and all(ridges[k] == 1e4 for k in names[1:])
    with torch.no_grad():
        pred = torch.cat([net(v[None])["regression"][0].T for v in videos])
    torch.testing.assert_close(pred[:, 0], y[:, 0], atol=1e-2, rtol=1e-3)
    assert pred[:, 1:].std(0).max() < 0.3 * y[:, 1:].std(0).min()  # shrunk towards the mean


def test_in_view_refit_separates_a_rare_class_that_the_input_shows() -> None:
    """A class in view in 1 position of 8, exactly where one input feature is high: the class-balanced
    least-squares refit finds it (balanced accuracy 1), where plain least squares would answer "never"."""
    torch.manual_seed(0)
    net = WorldNet(WorldNetConfig(height=16, width=16, embed_dim=4, colour_cells=1, colour_heads=True,
                                  view_heads=True))
    videos = [torch.rand(3, 16, 16, 16) * 2 - 1 for _ in range(32)]
    with torch.no_grad():
        x = torch.cat([net.head_input(v[None])[0] for v in videos])  # [128, 10]
    in_view = torch.zeros(len(x), len(OBJECT_CLASSES), dtype=torch.long)
    in_view[:, 0] = (x[:, 4] > x[:, 4].quantile(7 / 8)).long()  # rare, and visible in input feature 4
    in_view[:, 1] = 1  # always in view: keeps its trained weights
    items = [{"video": v, "labels": {"in_view": in_view[4 * i:4 * i + 4].T,
                                     "regression": torch.zeros(len(REGRESSION), 4)}} for i, v in enumerate(videos)]
    before = net.heads["in_view"].weight[1].clone()
    fit_heads(net, items, view_ridge=1e-3)
    with torch.no_grad():
        pred = torch.cat([(net(v[None])["in_view"][0].T > 0).long() for v in videos])
    assert balanced_accuracy(pred[:, 0].numpy(), in_view[:, 0].numpy())["value"] > 0.95
    assert torch.equal(net.heads["in_view"].weight[1], before)


def test_negatives_are_flat_scrambled_and_recoloured_windows() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.linspace(-1, 1, 32)[:, None].expand(32, 32)
    video = torch.stack([torch.stack([y, 0.5 * y.T, -0.8 * y]) + 0.05 * torch.randn(3, 32, 32, generator=g)
                         for _ in range(8)], 1).clamp(-1, 1)  # [3, 8, 32, 32]: a vertical gradient (sky, ground)
    videos = video[None].expand(3, -1, -1, -1, -1).clone()
    neg = make_negatives(videos, derived_generator(1, 2))
    assert NEGATIVE_KINDS == ("flat", "scrambled", "recoloured") and neg.shape == videos.shape
    assert torch.equal(neg, make_negatives(videos, derived_generator(1, 2)))  # a pure function of its stream
    flat, scrambled, recoloured = neg
    assert flat.std(dim=(2, 3)).max() < 0.5 * video.std(dim=(2, 3)).min()  # no layout left
    assert torch.equal(scrambled.flatten(2).sort(dim=2).values, video.flatten(2).sort(dim=2).values)  # same pixels
    assert not torch.equal(scrambled, video)
    perm = [next((c for c in range(3) for sign in (1, -1) if torch.equal(recoloured[k], sign * video[c])), None)
            for k in range(3)]
    assert sorted(perm) == [0, 1, 2] and perm != [0, 1, 2]  # a permutation, never the identity


def test_real_head_exists_only_with_negatives() -> None:
    cfg = WorldNetConfig(height=32, width=32, channels=(8, 8, 16, 24), embed_dim=4, colour_cells=1,
                         colour_heads=True, view_heads=True, negatives=True)
    video = torch.rand(2, 3, 16, 32, 32) * 2 - 1
    assert WorldNet(cfg)(video)["real"].shape == (2, 1, 4)
    assert "real" not in WorldNet(WorldNetConfig(height=32, width=32, channels=(8, 8, 16, 24)))(video)
    assert WorldNetConfig.from_dict(cfg.to_dict()) == cfg
    p = WorldDetector(WorldNet(cfg), {}).realness(video)
    assert p.shape == (2,) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ValueError, match="no 'real' head"):
        WorldDetector(WorldNet(WorldNetConfig(height=32, width=32, channels=(8, 8, 16, 24))), {}).realness(video)


def test_object_network_answers_from_each_groups_middle_frame(tmp_path: Path) -> None:
    """With ``object_net`` the in-view logits come from the per-frame network on frame 2 of each 4 (the frame
    group_labels takes the label from): changing the other frames changes nothing, changing one group's
    middle frame changes only that position; the joint step reads the linear head instead; it saves and loads whole
    (its BatchNorm statistics too)."""
    torch.manual_seed(0)
    cfg = WorldNetConfig(height=32, width=32, channels=(8, 8, 16, 24), embed_dim=4, object_net=True)
    net = WorldNet(cfg).eval()
    assert WorldNetConfig.from_dict(cfg.to_dict()) == cfg
    video = torch.rand(2, 3, 16, 32, 32) * 2 - 1
    with torch.no_grad():
        base = net(video)["in_view"]
        linear = net(video, objects=False)["in_view"]  # the joint training's head (its loss shapes the trunk)
        assert base.shape == linear.shape == (2, len(OBJECT_CLASSES), 4) and not torch.equal(base, linear)
        others = video.clone()
        others[:, :, [t for t in range(16) if t % 4 != 2]] = torch.rand(2, 3, 12, 32, 32) * 2 - 1
        assert torch.equal(net(others)["in_view"], base)
        middle = video.clone()
        middle[:, :, 6] = -middle[:, :, 6]  # group 1's middle frame
        changed = (net(middle)["in_view"] - base).abs().amax(dim=(0, 1))
        assert changed[1] > 0 and changed[[0, 2, 3]].eq(0).all()
    net.objects.body[1].running_mean.add_(0.5)  # BatchNorm statistics, as training leaves them
    det = load_world_detector(save_world_detector(net, tmp_path / "d.safetensors", {}))
    assert det.net.cfg == cfg and torch.equal(det.net(video)["in_view"], net(video)["in_view"])
    assert det.readout(video[0])["in_view"].shape == (16, len(OBJECT_CLASSES))


def test_object_network_learns_a_small_object_anywhere_in_the_frame() -> None:
    """A 4x4 red square at a random place in half of the frames (a textured background in all): after 200
    steps the network tells them apart on new frames (balanced accuracy > 0.9), where the 4x4-pooled trunk
    features could not see a few dozen pixels; two trainings from one seed are bit-identical."""
    from lvg.metrics.world import ObjectNet

    def frames(n: int, seed: int) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(seed)
        x = torch.nn.functional.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=(32, 32), mode="bilinear")
        x = x * 0.6 + 0.2 * torch.rand(n, 3, 32, 32, generator=g)
        y = torch.zeros(n, len(OBJECT_CLASSES), dtype=torch.long)
        y[:, 2] = (torch.rand(n, generator=g) < 0.5).long()
        for i in torch.nonzero(y[:, 2])[:, 0].tolist():
            r, c = torch.randint(0, 28, (2,), generator=g).tolist()
            x[i, :, r:r + 4, c:c + 4] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
        return (x * 255).round().to(torch.uint8), y

    x, y = frames(512, 0)
    torch.manual_seed(0)
    net = ObjectNet(len(OBJECT_CLASSES))
    twin = copy.deepcopy(net)
    record = train_object_net(net, x, y, steps=200, batch=32, lr=3e-3, seed=1)
    assert record["frames"] == 512 and record["in_view_fraction"]["animals"] == pytest.approx(y[:, 2].float().mean())
    test_x, test_y = frames(256, 1)
    with torch.no_grad():
        pred = (net(test_x.float() / 127.5 - 1) > 0).long()
    assert not net.training and balanced_accuracy(pred[:, 2].numpy(), test_y[:, 2].numpy())["value"] > 0.9
    train_object_net(twin, x, y, steps=200, batch=32, lr=3e-3, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), twin.state_dict().values(), strict=True))


def test_balanced_accuracy_ignores_the_class_balance() -> None:
    truth = np.array([1] * 9 + [0])
    assert balanced_accuracy(np.ones(10, np.int64), truth)["value"] == 0.5  # the constant answer: chance
    assert balanced_accuracy(truth, truth) == {"value": 1.0, "chance": 0.5, "metric": "balanced accuracy"}
    r = balanced_accuracy(np.ones(4, np.int64), np.ones(4, np.int64))
    assert r["value"] != r["value"] and "all in view" in r["note"]  # undefined: NaN, and says why


# ---------------------------------------------------------------------------------------------- semantic
def test_semantic_change_counts_switches_and_slopes() -> None:
    probs = np.zeros((300, 3))
    probs[:100, 0] = probs[100:250, 1] = probs[250:, 2] = 1
    probs[150, :] = [0, 0, 1]  # one misread frame: smoothed away
    assert semantic.biome_changes(probs) == 2
    reg = np.zeros((600, len(REGRESSION)))
    col = list(REGRESSION).index("sun")
    reg[:, col] = np.arange(600) * 0.001 / semantic.HOUR_SCALE  # +0.001 hour per frame
    assert semantic.hour_slope(reg) == pytest.approx(0.001, rel=1e-6)
    summary = semantic.change_summary([{"biome": probs, "regression": reg[:300]}, {"biome": probs[:30],
                                                                                  "regression": reg[:30]}])
    assert summary["num_videos"] == 2 and summary["frames"] == [300, 30]
    assert summary["biome_changes_per_min"] == pytest.approx(2 / (330 / 30 / 60))
    lag1 = summary["drift"]["mean"][0]
    assert lag1 == pytest.approx(0.001 / semantic.HOUR_SCALE / len(REGRESSION))
    assert summary["drift"]["mean"][-1] is None  # no pair 512 frames apart
    # a head that does not beat chance on held-out clips is left out of every metric, and named
    heldout = {"sun": {"metric": "r2", "value": -1.3, "chance": -0.4},
               "biome": {"metric": "accuracy", "value": 0.8, "chance": 0.4}}
    left_out = semantic.unreliable_heads(heldout)
    assert list(left_out) == ["sun"] and "-1.300" in left_out["sun"]
    heldout["fog"] = {"metric": "r2", "value": 0.12, "chance": -0.01}  # above chance on the few clips ...
    renders = {"fog": {"metric": "r2", "value": 0.02, "chance": 0.0}}  # ... not on the renders: left out
    assert set(semantic.unreliable_heads(heldout, renders)) == {"sun", "fog"}
    assert "held-out renders" in semantic.unreliable_heads(heldout, renders)["fog"]
    assert "fog" not in semantic.unreliable_heads(heldout)  # 0.13 above chance on the clips alone
    del heldout["fog"]
    gated = semantic.change_summary([{"biome": probs, "regression": reg[:300]}], left_out=left_out)
    assert gated["hour_drift_per_1k"] is None and gated["left_out"] == left_out
    assert "sun" not in gated["drift"]["heads"] and len(gated["drift"]["heads"]) == len(REGRESSION) - 1
    assert gated["drift"]["mean"][0] == 0.0  # only the hour column moved
    assert gated["biome_changes_per_min"] == pytest.approx(2 / (300 / 30 / 60))


# ---------------------------------------------------------------------------------------------- sanity
def test_degradations_do_what_they_say_reproducibly() -> None:
    g = torch.Generator().manual_seed(0)
    clip = (torch.rand(3, 16, 32, 32, generator=g) * 255).to(torch.uint8)
    clip[:, :, :16] = torch.arange(16, dtype=torch.uint8).view(1, 16, 1, 1) * 10  # a moving part
    shuffled = sanity.degrade(clip, "shuffled", 0, 3)
    assert torch.equal(shuffled, sanity.degrade(clip, "shuffled", 0, 3))  # reproducible
    assert sorted(shuffled[0, :, 0, 0].tolist()) == sorted(clip[0, :, 0, 0].tolist())
    assert not torch.equal(shuffled, clip)
    frozen = sanity.degrade(clip, "frozen", 0, 0)
    assert all(torch.equal(frozen[:, t], clip[:, 0]) for t in range(16))
    blurred = sanity.degrade(clip, "blurred", 0, 0)
    noisy = (slice(None), slice(None), slice(20, 28), slice(8, 24))  # the white-noise half: smoothed away
    assert blurred[noisy].float().std() < 0.25 * clip[noisy].float().std() and blurred.dtype == torch.uint8
    blobs = sanity.degrade(clip, "blobs", 0, 0)
    assert blobs.shape == clip.shape and not torch.equal(blobs[:, 0], blobs[:, 1])  # new blobs every frame
    assert not torch.equal(blobs, sanity.degrade(clip, "blobs", 0, 1))
    assert torch.equal(blobs, sanity.degrade(clip, "blobs", 0, 0))
    assert (blobs.amax(dim=(0, 2, 3)) >= 240).all()  # every frame has a (nearly) fully saturated blob
    with pytest.raises(ValueError, match="unknown degradation"):
        sanity.degrade(clip, "inverted", 0, 0)


def test_sanity_verdict() -> None:
    ok = sanity.verdict({"real": {"mean": 2.0, "std": 0.5}, "shuffled": {"mean": 9.0},
                         "frozen": {"mean": 30.0}})
    assert ok["passed"] and ok["bar"] == 4.0 and ok["degradations"]["frozen"]["ratio"] == 15.0
    bad = sanity.verdict({"real": {"mean": 2.0, "std": 0.1}, "blurred": {"mean": 3.0}})
    assert not bad["passed"] and bad["real_best"] and not bad["degradations"]["blurred"]["clearly_worse"]
    worst = sanity.verdict({"real": {"mean": 5.0, "std": 0.1}, "blobs": {"mean": 1.0}})
    assert not worst["real_best"] and not worst["passed"]
    assert "NOT clearly worse" in sanity.ranking_line("world", 16, bad)


# ---------------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def world_dataset(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("world") / "world.csv"
    project = tiny_dataset.parents[2]
    write_clip_states(project / "data/clips/tiny.csv", project / "data/raw/tiny", out)
    return tiny_dataset, out


SECTION = dict(resolution="16x16", steps=6, batch=4, holdout=0.3, eval_windows=16, log_every=2,
               checkpoint_every=3, keep_checkpoints=0)


@pytest.mark.slow
def test_windows_reverse_and_mirror_with_their_labels(world_dataset) -> None:
    """A mirrored or time-reversed window shows motion the other way, so its direction label flips (both:
    it flips back); reversal plays the frames and their labels backwards; the in-view threshold counts
    coverage above it only."""
    dataset, states = world_dataset
    labels = WorldLabels.read(states)
    data = WorldWindows(VideoDataset(dataset, 16, 16, 16, x_flip=True), labels, heldout=False, fraction=0.3,
                        time_reverse=True)
    clip = data.clips[0]
    plain = data.item(clip, 0, False)
    for flip, reverse in ((True, False), (False, True), (True, True)):
        item = data.item(clip, 0, flip, reverse)
        video = plain["video"].flip(3) if flip else plain["video"]
        torch.testing.assert_close(item["video"], video.flip(1) if reverse else video)
        expected = 1 - plain["labels"]["direction"] if flip != reverse else plain["labels"]["direction"]
        assert torch.equal(item["labels"]["direction"], expected.flip(0) if reverse else expected)
        if reverse:
            torch.testing.assert_close(item["labels"]["regression"], plain["labels"]["regression"].flip(1))
    seen = {data[k]["labels"]["direction"].float().mean().item() for k in range(40)}
    assert seen >= {0.0, 1.0}  # both directions drawn
    means = regression_means([data])
    assert means.shape == (len(REGRESSION),) and np.isfinite(means).all()
    table = pd.read_csv(states)
    strict = WorldLabels.read(states, in_view_min=0.01)
    cid = data.base.clip_ids[clip]
    rows = table[table["clip_id"] == cid].sort_values("frame")
    for c in OBJECT_CLASSES:
        assert (strict.labels[cid][f"in_view_{c}"] == (rows[c].to_numpy() > 0.01)).all()
        assert (labels.labels[cid][f"in_view_{c}"] == (rows[c].to_numpy() > 0)).all()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, num_shots=8, frames=16, height=16, width=16, seed=3, render_height=32, shots_per_ride=3)
    return out


def test_corpus_is_labelled_renders_in_the_dataset_format(corpus: Path) -> None:
    table = pd.read_csv(corpus / WORLD_CSV)
    assert list(table.columns) == ["clip_id", *WORLD_COLUMNS] and len(table) == 8 * 16
    assert (table["kind"] == "shot").all() and table.groupby("clip_id")["frame"].apply(list).map(
        lambda f: f == list(range(16))).all()
    first = table.groupby("clip_id").first()
    assert first["hour"].nunique() == 8 and first["exposure"].nunique() == 8  # every shot its own state
    assert sorted(table["clip_id"].unique()) == sorted(clip_id(r, j) for r, k in enumerate((3, 3, 2)) for j in range(k))
    shards = ShardReader(corpus / "0016x0016")
    assert sorted(shards.clip_ids) == sorted(table["clip_id"].unique()) and shards.num_frames(0) == 16
    ride = list(render_ride(ride_seed(3, 1), 3, 16, 30, 32, 16, 16))  # ride 1 again, from its seed
    assert [shot for shot, _, _ in ride] == [0] * 16 + [1] * 16 + [2] * 16
    stored = VideoDataset(corpus, 16, 16, 16)
    frames = stored.read_frames(stored.clip_ids.index(clip_id(1, 2)), 0, 16)
    assert np.abs(frames.astype(int) - np.stack([f for _, f, _ in ride[32:]])).mean() < 2  # JPEG q100 of them
    hours = table[table["clip_id"] == clip_id(1, 2)]["hour"]
    assert [s["hour"] for _, _, s in ride[32:]] == pytest.approx(hours.tolist(), abs=1e-4)
    assert first.loc[clip_id(1, 2), "hour"] > first.loc[clip_id(1, 0), "hour"]  # the ride goes on in between
    assert ride_seed(0, 9999) < ride_seed(1, 0) and ride_seed(0, 0) > 1000 * 999 + 999  # disjoint seed ranges
    labels = WorldLabels.read(corpus / WORLD_CSV)
    ds = VideoDataset(corpus, 16, 16, 16)
    train, held = (WorldWindows(ds, labels, heldout=h, fraction=0.3) for h in (False, True))
    assert len(train) + len(held) == 8 and len(WorldWindows(ds, labels, heldout=None)) == 8
    both = ConcatWindows([train, held])
    assert len(both) == 8 and torch.equal(both[13]["video"], both[13]["video"])  # pure in its key
    assert torch.equal(both[len(train)]["video"], held.sample(0, len(train))["video"])


@pytest.fixture(scope="module")
def object_rides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("objects")
    write_corpus(out, num_shots=12, frames=4, height=16, width=16, seed=4, render_height=32)
    return out


def test_object_frames_are_every_frame_of_the_rides_with_its_labels(object_rides: Path) -> None:
    frames, labels = read_object_frames(object_rides, 16, 16, in_view_min=0.0)
    assert frames.shape == (48, 3, 16, 16) and frames.dtype == torch.uint8
    table = WorldLabels.read(object_rides / WORLD_CSV)
    ids = VideoDataset(object_rides, 16, 16, 1).clip_ids
    assert torch.equal(labels[4:8, 3], torch.from_numpy(table.labels[ids[1]]["in_view_near_objects"]))


OBJECT_SECTION = SECTION | {"corpus": {"object_shots": 12}, "object_net": {"steps": 5, "batch": 8}}


@pytest.mark.slow
def test_detector_trains_reports_heldout_accuracy_and_resumes_exactly(world_dataset, corpus: Path,
                                                                      object_rides: Path, tmp_path: Path) -> None:
    """Also with the object network, trained at export: the resumed run's detector file is bit-identical."""
    dataset, states = world_dataset
    kw = {"corpus_dir": corpus, "objects_dir": object_rides}
    a = run_train_world(copy.deepcopy(OBJECT_SECTION), dataset, states, tmp_path / "a", resume=False, **kw)
    run_train_world(OBJECT_SECTION | {"steps": 3}, dataset, states, tmp_path / "b", **kw)
    run_train_world(copy.deepcopy(OBJECT_SECTION), dataset, states, tmp_path / "b", **kw)
    assert_same_run(tmp_path / "a", tmp_path / "b", 6, networks=("net",), columns=7)
    assert (tmp_path / "b/detector.safetensors").read_bytes() == a.read_bytes()
    meta = json.loads(a.with_suffix(".json").read_text())
    assert meta["detector"]["object_net"] and meta["object_net"]["frames"] == 48 and meta["object_net"]["steps"] == 5
    with pytest.raises(LvgError, match="object_shots"):
        run_train_world(copy.deepcopy(OBJECT_SECTION), dataset, states, tmp_path / "c", corpus_dir=corpus)
    assert meta["model"] == "world" and meta["heldout_clips"] >= 1 and meta["train_clips"] >= 1
    assert meta["corpus_clips"] + meta["heldout_render_clips"] == 8 and meta["heldout_render_clips"] >= 1
    heads = {"biome", "direction", *(f"in_view_{c}" for c in OBJECT_CLASSES), *REGRESSION, "real"}
    held = meta["heldout"]
    assert 0 <= held["real"]["value"] <= 1 and held["real"]["metric"] == "balanced accuracy"
    assert set(held) == set(meta["heldout_renders"]) == heads
    assert all(0 <= v["value"] <= 1 and 0 < v["chance"] <= 1 for v in held.values() if v["metric"] == "accuracy")
    assert all(v["chance"] == 0.5 for v in held.values() if v["metric"] == "balanced accuracy" and "note" not in v)
    assert all(v["lift"] == pytest.approx(v["value"] - v["chance"]) for v in held.values() if v["value"] == v["value"])
    det = load_world_detector(a)
    assert det.describe()["heldout"] == held and len(det.sha256) == 64
    assert det.net.colour_std.ne(1).any()  # the standardisation fitted on the training windows was saved
    real = VideoDataset(dataset, 16, 16, 16)
    clip = torch.from_numpy(real.read_frames(0, 0, 16)).permute(3, 0, 1, 2)[None]
    assert det.features(clip).shape == (1, 32)
    (a.with_suffix(".json")).write_text(json.dumps(meta | {"model": "lowres.VideoGenerator"}))
    with pytest.raises(InputError, match="expected the 'world' detector"):
        load_world_detector(a)
