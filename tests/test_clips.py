"""Clips = keep-intervals split at detected cuts; errors for intervals past the end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lvg.data.clips import run_clips, split_interval
from lvg.data.manifest import load_manifest
from lvg.errors import InputError


def setup(tmp_path: Path, keep, cuts, num_frames=900, fps=30.0):
    man = tmp_path / "m.yaml"
    man.write_text(yaml.safe_dump({"dataset": "t", "licence": "CC0-1.0",
                                   "sources": {"v": {"kind": "url", "url": "http://127.0.0.1/v.mp4", "keep": keep}}}))
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "v.json").write_text(json.dumps({"fps": fps, "num_frames": num_frames, "cuts": cuts}))
    return load_manifest(man), scenes


def test_split_interval() -> None:
    assert split_interval(0, 100, [50]) == [(0, 50, "interval", "scene_cut"), (50, 100, "scene_cut", "interval")]
    assert split_interval(10, 100, [10, 100, 200]) == [(10, 100, "interval", "interval")]  # cuts on edges
    assert len(split_interval(0, 100, [20, 40, 60])) == 4


def test_clip_table(tmp_path: Path) -> None:
    manifest, scenes = setup(tmp_path, ["0:01 0:10", "0:12 0:29.5"], cuts=[150, 400, 600])
    kept = run_clips(manifest, scenes, tmp_path / "c.csv", tmp_path / "d.csv", min_frames=64)
    table = pd.read_csv(tmp_path / "c.csv")
    assert table.equals(kept.astype(table.dtypes.to_dict())) or len(table) == len(kept)
    rows = table.to_dict("records")
    # 0:01-0:10 = frames [30, 300) split at 150; 0:12-0:29.5 = [360, 885) split at 400 and 600 ([360,400) too short)
    spans = [(r["start_frame"], r["end_frame"]) for r in rows]
    assert spans == [(30, 150), (150, 300), (400, 600), (600, 885)]
    assert rows[0]["clip_id"] == "v/0_01-0_10/00" and rows[0]["end_by"] == "scene_cut"
    assert rows[2]["clip_id"] == "v/0_12-0_29.5/01" and rows[2]["start_by"] == rows[2]["end_by"] == "scene_cut"
    dropped = pd.read_csv(tmp_path / "d.csv")
    assert [(r["start_frame"], r["end_frame"]) for r in dropped.to_dict("records")] == [(360, 400)]
    assert "min_frames=64" in dropped["reason"][0]
    assert all(r["num_frames"] == r["end_frame"] - r["start_frame"] for r in rows)


def test_keep_all_and_unsplit_names(tmp_path: Path) -> None:
    manifest, scenes = setup(tmp_path, "all", cuts=[], num_frames=200)
    kept = run_clips(manifest, scenes, tmp_path / "c.csv", tmp_path / "d.csv", min_frames=10)
    assert kept["clip_id"].tolist() == ["v/all"] and kept["num_frames"].tolist() == [200]


def test_interval_past_end_names_file_and_entry(tmp_path: Path) -> None:
    manifest, scenes = setup(tmp_path, ["0:01 0:40"], cuts=[], num_frames=900)
    with pytest.raises(InputError) as info:
        run_clips(manifest, scenes, tmp_path / "c.csv", tmp_path / "d.csv", min_frames=10)
    msg = str(info.value)
    assert str(manifest.path) in msg and "'v'" in msg and "past the end of the video" in msg
    assert not (tmp_path / "c.csv").exists()  # nothing partial


def test_nothing_survives(tmp_path: Path) -> None:
    manifest, scenes = setup(tmp_path, ["0:01 0:02"], cuts=[], num_frames=900)
    with pytest.raises(InputError, match="no clip of at least 64 frames"):
        run_clips(manifest, scenes, tmp_path / "c.csv", tmp_path / "d.csv", min_frames=64)
