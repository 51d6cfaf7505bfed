"""Preprocess: real H.264 sources -> reference-format shards, checked frame by frame against the source."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from lvg.data.preprocess import crop_box, crop_resize, preprocess_dataset, resize_frame
from lvg.data.reader import PairedVideoDataset
from lvg.data.shards import ShardReader, ShardWriter, assign_partitions, encode_jpeg
from lvg.data.video import iter_frames, iter_video_frames, to_rgb
from lvg.errors import InputError

SRC_H, SRC_W = 120, 200  # wider than 16:9 -> square and 9:16 targets both crop
SOURCES = {"src_a": 72, "src_b": 90}
CLIPS = [  # (clip_id, source, start, end): overlapping, gapped, split-interval pieces, one ending at the end
    ("src_a/0_00-0_01", "src_a", 0, 30),
    ("src_a/0_01-0_02/00", "src_a", 30, 50),
    ("src_a/0_01-0_02/01", "src_a", 50, 72),
    ("src_b/0_00-0_02", "src_b", 5, 45),
    ("src_b/0_01-0_02", "src_b", 40, 60),
    ("src_b/0_02-0_03", "src_b", 70, 80),
]
RESOLUTIONS = [(16, 16), (32, 32), (9, 16)]
PARTITIONS = 4


def synth_frame(k: int, h: int = SRC_H, w: int = SRC_W) -> np.ndarray:
    """Frame ``k``: brightness 20 + 2k plus a fixed gradient and a white stripe moving 7 px per frame."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 20 + 2 * k + 30 * x / w + 10 * y / h
    img = np.stack([base, base * 0.9 + 10, base * 0.8 + 20], axis=-1)
    c = (7 * k) % (w - 8)
    img[:, c:c + 6] = 250
    return np.clip(img, 0, 255).astype(np.uint8)


def write_video(path: Path, n: int, h: int = SRC_H, w: int = SRC_W) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "12", "preset": "ultrafast"})
        stream.height, stream.width, stream.pix_fmt = h, w, "yuv420p"
        for k in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(synth_frame(k, h, w), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_csv(path: Path, clips: list[tuple[str, str, int, int]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_id", "source", "interval", "start_frame", "end_frame", "num_frames", "fps", "start_by",
                    "end_by"])
        for cid, src, a, b in clips:
            w.writerow([cid, src, "0:00 0:01", a, b, b - a, 30.0, "interval", "interval"])
    return path


def reference_crop_resize(image: Image.Image, height: int, width: int) -> Image.Image:
    """The reference's center_crop_and_resize, float box and all (dataset_tools/utils.py)."""
    height_scale, width_scale = image.height / height, image.width / width
    if height_scale > width_scale:
        crop_height = height * width_scale
        y0 = (image.height - crop_height) // 2
        image = image.crop((0, y0, image.width, y0 + crop_height))
    elif width_scale > height_scale:
        crop_width = width * height_scale
        x0 = (image.width - crop_width) // 2
        image = image.crop((x0, 0, x0 + crop_width, image.height))
    return image.resize((width, height), Image.LANCZOS)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("pre")
    raw = root / "raw"
    raw.mkdir()
    for name, n in SOURCES.items():
        write_video(raw / f"{name}.mp4", n)
    clips_csv = write_csv(root / "clips.csv", CLIPS)
    decoded = {name: np.stack([f for _, f in iter_frames(raw / f"{name}.mp4")]) for name in SOURCES}
    out = {}
    for h, w in RESOLUTIONS:
        d = root / "processed" / f"{h:04d}x{w:04d}"
        out[(h, w)] = (d, preprocess_dataset(clips_csv, raw, d, h, w, PARTITIONS))
    return {"root": root, "raw": raw, "csv": clips_csv, "decoded": decoded, "out": out}


# ------------------------------------------------------------------------------------------ crop arithmetic
@pytest.mark.parametrize("src,dst", [((120, 200), (16, 16)), ((120, 200), (9, 16)), ((120, 200), (32, 32)),
                                     ((1080, 1920), (36, 64)), ((1080, 1920), (144, 256)),
                                     ((1080, 1920), (64, 64)), ((121, 203), (9, 16)), ((200, 120), (16, 16)),
                                     ((203, 121), (36, 64)), ((90, 160), (36, 64)), ((64, 64), (64, 64)),
                                     ((99, 177), (37, 61))])
def test_crop_resize_equals_reference_pil_float_box(src, dst) -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (*src, 3), dtype=np.uint8)
    ours = crop_resize(frame, crop_box(*src, *dst), *dst)
    ref = reference_crop_resize(Image.fromarray(frame), *dst)
    assert ours.size == (dst[1], dst[0])
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))


def test_crop_box_rounding_documented() -> None:
    # 120x200 -> 9x16: crop_h = 112.5, y from 3.0 to 115.5; PIL rounds half to even -> rows 3..116
    assert crop_box(120, 200, 9, 16) == (0, 3, 200, 116)
    assert crop_box(120, 200, 16, 16) == (40, 0, 160, 120)
    assert crop_box(64, 64, 32, 32) == (0, 0, 64, 64)


# ------------------------------------------------------------------------------------------ output layout
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_layout_shapes_and_counts(data, res) -> None:
    d, index = data["out"][res]
    assert sorted(p.name for p in d.iterdir()) == ["index.json"] + [f"partition_{p:04d}.zip"
                                                                     for p in range(PARTITIONS)]
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")], "temporary files left behind"
    reader = ShardReader(d)
    assert reader.clip_ids == sorted(c[0] for c in CLIPS)
    for cid, _, a, b in CLIPS:
        assert reader.num_frames(cid) == b - a
        assert reader.frame_names(cid) == [f"frame_{k:06d}.jpg" for k in range(b - a)]
        assert reader.read_frame(cid, 0).shape == (*res, 3)
        f = reader.read_frame(cid, b - a - 1, dtype="float")
        assert f.dtype == np.float32 and f.min() >= -1 and f.max() <= 1
    assert index["num_frames"] == sum(b - a for *_, a, b in CLIPS)


@pytest.mark.parametrize("res", RESOLUTIONS)
def test_frames_are_the_right_source_frames(data, res) -> None:
    """Frame k of a clip = crop+resize (default filter) of source frame start+k, up to JPEG q100 error, and
    no other frame."""
    d, _ = data["out"][res]
    reader = ShardReader(d)
    for src, frames in data["decoded"].items():
        assert frames.shape == (SOURCES[src], SRC_H, SRC_W, 3)
        box = crop_box(SRC_H, SRC_W, *res)
        expected = np.stack([np.asarray(resize_frame(f, box, *res)) for f in frames]).astype(np.int16)
        for cid, s, a, b in CLIPS:
            if s != src:
                continue
            got = reader.read_frames(cid, range(b - a)).astype(np.int16)
            for k in range(b - a):
                err = np.abs(expected - got[k]).reshape(len(frames), -1)
                assert err[a + k].max() <= 6, (cid, k, err[a + k].max())
                assert int(err.mean(axis=1).argmin()) == a + k, (cid, k)


def test_lr_and_hr_list_identical_clips_and_frames(data) -> None:
    lr, hr = ShardReader(data["out"][(16, 16)][0]), ShardReader(data["out"][(32, 32)][0])
    assert lr.frame_table() == hr.frame_table()
    assert [lr.partition(c).name for c in lr.clip_ids] == [hr.partition(c).name for c in hr.clip_ids]
    pair = PairedVideoDataset(data["root"] / "processed", lr=(16, 16), hr=(32, 32), seq_length=8)
    assert pair.clip_ids == sorted(c[0] for c in CLIPS)


# ------------------------------------------------------------------------------------------ byte format
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_zip_stored_jpeg_444_q100_and_frame_paths_json(data, res) -> None:
    d, _ = data["out"][res]
    expected_part = assign_partitions([c[0] for c in CLIPS], PARTITIONS)
    for p in range(PARTITIONS):
        with zipfile.ZipFile(d / f"partition_{p:04d}.zip") as zf:
            infos = zf.infolist()
            assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
            assert infos[-1].filename == "frame_paths.json"
            raw = zf.read("frame_paths.json")
            table = json.loads(raw)
            assert raw == json.dumps(table, indent=2, sort_keys=True).encode()  # the reference's bytes
            assert set(table) == {c for c, q in expected_part.items() if q == p}
            names = [i.filename for i in infos[:-1]]
            assert sorted(names) == sorted(f"{c}/{n}" for c, ns in table.items() for n in ns)
            for cid, ns in table.items():
                assert ns == sorted(ns)
                with Image.open(io.BytesIO(zf.read(f"{cid}/{ns[0]}"))) as im:
                    assert im.format == "JPEG" and im.mode == "RGB" and im.size == (res[1], res[0])
                    assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
                    assert all(f == 1 and v == 1 for _, f, v, _ in im.layer)
                    assert all(max(t) == 1 for t in im.quantization.values())  # quality 100


def test_partitions_follow_numpy_array_split() -> None:
    ids = [f"c{i:02d}" for i in range(11)]
    parts = assign_partitions(reversed(ids), 4)
    expected = np.array_split(np.array(sorted(ids)), 4)
    for p, chunk in enumerate(expected):
        assert [c for c in sorted(ids) if parts[c] == p] == list(chunk)


def test_index_json(data) -> None:
    d, index = data["out"][(9, 16)]
    assert json.loads((d / "index.json").read_text()) == index
    assert index["resolution"] == [9, 16] and index["resolution_dir"] == "0009x0016"
    assert index["jpeg"] == {"quality": 100, "subsampling": "4:4:4"}
    assert index["sources"]["src_a"]["crop"] == [{"source_size": [SRC_H, SRC_W], "box": [0, 3, 200, 116]}]
    assert index["num_clips"] == len(CLIPS) and index["num_partitions"] == PARTITIONS
    for part in index["partitions"]:
        f = d / part["file"]
        assert part["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
        assert part["size"] == f.stat().st_size
    by_id = {c["clip_id"]: c for c in index["clips"]}
    for cid, src, a, b in CLIPS:
        assert by_id[cid] == {"clip_id": cid, "source": src, "start_frame": a, "end_frame": b,
                              "num_frames": b - a, "partition": ShardReader(d).partition(cid).name}


def test_output_is_byte_reproducible(data, tmp_path) -> None:
    d = tmp_path / "0009x0016"
    again = preprocess_dataset(data["csv"], data["raw"], d, 9, 16, PARTITIONS, progress=True)
    assert again["partitions"] == data["out"][(9, 16)][1]["partitions"]


# ------------------------------------------------------------------------------------------ errors
def _no_leftovers(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_clip_past_end_of_video(data, tmp_path) -> None:
    bad = write_csv(tmp_path / "bad.csv", [*CLIPS[:2], ("src_a/late", "src_a", 60, 80)])
    out = tmp_path / "proc" / "0016x0016"
    with pytest.raises(InputError) as e:
        preprocess_dataset(bad, data["raw"], out, 16, 16, 2)
    assert e.value.path == str(bad) and e.value.entry == "src_a/late"
    assert "72 frames" in str(e.value) and "src_a.mp4" in str(e.value)
    assert not out.exists()
    _no_leftovers(out.parent)


def test_failure_keeps_previous_output(data, tmp_path) -> None:
    out = tmp_path / "0016x0016"
    good = preprocess_dataset(data["csv"], data["raw"], out, 16, 16, 2)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = write_csv(tmp_path / "bad.csv", [("src_b/late", "src_b", 80, 95)])
    with pytest.raises(InputError):
        preprocess_dataset(bad, data["raw"], out, 16, 16, 2)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert good["num_clips"] == len(CLIPS)
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_bad_source_video_names_the_video(data, tmp_path, damage) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "src_a.mp4").write_bytes((data["raw"] / "src_a.mp4").read_bytes())
    full = (data["raw"] / "src_b.mp4").read_bytes()
    if damage == "garbage":
        (raw / "src_b.mp4").write_bytes(b"\x00not a video" * 500)
    elif damage == "truncated":
        (raw / "src_b.mp4").write_bytes(full[: len(full) // 2])
    out = tmp_path / "proc" / "0016x0016"
    with pytest.raises(InputError) as e:
        preprocess_dataset(data["csv"], raw, out, 16, 16, 2)
    assert e.value.path == str(raw / "src_b.mp4")
    assert not out.exists()
    _no_leftovers(out.parent)


@pytest.mark.parametrize("rows,problem", [
    ([("a/x", "src_a", 0, 10), ("a/x", "src_a", 10, 20)], "duplicate"),
    ([("a/../x", "src_a", 0, 10)], "normalised"),
    ([("/abs", "src_a", 0, 10)], "relative"),
    ([("a/x", "src_a", 10, 10)], "start_frame < end_frame"),
])
def test_bad_clip_table(data, tmp_path, rows, problem) -> None:
    bad = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(InputError, match=problem) as e:
        preprocess_dataset(bad, data["raw"], tmp_path / "0016x0016", 16, 16, 2)
    assert e.value.path == str(bad)


def test_clip_table_missing_column_and_inconsistent_count(data, tmp_path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("clip_id,source,start_frame\na/x,src_a,0\n")
    with pytest.raises(InputError, match="end_frame"):
        preprocess_dataset(f, data["raw"], tmp_path / "0016x0016", 16, 16, 2)
    f.write_text("clip_id,source,start_frame,end_frame,num_frames\na/x,src_a,0,10,11\n")
    with pytest.raises(InputError, match="num_frames") as e:
        preprocess_dataset(f, data["raw"], tmp_path / "0016x0016", 16, 16, 2)
    assert e.value.entry == "a/x"


# ------------------------------------------------------------------------------------------ shard writer
def test_shard_writer_aborts_cleanly_and_writes_empty_partitions(tmp_path) -> None:
    d = tmp_path / "0008x0008"
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(RuntimeError), ShardWriter(d, ["a", "b"], 3) as w:
        w.add_image("a", frame)
        raise RuntimeError("boom")
    assert list(d.iterdir()) == []
    with ShardWriter(d, ["b", "a"], 3) as w:
        w.add_image("a", frame)
        w.add_image("b", frame)
        w.add_image("a", frame)
    assert sorted(p.name for p in d.iterdir()) == [f"partition_{p:04d}.zip" for p in range(3)]
    with zipfile.ZipFile(d / "partition_0002.zip") as zf:
        assert zf.read("frame_paths.json") == b"{}"
    r = ShardReader(d)
    assert r.clip_ids == ["a", "b"] and r.num_frames("a") == 2


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_thread_count_does_not_change_bytes(data, tmp_path, threads) -> None:
    """Serial (0) and threaded encoding write the same partitions as the default run, byte for byte."""
    d = tmp_path / "0032x0032"
    index = preprocess_dataset(data["csv"], data["raw"], d, 32, 32, PARTITIONS, threads=threads)
    assert index["partitions"] == data["out"][(32, 32)][1]["partitions"]


def test_lanczos_option_writes_the_pil_encoder_bytes_of_the_reference_pixels(data, tmp_path) -> None:
    """resize="lanczos": every stored JPEG is PIL's encoding of the reference crop + Lanczos resize."""
    d = tmp_path / "0009x0016"
    preprocess_dataset(data["csv"], data["raw"], d, 9, 16, PARTITIONS, resize="lanczos")
    reader, box = ShardReader(d), crop_box(SRC_H, SRC_W, 9, 16)
    for cid, src, a, b in CLIPS:
        for k in (0, b - a - 1):
            ref = reference_crop_resize(Image.fromarray(data["decoded"][src][a + k]), 9, 16)
            assert reader.read_jpeg(cid, k) == encode_jpeg(ref)
            np.testing.assert_array_equal(np.asarray(crop_resize(data["decoded"][src][a + k], box, 9, 16)),
                                          np.asarray(ref))


@pytest.mark.parametrize("quality,subsampling", [(100, 0), (95, 0), (100, 1), (95, 2)])
def test_cv2_jpeg_bytes_equal_pil(quality, subsampling) -> None:
    """The GIL-free encoder writes PIL's bytes (both are libjpeg-turbo baseline JFIF with the same tables)."""
    rng = np.random.default_rng(1)
    for img in (rng.integers(0, 256, (37, 61, 3), dtype=np.uint8), synth_frame(3)):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
        assert encode_jpeg(img, quality, subsampling) == buf.getvalue()


def test_to_rgb_equals_iter_frames(data) -> None:
    """The reused-reformatter conversion gives iter_frames' pixels, and arrays stay valid once kept."""
    frames = [to_rgb(f) for _, f in iter_video_frames(data["raw"] / "src_a.mp4")]
    np.testing.assert_array_equal(np.stack(frames), data["decoded"]["src_a"])


@pytest.mark.parametrize("src,dst", [((120, 200), (16, 16)), ((120, 200), (32, 32)), ((288, 512), (256, 256)),
                                     ((288, 512), (64, 64)), ((120, 200), (9, 16))])
def test_area_filter_is_an_antialiased_downscale_close_to_lanczos(src, dst) -> None:
    """Area filter = OpenCV INTER_AREA of the reference crop; on smooth content within a few levels of
    Lanczos (on noise it differs more: the two filters are not the same)."""
    frame = np.asarray(Image.fromarray(synth_frame(5)).resize((src[1], src[0]), Image.BILINEAR))
    box = crop_box(*src, *dst)
    area = resize_frame(frame, box, *dst, "area")
    x0, y0, x1, y1 = box
    np.testing.assert_array_equal(area, cv2.resize(frame[y0:y1, x0:x1], dst[::-1], interpolation=cv2.INTER_AREA))
    diff = np.abs(area.astype(int) - np.asarray(crop_resize(frame, box, *dst)).astype(int))
    assert diff.max() <= 16 and diff.mean() < 3.5 and area.shape == (*dst, 3)
    # flat regions are kept exactly (weights sum to one): no ringing, no bias
    flat = np.full((*src, 3), 77, np.uint8)
    assert (np.asarray(resize_frame(flat, box, *dst, "area")) == 77).all()


def test_area_filter_falls_back_to_lanczos_when_upscaling() -> None:
    frame = synth_frame(2, 12, 20)
    box = crop_box(12, 20, 24, 24)
    np.testing.assert_array_equal(np.asarray(resize_frame(frame, box, 24, 24, "area")),
                                  np.asarray(crop_resize(frame, box, 24, 24)))
    with pytest.raises(ValueError, match="resize must be one of"):
        resize_frame(frame, box, 8, 8, "bicubic")


def test_worker_error_propagates_and_leaves_nothing(data, tmp_path, monkeypatch) -> None:
    import lvg.data.preprocess as pre

    real, calls = pre.encode_frame, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 20:
            raise RuntimeError("worker boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(pre, "encode_frame", flaky)
    out = tmp_path / "proc" / "0016x0016"
    with pytest.raises(RuntimeError, match="worker boom"):
        preprocess_dataset(data["csv"], data["raw"], out, 16, 16, 2, threads=2)
    assert not out.exists()
    _no_leftovers(out.parent)
