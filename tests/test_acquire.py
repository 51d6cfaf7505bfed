"""Acquire phase, exercised for real: yt-dlp against an HTTP server on 127.0.0.1, file:// URLs, PyAV-encoded
videos, real copies/links, and the synthetic renderer. No test contacts any other host."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import shutil
import socket
import threading
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import yaml

from lvg.data.acquire import (
    ARCHIVE_NAME,
    TABLE_COLUMNS,
    acquire_source,
    write_provenance_table,
    ytdlp_options,
)
from lvg.data.manifest import load_manifest
from lvg.errors import InputError
from lvg.io import sha256_file

CFG = {"retries": 0, "socket_timeout": 5}  # everything else: the schema defaults
H, W, FPS, N = 64, 96, 30, 60  # 2 s test clips


# ----------------------------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------------------------

def encode(path: Path, codec: str = "libx264", fmt: str = "mp4", n: int = N, seed: int = 0,
           options: dict | None = None) -> Path:
    """A small moving test pattern with noise (so that halving the file loses frames)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    with av.open(str(path), "w", format=fmt, options=options or {}) as c:
        s = c.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(n):
            img = np.stack([(xx * 3 + i * 4) % 256, (yy * 4) % 256, np.full_like(xx, (i * 9) % 256)], -1)
            img = np.clip(img + rng.integers(-40, 40, img.shape), 0, 255).astype(np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("www")
    encode(d / "clip.mp4")
    encode(d / "faststart.mp4", seed=1, options={"movflags": "+faststart"})
    encode(d / "clip.webm", codec="libvpx-vp9", fmt="webm", seed=2)
    half(d / "clip.mp4", d / "trunc.mp4")  # moov atom at the end: cannot even open
    half(d / "faststart.mp4", d / "trunc_faststart.mp4")  # opens and decodes, but half the frames
    half(d / "clip.webm", d / "trunc.webm")
    return d


class Server:
    """http.server in a thread on a free loopback port, logging every request path."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self, name: str) -> int:
        return sum(1 for p in self.requests if p == f"/{name}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(served):
    s = Server(served)
    yield s
    s.close()


def make_manifest(tmp_path: Path, sources: dict, licence: str = "CC0-1.0"):
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({"dataset": "t", "licence": licence, "sources": sources}, sort_keys=False))
    return load_manifest(path)


def final_files(raw: Path, sid: str) -> list[str]:
    """Whatever of a source (or of a failed run) is visible in raw_dir."""
    return sorted(p.name for p in raw.iterdir() if p.name.startswith((sid, f".{sid}")))


def archive_lines(raw: Path) -> list[str]:
    p = raw / ARCHIVE_NAME
    return p.read_text().splitlines() if p.exists() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------------------
# url / youtube kinds (yt-dlp)
# ----------------------------------------------------------------------------------------------------------

def test_url_download_provenance_idempotence_and_redownload(server, served, tmp_path, caplog):
    caplog.set_level("INFO", logger="lvg.data.acquire")
    url = f"{server.url}/clip.mp4"
    m = make_manifest(tmp_path, {"clip": {"kind": "url", "url": url, "keep": "all", "licence": "CC-BY-4.0",
                                          "uploader": "someone"}})
    raw = tmp_path / "raw"
    rec = acquire_source(m, "clip", raw, CFG)

    video = raw / "clip.mp4"
    assert sha256_file(video) == sha256_file(served / "clip.mp4") == rec["sha256"]
    assert final_files(raw, "clip") == ["clip.info.json", "clip.mp4", "clip.provenance.json"]
    assert json.loads((raw / "clip.provenance.json").read_text()) == rec
    assert (rec["width"], rec["height"], rec["fps"], rec["num_frames"]) == (W, H, FPS, N)
    assert rec["duration_s"] == pytest.approx(N / FPS)
    assert rec["url"] == url and rec["webpage_url"] == url
    assert rec["licence"] == "CC-BY-4.0" and rec["uploader"] == "someone"
    assert (rec["dataset"], rec["source_id"], rec["kind"]) == ("t", "clip", "url")
    assert (rec["format_id"], rec["original_ext"], rec["remuxed"], rec["vcodec"]) == ("mp4", "mp4", False, "h264")
    assert rec["size_bytes"] == video.stat().st_size and rec["raw_file"] == "clip.mp4"
    assert rec["download_time"].endswith("+00:00") and rec["upload_date"]
    assert rec["tools"]["yt_dlp"] == "2026.10.26" and rec["tools"]["av"] == av.__version__
    assert set(rec["tools"]) >= {"lvg", "yt_dlp", "av", "python"}
    assert json.loads((raw / "clip.info.json").read_text())["webpage_url"] == url
    assert archive_lines(raw) == ["generic clip"]
    assert list(json.loads((raw / "clip.provenance.json").read_text())) == sorted(rec)  # sorted keys
    assert any("downloaded" in r.getMessage() for r in caplog.records)  # progress hook -> logger

    # Second call: nothing downloaded, not even a request; same record; file untouched.
    n_requests, n_clip, mtime = len(server.requests), server.count("clip.mp4"), video.stat().st_mtime_ns
    assert acquire_source(m, "clip", raw, CFG) == rec
    assert len(server.requests) == n_requests and video.stat().st_mtime_ns == mtime

    # The archive still lists the id, but the video is gone: download again rather than skip.
    video.unlink()
    rec2 = acquire_source(m, "clip", raw, CFG)
    assert video.is_file() and sha256_file(video) == rec["sha256"] == rec2["sha256"]
    assert server.count("clip.mp4") >= n_clip + 2  # generic extractor's probe + the download itself
    assert any("lists 'generic clip' but the video is missing" in r.getMessage() for r in caplog.records)
    assert archive_lines(raw) == ["generic clip"]
    assert final_files(raw, "clip") == ["clip.info.json", "clip.mp4", "clip.provenance.json"]


def test_file_url(served, tmp_path):
    url = (served / "clip.mp4").as_uri()
    m = make_manifest(tmp_path, {"local_clip": {"kind": "url", "url": url, "keep": "all"}})
    rec = acquire_source(m, "local_clip", tmp_path / "raw", CFG)
    assert rec["url"] == url and rec["num_frames"] == N
    assert sha256_file(tmp_path / "raw" / "local_clip.mp4") == sha256_file(served / "clip.mp4")


def test_webm_is_remuxed_to_mp4_with_identical_frames(server, served, tmp_path):
    sha = sha256_file(served / "clip.webm")
    m = make_manifest(tmp_path, {"vp9": {"kind": "url", "url": f"{server.url}/clip.webm", "keep": "all",
                                         "sha256": sha}})
    raw = tmp_path / "raw"
    rec = acquire_source(m, "vp9", raw, CFG, progress=True)
    assert (rec["original_ext"], rec["remuxed"], rec["vcodec"]) == ("webm", True, "vp9")
    assert rec["original_sha256"] == sha and rec["sha256"] == sha256_file(raw / "vp9.mp4") != sha
    assert "mp4" in rec["container"] and rec["num_frames"] == N
    assert final_files(raw, "vp9") == ["vp9.info.json", "vp9.mp4", "vp9.provenance.json"]
    np.testing.assert_array_equal(decode_all(raw / "vp9.mp4"), decode_all(served / "clip.webm"))


def test_url_sha256_mismatch(server, tmp_path):
    m = make_manifest(tmp_path, {"clip": {"kind": "url", "url": f"{server.url}/clip.mp4", "keep": "all",
                                          "sha256": "0" * 64}})
    raw = tmp_path / "raw"
    with pytest.raises(InputError, match="sha256 mismatch") as e:
        acquire_source(m, "clip", raw, CFG)
    assert e.value.entry == "clip" and e.value.path == str(m.path)
    assert final_files(raw, "clip") == [] and archive_lines(raw) == []


@pytest.mark.parametrize("where", ["404", "refused"])
def test_unreachable_url(server, tmp_path, where):
    url = f"{server.url}/missing.mp4" if where == "404" else f"http://127.0.0.1:{free_port()}/clip.mp4"
    m = make_manifest(tmp_path, {"gone": {"kind": "url", "url": url, "keep": "all"}})
    raw = tmp_path / "raw"
    with pytest.raises(InputError) as e:
        acquire_source(m, "gone", raw, CFG)
    msg = str(e.value)
    assert str(m.path) in msg and "'gone'" in msg and url in msg
    assert ("404" in msg) if where == "404" else ("refused" in msg.lower())
    assert "Traceback" not in msg and "caused by" not in msg
    assert final_files(raw, "gone") == [] and archive_lines(raw) == []


@pytest.mark.parametrize("name", ["trunc.mp4", "trunc_faststart.mp4", "trunc.webm"])
def test_truncated_download_is_rejected(server, tmp_path, name):
    m = make_manifest(tmp_path, {"cut": {"kind": "url", "url": f"{server.url}/{name}", "keep": "all"}})
    raw = tmp_path / "raw"
    with pytest.raises(InputError, match="truncated") as e:
        acquire_source(m, "cut", raw, CFG)
    assert e.value.entry == "cut" and e.value.path == str(m.path) and ".acquire" not in str(e.value)
    assert final_files(raw, "cut") == []
    assert archive_lines(raw) == []  # an unusable download is not recorded as done


YT_ID = "dQw4w9WgXcQ"


@pytest.fixture
def no_network(monkeypatch):
    """Every way yt-dlp could reach a host fails and is counted (requests/urllib use Python sockets)."""
    import yt_dlp
    from yt_dlp.networking.exceptions import TransportError

    attempts: list[str] = []

    def blocked(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network disabled in this test")

    def blocked_urlopen(self, req):
        attempts.append(str(getattr(req, "url", req)))
        raise TransportError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    monkeypatch.setattr(socket, "create_connection", blocked)
    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setattr(yt_dlp.YoutubeDL, "urlopen", blocked_urlopen)
    return attempts


def test_youtube_done_source_is_skipped_without_network(no_network, served, tmp_path):
    m = make_manifest(tmp_path, {YT_ID: {"kind": "youtube", "keep": ["0:00 0:01"]}})
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(served / "clip.mp4", raw / f"{YT_ID}.mp4")
    (raw / ARCHIVE_NAME).write_text(f"youtube {YT_ID}\n")
    rec = {"kind": "youtube", "url": f"https://www.youtube.com/watch?v={YT_ID}", "raw_file": f"{YT_ID}.mp4",
           "size_bytes": (raw / f"{YT_ID}.mp4").stat().st_size, "sha256": "x"}
    (raw / f"{YT_ID}.provenance.json").write_text(json.dumps(rec))
    assert acquire_source(m, YT_ID, raw, CFG) == rec
    assert no_network == []


def test_youtube_archive_is_checked_before_any_network(no_network, tmp_path):
    """yt-dlp itself, with the options acquire builds: an archived YouTube id costs no request (§6.2)."""
    import yt_dlp

    m = make_manifest(tmp_path, {YT_ID: {"kind": "youtube", "keep": "all"}})
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / ARCHIVE_NAME).write_text(f"youtube {YT_ID}\n")
    opts = ytdlp_options(m.sources[YT_ID], tmp_path / "tmp", raw / ARCHIVE_NAME, CFG)
    with yt_dlp.YoutubeDL(opts) as ydl:
        assert ydl.extract_info(m.sources[YT_ID].url, download=True) is None
    assert no_network == []

    # Through acquire_source, with the video missing: the archive line is forgotten and a real download is
    # attempted -- which the blocked network turns into a clean InputError, leaving nothing behind.
    with pytest.raises(InputError) as e:
        acquire_source(m, YT_ID, raw, CFG)
    assert e.value.entry == YT_ID and str(m.path) in str(e.value) and "network disabled" in str(e.value)
    assert no_network and archive_lines(raw) == []
    assert final_files(raw, YT_ID) == []


def test_ytdlp_options_follow_config(tmp_path):
    m = make_manifest(tmp_path, {YT_ID: {"kind": "youtube", "keep": "all"}})
    cfg = {"format": "b", "format_sort": ["res:720"], "retries": 3, "socket_timeout": 7, "ratelimit": 1000,
           "sleep_interval_requests": 0.5}
    o = ytdlp_options(m.sources[YT_ID], tmp_path, tmp_path / ARCHIVE_NAME, cfg, hook=print)
    assert (o["format"], o["format_sort"]) == ("b", ["res:720"])
    assert o["retries"] == o["fragment_retries"] == o["extractor_retries"] == 3
    assert (o["socket_timeout"], o["ratelimit"], o["sleep_interval_requests"]) == (7, 1000, 0.5)
    assert o["outtmpl"]["default"] == str(tmp_path / f"{YT_ID}.%(ext)s")
    assert o["download_archive"] == str(tmp_path / ARCHIVE_NAME)
    assert o["writeinfojson"] and o["clean_infojson"] and o["noplaylist"] and o["restrictfilenames"]
    assert o["noprogress"] and o["progress_hooks"] == [print] and o["ignoreerrors"] is False
    assert o["enable_file_urls"] is False
    defaults = ytdlp_options(m.sources[YT_ID], tmp_path, tmp_path / ARCHIVE_NAME, {})
    assert defaults["format"] == "bv*[height<=?1080]/b"
    assert defaults["format_sort"] == ["res:1080", "vcodec:h264", "ext:mp4"]


# ----------------------------------------------------------------------------------------------------------
# local kind
# ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_local_link_modes(served, tmp_path, link):
    src = served / "clip.mp4"
    sha = sha256_file(src)
    m = make_manifest(tmp_path, {"mine": {"kind": "local", "path": str(src), "sha256": sha, "keep": "all"}})
    raw = tmp_path / "raw"
    rec = acquire_source(m, "mine", raw, {**CFG, "local_link": link})
    out = raw / "mine.mp4"
    assert rec["sha256"] == rec["original_sha256"] == sha == sha256_file(out)
    assert rec["link"] == link and rec["original_path"] == str(src) and rec["num_frames"] == N
    assert rec["tools"]["yt_dlp"] is None and rec["licence"] == "CC0-1.0"
    assert out.is_symlink() == (link == "symlink")
    assert out.samefile(src) == (link != "copy")  # hardlink and symlink share the inode
    assert final_files(raw, "mine") == ["mine.mp4", "mine.provenance.json"]
    assert acquire_source(m, "mine", raw, {**CFG, "local_link": link}) == rec


def test_local_non_mp4_is_remuxed(served, tmp_path):
    m = make_manifest(tmp_path, {"w": {"kind": "local", "path": str(served / "clip.webm"), "keep": "all"}})
    rec = acquire_source(m, "w", tmp_path / "raw", CFG)
    assert rec["remuxed"] and rec["link"] == "remux" and rec["original_ext"] == "webm"
    np.testing.assert_array_equal(decode_all(tmp_path / "raw" / "w.mp4"), decode_all(served / "clip.webm"))


def test_local_changed_path_is_acquired_again(served, tmp_path):
    raw = tmp_path / "raw"
    m = make_manifest(tmp_path, {"s": {"kind": "local", "path": str(served / "clip.mp4"), "keep": "all"}})
    first = acquire_source(m, "s", raw, CFG)
    m = make_manifest(tmp_path, {"s": {"kind": "local", "path": str(served / "faststart.mp4"), "keep": "all"}})
    second = acquire_source(m, "s", raw, CFG)
    assert second["sha256"] == sha256_file(served / "faststart.mp4") != first["sha256"]


@pytest.mark.parametrize("problem", ["missing", "sha256", "corrupt"])
def test_local_errors(served, tmp_path, problem):
    entry = {"kind": "local", "path": str(served / "clip.mp4"), "keep": "all"}
    if problem == "missing":
        entry["path"] = str(tmp_path / "nowhere.mp4")
    elif problem == "sha256":
        entry["sha256"] = "f" * 64
    else:
        entry["path"] = str(served / "trunc_faststart.mp4")
    m = make_manifest(tmp_path, {"bad": entry})
    raw = tmp_path / "raw"
    expected = {"missing": "not found", "sha256": "sha256 mismatch", "corrupt": "truncated"}[problem]
    with pytest.raises(InputError, match=expected) as e:
        acquire_source(m, "bad", raw, CFG)
    assert e.value.entry == "bad" and e.value.path == str(m.path)
    assert final_files(raw, "bad") == []


# ----------------------------------------------------------------------------------------------------------
# synthetic kind
# ----------------------------------------------------------------------------------------------------------

needs_synthetic = pytest.mark.skipif(importlib.util.find_spec("lvg.data.synthetic") is None,
                                     reason="lvg/data/synthetic.py not written yet")
TINY = {"seed": 3, "duration_s": 2.0, "fps": 10, "height": 36, "width": 64}


@needs_synthetic
def test_synthetic_renders_with_truth_and_spec(tmp_path):
    from lvg.data.synthetic import SyntheticSpec

    m = make_manifest(tmp_path, {"ride": {"kind": "synthetic", "synthetic": TINY, "keep": "all"}})
    raw = tmp_path / "raw"
    rec = acquire_source(m, "ride", raw, CFG)
    spec = SyntheticSpec.from_dict(TINY).to_dict()
    assert rec["synthetic_spec"] == spec and rec["truth_file"] == "ride.truth.json"
    assert json.loads((raw / "ride.truth.json").read_text())
    assert (rec["width"], rec["height"], rec["fps"], rec["num_frames"]) == (64, 36, 10, 20)
    assert rec["sha256"] == sha256_file(raw / "ride.mp4") and rec["url"] is None
    assert final_files(raw, "ride") == ["ride.mp4", "ride.provenance.json", "ride.truth.json", "ride.world.csv"]
    assert rec["world_file"] == "ride.world.csv"
    assert len((raw / "ride.world.csv").read_text().splitlines()) == 1 + rec["num_frames"]  # header + a row a frame
    mtime = (raw / "ride.mp4").stat().st_mtime_ns
    assert acquire_source(m, "ride", raw, CFG) == rec and (raw / "ride.mp4").stat().st_mtime_ns == mtime


@needs_synthetic
@pytest.mark.parametrize("change, named", [({"bogus_key": 1}, "bogus_key"), ({"height": 33}, "height")])
def test_synthetic_invalid_spec(tmp_path, change, named):
    m = make_manifest(tmp_path, {"ride": {"kind": "synthetic", "synthetic": {**TINY, **change},
                                          "keep": "all"}})
    with pytest.raises(InputError, match=f"invalid synthetic spec: .*{named}") as e:
        acquire_source(m, "ride", tmp_path / "raw", CFG)
    assert e.value.entry == "ride" and e.value.path == str(m.path)
    assert final_files(tmp_path / "raw", "ride") == []


# ----------------------------------------------------------------------------------------------------------
# provenance table
# ----------------------------------------------------------------------------------------------------------

def test_provenance_table(server, served, tmp_path):
    m = make_manifest(tmp_path, {
        "web": {"kind": "url", "url": f"{server.url}/faststart.mp4", "keep": "all"},
        "mine": {"kind": "local", "path": str(served / "clip.mp4"), "keep": "all", "licence": "MIT"},
    })
    raw = tmp_path / "raw"
    out = raw / "provenance.csv"
    with pytest.raises(InputError, match="no provenance record") as e:
        write_provenance_table(m, raw, out)
    assert e.value.entry == "web" and not out.exists()
    recs = {sid: acquire_source(m, sid, raw, CFG) for sid in m.sources}
    table = write_provenance_table(m, raw, out)
    assert list(table["source_id"]) == ["web", "mine"]  # one row per source, manifest order
    assert list(table.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert {"original_path", "info_file", "archive_id", "tools.yt_dlp_git_head"} <= set(table.columns)
    back = pd.read_csv(out)
    assert list(back.columns) == list(table.columns) and len(back) == 2
    for sid, row in back.set_index("source_id").iterrows():
        assert row["sha256"] == recs[sid]["sha256"] and row["num_frames"] == N
        assert row["licence"] == {"web": "CC0-1.0", "mine": "MIT"}[sid]
        assert row["tools.lvg"] == recs[sid]["tools"]["lvg"]
    assert back.set_index("source_id").loc["web", "tools.yt_dlp"] == "2026.10.26"
    assert sorted(os.listdir(raw)) == sorted(
        ["download_archive.txt", "mine.mp4", "mine.provenance.json", "provenance.csv", "web.info.json",
         "web.mp4", "web.provenance.json"])
