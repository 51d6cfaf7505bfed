"""Training reader: uniform over clips, windows inside clips, paired LR/HR, flips, determinism, reference reads."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path, PurePosixPath

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from lvg.data.preprocess import preprocess_dataset
from lvg.data.reader import ClipSampler, PairedVideoDataset, VideoDataset
from lvg.data.shards import ShardReader, ShardWriter
from lvg.errors import InputError

LENGTHS = {"a/short": 8, "b/long": 120, "c/mid": 20, "d/x/00": 60, "e/tiny": 3}  # e/tiny < seq_length
SEQ = 4
LR, HR = (8, 8), (16, 16)


def coded_frame(clip: int, k: int, h: int, w: int) -> np.ndarray:
    """R = 5 + 2k (frame index), G = 20 + 40 * clip, B = a left-to-right ramp (makes flips visible)."""
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = 5 + 2 * k
    img[..., 1] = 20 + 40 * clip
    img[..., 2] = np.linspace(0, 255, w)[None, :].round().astype(np.uint8)
    return img


def decode_code(video: torch.Tensor) -> tuple[list[int], list[int]]:
    """(frame indices, clip numbers) from a [3, T, H, W] window in [-1, 1]."""
    x = (video + 1) * 255 / 2
    return ([round((v - 5) / 2) for v in x[0].mean(dim=(1, 2)).tolist()],
            [round((v - 20) / 40) for v in x[1].mean(dim=(1, 2)).tolist()])


def write_res(root: Path, res: tuple[int, int], lengths: dict[str, int], partitions: int = 3) -> Path:
    d = root / f"{res[0]:04d}x{res[1]:04d}"
    with ShardWriter(d, list(lengths), partitions) as w:
        for c, (cid, n) in enumerate(sorted(lengths.items())):
            for k in range(n):
                w.add_image(cid, coded_frame(c, k, *res))
    return d


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    write_res(root, LR, LENGTHS)
    write_res(root, HR, LENGTHS)
    return root


def test_items_drop_short_clips_and_read_right_frames(dataset_dir) -> None:
    ds = VideoDataset(dataset_dir, *HR, seq_length=SEQ)
    assert ds.clip_ids == ["a/short", "b/long", "c/mid", "d/x/00"]  # e/tiny (3 < 4 frames) dropped
    assert len(ds) == 4
    for i, cid in enumerate(ds.clip_ids):
        n = ds.num_frames(i)
        assert n == LENGTHS[cid]
        v = ds.read_window(i, n - SEQ)
        assert v.shape == (3, SEQ, *HR) and v.dtype == torch.float32
        assert v.min() >= -1 and v.max() <= 1
        frames, clips = decode_code(v)
        assert frames == list(range(n - SEQ, n)) and clips == [sorted(LENGTHS).index(cid)] * SEQ
    with pytest.raises(IndexError):
        ds.read_window(0, 8 - SEQ + 1)
    assert VideoDataset(dataset_dir, *HR, seq_length=SEQ, min_length=30).clip_ids == ["b/long", "d/x/00"]


def test_sampling_is_uniform_over_clips_not_frames(dataset_dir) -> None:
    ds = VideoDataset(dataset_dir, *LR, seq_length=SEQ, x_flip=True)
    g = torch.Generator().manual_seed(123)
    draws = [ds.sample(g) for _ in range(8000)]
    counts = np.bincount([c for c, _, _ in draws], minlength=4)
    # 8 vs 120 frames: frame-uniform sampling would give clip 1 ~58 % of the draws
    expected = len(draws) / 4
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.3, counts  # p = 0.001 for 3 degrees of freedom
    flips = np.mean([f for _, _, f in draws])
    assert 0.47 < flips < 0.53
    for c in range(4):  # every start in [0, n - T] is reachable and none outside
        starts = {s for cc, s, _ in draws if cc == c}
        n = ds.num_frames(c)
        assert min(starts) >= 0 and max(starts) <= n - SEQ
        if n <= 20:
            assert starts == set(range(n - SEQ + 1))
    assert not any(f for _, _, f in (VideoDataset(dataset_dir, *LR, seq_length=SEQ).sample(g) for _ in range(50)))


def test_determinism_given_generator_seed_epoch_and_key(dataset_dir) -> None:
    ds = VideoDataset(dataset_dir, *LR, seq_length=SEQ, x_flip=True, seed=7)
    a = [ds.sample(torch.Generator().manual_seed(5)) for _ in range(3)]
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert [ds.sample(g1) for _ in range(20)] == [ds.sample(g2) for _ in range(20)]
    assert a[0] == a[1] == a[2]
    items = [ds[k] for k in range(12)]
    again = pickle.loads(pickle.dumps(ds))
    for k, it in enumerate(items):
        other = again[k]
        assert (it["clip_index"], it["start"], it["flip"]) == (other["clip_index"], other["start"], other["flip"])
        assert torch.equal(it["video"], other["video"])
        assert it["clip_index"] == k % 4
    keys = [(it["start"], it["flip"]) for it in items]
    ds.set_epoch(1)
    assert [(ds[k]["start"], ds[k]["flip"]) for k in range(12)] != keys
    ds.set_epoch(0)
    assert [(ds[k]["start"], ds[k]["flip"]) for k in range(12)] == keys
    assert VideoDataset(dataset_dir, *LR, seq_length=SEQ, x_flip=True, seed=8)[1]["start"] is not None


def test_dataloader_workers_match_in_process(dataset_dir) -> None:
    ds = VideoDataset(dataset_dir, *LR, seq_length=SEQ, x_flip=True, seed=3)
    ds.read_window(0, 0)  # open a zip handle in the parent: workers must not share it
    sampler = ClipSampler(len(ds), seed=1)
    loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2)
    it = iter(loader)
    batches = [next(it) for _ in range(3)]
    del it
    keys = [k for k, _ in zip(ClipSampler(len(ds), seed=1), range(12), strict=False)]
    ref = torch.stack([ds[k]["video"] for k in keys])
    assert torch.equal(torch.cat([b["video"] for b in batches]), ref)


def test_clip_sampler_rounds_and_resume() -> None:
    keys = [k for k, _ in zip(ClipSampler(5, seed=2), range(23), strict=False)]
    for r in range(4):
        assert sorted(k % 5 for k in keys[5 * r:5 * r + 5]) == list(range(5))
        assert all(k // 5 == r for k in keys[5 * r:5 * r + 5])
    resumed = [k for k, _ in zip(ClipSampler(5, seed=2, start=13), range(10), strict=False)]
    assert resumed == keys[13:23]


def test_window_reads_only_its_frames(dataset_dir, monkeypatch) -> None:
    ds = VideoDataset(dataset_dir, *HR, seq_length=SEQ)
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting_open(self, name, *args, **kwargs):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    ds.read_window(1, 100, length=6)
    assert opened == [f"b/long/frame_{k:06d}.jpg" for k in range(100, 106)]


def test_paired_same_indices_and_same_flip(dataset_dir) -> None:
    pair = PairedVideoDataset(dataset_dir, lr=LR, hr=HR, seq_length=SEQ, x_flip=True, seed=11)
    assert pair.clip_ids == ["a/short", "b/long", "c/mid", "d/x/00"]
    seen = set()
    for k in range(40):
        it = pair[k]
        lr, hr = it["lr_video"], it["hr_video"]
        assert lr.shape == (3, SEQ, *LR) and hr.shape == (3, SEQ, *HR)
        assert decode_code(lr) == decode_code(hr)
        assert decode_code(lr)[0] == list(range(it["start"], it["start"] + SEQ))
        # B ramps left->right unless flipped; both resolutions agree
        for v in (lr, hr):
            assert (v[2, :, :, 0].mean() > v[2, :, :, -1].mean()) == it["flip"]
        plain_lr, plain_hr = pair.read_window(it["clip_index"], it["start"])
        if it["flip"]:
            assert torch.equal(lr, plain_lr.flip(-1)) and torch.equal(hr, plain_hr.flip(-1))
        else:
            assert torch.equal(lr, plain_lr) and torch.equal(hr, plain_hr)
        seen.add(it["flip"])
    assert seen == {True, False}


def test_paired_mismatch_names_both_folders(tmp_path) -> None:
    write_res(tmp_path, LR, LENGTHS)
    write_res(tmp_path, HR, {**LENGTHS, "c/mid": 19})
    with pytest.raises(InputError) as e:
        PairedVideoDataset(tmp_path, lr=LR, hr=HR, seq_length=SEQ)
    assert "0008x0008" in str(e.value) and "0016x0016" in str(e.value) and "c/mid" in str(e.value)
    write_res(tmp_path, HR, {k: v for k, v in LENGTHS.items() if k != "a/short"})
    with pytest.raises(InputError, match="a/short"):
        PairedVideoDataset(tmp_path, lr=LR, hr=HR, seq_length=SEQ)


def test_missing_folder_and_bad_zip(tmp_path) -> None:
    with pytest.raises(InputError, match="0016x0016"):
        VideoDataset(tmp_path, 16, 16, SEQ)
    d = tmp_path / "0016x0016"
    d.mkdir()
    (d / "partition_0000.zip").write_bytes(b"nope")
    with pytest.raises(InputError) as e:
        VideoDataset(tmp_path, 16, 16, SEQ)
    assert e.value.path == str(d / "partition_0000.zip")


def test_reference_style_loader_reads_our_preprocess_output(tmp_path) -> None:
    """The reference's dataset.py logic (glob, frame_paths.json, <clip>/<frame>) on preprocess output."""
    raw = tmp_path / "raw"
    raw.mkdir()
    with av.open(str(raw / "v.mp4"), "w") as out:
        s = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        s.height, s.width, s.pix_fmt = 48, 80, "yuv420p"
        for k in range(30):
            frame = coded_frame(0, 4 * k, 48, 80)
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    (tmp_path / "clips.csv").write_text("clip_id,source,start_frame,end_frame\n"
                                        "v/0_00-0_01/00,v,0,12\nv/0_00-0_01/01,v,12,30\nv/late,v,20,26\n")
    for res in (LR, HR):
        preprocess_dataset(tmp_path / "clips.csv", raw, tmp_path / "ds" / f"{res[0]:04d}x{res[1]:04d}", *res, 2)

    dataset_path = tmp_path / "ds" / "0016x0016"
    frame_paths = {}
    for partition in dataset_path.glob("*.zip"):
        with zipfile.ZipFile(partition) as zf, zf.open("frame_paths.json", "r") as fp:
            frame_paths[partition.stem] = json.load(fp)
    video_paths = [(pn, clip, names) for pn, pfp in sorted(frame_paths.items())
                   for clip, names in sorted(pfp.items()) if len(names) >= SEQ]
    ours = VideoDataset(tmp_path / "ds", *HR, seq_length=SEQ)
    r0 = ShardReader(dataset_path)
    assert [c for _, c, _ in video_paths] == ours.clip_ids == ["v/0_00-0_01/00", "v/0_00-0_01/01", "v/late"]
    for i, (pn, clip, names) in enumerate(video_paths):
        assert len(names) == ours.num_frames(i)
        with zipfile.ZipFile(dataset_path / f"{pn}.zip") as zf:
            frames = []
            for name in names[:SEQ]:
                with zf.open(str(PurePosixPath(clip).joinpath(name)), "r") as fp:
                    frames.append(torch.from_numpy(np.array(Image.open(fp))).permute(2, 0, 1))
        ref = 2 * torch.stack(frames, dim=1).to(torch.float32) / 255 - 1
        assert torch.equal(ref, ours.read_window(i, 0))  # bit-identical to the reference's decoding
        assert np.array_equal(ref[:, 0].permute(1, 2, 0).numpy(), r0.read_frame(i, 0, dtype="float"))
    # the shared reader agrees on the raw bytes and on pickling without open handles
    r = ShardReader(dataset_path)
    r.read_jpeg(0, 0)
    assert r._zips and not pickle.loads(pickle.dumps(r))._zips
    PairedVideoDataset(tmp_path / "ds", lr=LR, hr=HR, seq_length=SEQ)
