"""Manifests: schema, interval parsing, and every bad input named by file, entry and problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lvg.data.manifest import (
    format_time,
    load_manifest,
    manifest_from_youtube_json,
    parse_interval,
    parse_time,
)
from lvg.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"


def write(tmp_path: Path, data: dict, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def base(**source) -> dict:
    entry = {"kind": "url", "url": "http://127.0.0.1:1/v.mp4", "keep": ["0:01 0:05"], **source}
    return {"dataset": "t", "licence": "CC0-1.0", "sources": {"vid1": entry}}


def test_parse_time_and_interval() -> None:
    assert parse_time("0:24") == 24
    assert parse_time("5:57") == 357
    assert parse_time("1:02:03.5") == 3723.5
    iv = parse_interval("0:24 5:57")
    assert (iv.start, iv.end, iv.dirname) == (24, 357, "0_24-5_57")
    assert iv.frames(30) == (720, 10710)
    assert parse_interval("0:00.5 0:01").frames(30) == (15, 30)
    assert format_time(83.25) == "1:23.250" and format_time(60) == "1:00"
    for bad in ["0:24", "a:bb c:dd", "0:24 0:10", "0:75 1:00", "0:24 5:57 6:00"]:
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_shipped_manifests_load() -> None:
    horse = load_manifest(REPO / "data/manifests/horseback.yaml")
    bike = load_manifest(REPO / "data/manifests/biking.yaml")
    assert len(horse.sources) == 44 and sum(len(s.keep) for s in horse.sources.values()) == 66
    assert len(bike.sources) == 28 and sum(len(s.keep) for s in bike.sources.values()) == 1202
    assert "NC" in horse.licence and horse.attribution == "Elisa Wallace Eventing"
    assert bike.licence == "CC BY 4.0" and bike.attribution == "Brian Kennedy"
    total = sum(iv.end - iv.start for s in horse.sources.values() for iv in s.keep)
    assert total == 14501  # spec/data.md §2
    src = horse.sources["-81JM4vXvx0"]
    assert src.url == "https://www.youtube.com/watch?v=-81JM4vXvx0" and src.licence == horse.licence
    for name in ["acid", "skytimelapse", "synthetic"]:
        load_manifest(REPO / f"data/manifests/{name}.yaml")


def test_youtube_json_conversion_roundtrip(tmp_path: Path) -> None:
    ref = json.loads((SHARED / "datasets/youtube/horseback.json").read_text())
    data = manifest_from_youtube_json(SHARED / "datasets/youtube/horseback.json", "h", "L", "A")
    assert {k: v["keep"] for k, v in data["sources"].items()} == ref


@pytest.mark.parametrize(
    ("data", "needle", "entry"),
    [
        ({**base(), "colour": 1}, "colour: unknown key", None),
        (base(speed=2), "sources/vid1/speed: unknown key", "vid1"),
        (base(keep=["0:10"]), "malformed interval", "vid1"),
        (base(keep=["0:10 0:05"]), "ends before it starts", "vid1"),
        (base(keep=["0:01 0:10", "0:05 0:20"]), "overlap", "vid1"),
        (base(kind="youtube"), "malformed YouTube id", "vid1"),
        (base(url="ftp://x/y.mp4"), "must start with http", "vid1"),
        (base(kind="teleport"), "kind", "vid1"),
        (base(kind="local"), "needs a 'path'", "vid1"),
        (base(keep=[]), "keep", "vid1"),
    ],
)
def test_bad_manifest_errors_name_file_entry_problem(tmp_path: Path, data: dict, needle: str,
                                                      entry: str | None) -> None:
    path = write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_manifest(path)
    msg = str(info.value)
    assert str(path) in msg and needle in msg, msg
    assert info.value.entry == entry


@pytest.mark.parametrize("sid", ["../evil", "a/b", "..", ".hidden/x"])
def test_path_components_in_ids_are_refused(tmp_path: Path, sid: str) -> None:
    data = base()
    data["sources"] = {sid: data["sources"]["vid1"]}
    path = write(tmp_path, data)
    with pytest.raises(InputError, match="not allowed: ids become file names") as info:
        load_manifest(path)
    assert str(path) in str(info.value)


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_manifest(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        load_manifest(bad)
