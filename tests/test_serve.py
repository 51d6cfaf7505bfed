"""``lvg serve`` for real: a real server process on 127.0.0.1, real tiny checkpoints, real ``lvg generate``
runs to compare with, and (tests marked ``browser``) a real headless Chromium driven by Playwright.

Fidelity, and the tolerance of each comparison:

* **exact** (0 levels): the canvas pixels the browser displays for frame t == ``lvg generate --frames-dir``'s
  PNG of frame t. Delivery is lossless PNG drawn without colour management or scaling, and the server
  computes the same aligned chunks as ``lvg generate`` with the same torch thread count (1, via
  ``OMP_NUM_THREADS=1`` for ``lvg generate``; frames are bit-identical only at equal thread counts).
* **exact through the same conversion**: ``lvg generate --crf 0`` (lossless H.264, yuv420p) decodes to the
  displayed pixels taken through the writer's RGB -> yuv420p conversion (swscale) and back. The raw RGB and the
  yuv420p video differ by up to ~30 levels at saturated colour edges: that is chroma subsampling, not error.
* **codec rounding**: the default 16 Mbit/s encode decodes within ``MP4_MAX`` / ``MP4_MEAN`` levels of that.
* **saved clips**: with ``crf=0`` byte-identical to ``lvg generate --crf 0``; at the default bit rate
  ``lvg generate`` itself does not write the same bytes twice (x264's threaded rate control), so the clip is
  compared by name, frame count and decoded frames.

Speeds are printed (and recorded as test properties), never asserted; the load test asserts only memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from lvg.data.video import iter_frames

SEED, T = 3, 1_000_000
WINDOW = (999_998, 1_000_030)  # 32 frames around T, across an HR chunk boundary (16-frame grid)
MP4_MAX, MP4_MEAN = 10, 1.0  # levels: default 16 Mbit/s H.264 vs the same frames through yuv420p
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
# a real server process per test and a real browser: seconds each (the fast unit tests leave them out)
pytestmark = pytest.mark.slow


# ============================================================================================ fixtures
def make_models(root: Path) -> dict[str, Path]:
    """Untrained tiny checkpoints (16x16 LR, 32x32 HR, two baselines) with output scales raised so that the
    frames have contrast (std ~30 levels) and pixel comparisons mean something."""
    from lvg.baselines.mocoganhd import MoCoGANHDConfig, MoCoGANHDGenerator
    from lvg.baselines.styleganv import StyleGANVConfig, StyleGANVGenerator
    from lvg.lowres.generator import GeneratorConfig, VideoGenerator
    from lvg.models import save_generator
    from lvg.superres.generator import SRGenerator, SRGeneratorConfig

    torch.manual_seed(0)
    save_generator(VideoGenerator(GeneratorConfig.tiny(height=16, width=16, output_scale=50.0)),
                root / "lr/G_ema.safetensors")
    torch.manual_seed(1)
    save_generator(SRGenerator(SRGeneratorConfig.tiny(output_scale=1.0)), root / "sr/G_ema.safetensors")
    torch.manual_seed(2)
    save_generator(StyleGANVGenerator(StyleGANVConfig.preset("tiny", height=16, width=16)),
                   root / "styleganv/G_ema.safetensors")
    torch.manual_seed(3)
    save_generator(MoCoGANHDGenerator(MoCoGANHDConfig.preset("tiny", height=16, width=16)),
                   root / "mocoganhd/G_ema.safetensors")
    return {"lr": root / "lr", "sr": root / "sr", "styleganv": root / "styleganv", "mocoganhd": root / "mocoganhd"}


@dataclass
class Server:
    """A running ``lvg serve`` process and what it printed."""

    proc: subprocess.Popen
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=60) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def json(self, path: str) -> dict:
        status, body, _ = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def png(self, path: str) -> np.ndarray:
        status, body, headers = self.get(path)
        assert status == 200 and headers["Content-Type"] == "image/png", body[:300]
        import io

        return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def serve_cmd(models: dict[str, Path], *extra: str) -> list[str]:
    return [sys.executable, "-m", "lvg.cli", "serve", "--lres", str(models["lr"]), "--sres", str(models["sr"]),
            "--model", f"styleganv={models['styleganv']}", "--model", f"mocoganhd={models['mocoganhd']}",
            "--port", "0", *extra]


def start_server(cmd: list[str], timeout: float = 120) -> Server:
    """Start ``cmd`` and wait for its ``lvg serve: http://...`` line (the output is kept for messages)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    server, found = Server(proc), threading.Event()

    def read() -> None:
        for line in proc.stdout:
            server.lines.append(line.rstrip())
            m = re.match(r"lvg serve: (http://\S+/) ", line)
            if m and not server.url:
                server.url = m.group(1)
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    found.wait(timeout)  # the URL line comes last, once the socket listens
    if not server.url:
        server.stop()
        raise AssertionError("lvg serve did not start:\n" + "\n".join(server.lines))
    return server


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return make_models(tmp_path_factory.mktemp("serve-models"))


@pytest.fixture(scope="module")
def generated(models, tmp_path_factory) -> dict[str, Path]:
    """``lvg generate`` (the CLI, run in this process with one torch thread) of WINDOW for seed SEED: the
    default encoding plus PNG frames, and lossless (``--crf 0``)."""
    from lvg.cli import main

    out = tmp_path_factory.mktemp("generated")
    a, b = WINDOW
    base = ["generate", "--lres", str(models["lr"]), "--sres", str(models["sr"]), "--seed", str(SEED),
            "--t0", str(a), "--len", str(b - a), "--save-lres"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*base, "--frames-dir", "--outdir", str(out / "default")]) == 0
        assert main([*base, "--crf", "0", "--outdir", str(out / "lossless")]) == 0
    finally:
        torch.set_num_threads(threads)
    stem = f"seed={SEED}_t0={a}_len={b - a}"
    info = json.loads((out / "default" / f"{stem}_info.json").read_text())
    assert info["threads"] == 1  # the comparisons are bit-exact only at equal thread counts
    return {"frames": out / "default" / f"{stem}_frames", "stem": Path(stem),
            "lres": out / "default" / f"{stem}_lres.mp4", "sres": out / "default" / f"{stem}_sres.mp4",
            "lres0": out / "lossless" / f"{stem}_lres.mp4", "sres0": out / "lossless" / f"{stem}_sres.mp4"}


@pytest.fixture(scope="module")
def server(models):
    s = start_server(serve_cmd(models, "--memory-mb", "1500"))
    yield s
    assert s.stop() == 0, "lvg serve did not stop cleanly on SIGTERM:\n" + "\n".join(s.lines)


def reference(generated: dict, kind: str, t: int) -> np.ndarray:
    """``lvg generate --frames-dir``'s PNG of frame t (kind: lres or sres)."""
    return np.asarray(Image.open(generated["frames"] / f"{kind}_{t:06d}.png").convert("RGB"))


def decode(path: Path) -> np.ndarray:
    return np.stack([f for _, f in iter_frames(path)])


def yuv420_roundtrip(rgb: np.ndarray) -> np.ndarray:
    """RGB -> yuv420p -> RGB through swscale, as the mp4 writer converts and a decoder converts back."""
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        format="yuv420p").to_ndarray(format="rgb24")


# ============================================================================================ HTTP API
def test_binds_loopback_and_says_how_to_expose(server) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    text = "\n".join(server.lines)
    assert "--host 0.0.0.0" in text and "ssh -L" in text and "memory budget" in text
    info = server.json("/api/info")
    assert [m["name"] for m in info["models"]] == ["lr", "hr", "styleganv", "mocoganhd"]
    sizes = {m["name"]: (m["height"], m["width"], m["chunk"], m["horizon"]) for m in info["models"]}
    assert sizes == {"lr": (16, 16, 256, None), "hr": (32, 32, 16, None), "styleganv": (16, 16, 32, None),
                     "mocoganhd": (16, 16, 256, 9000)}
    status, body, headers = server.get("/")
    assert status == 200 and b'src="/static/player.js"' in body
    status, body, _ = server.get("/static/player.js")
    assert status == 200 and b"createImageBitmap" in body


@pytest.mark.parametrize(("query", "status", "param", "message"), [
    ("/api/segment?model=nope&seed=3&start=0", 404, "model", "unknown model 'nope' (served: lr, hr, styleganv"),
    ("/api/segment?seed=3&start=0", 400, "model", "missing parameter 'model'"),
    ("/api/segment?model=lr&seed=three&start=0", 400, "seed", "seed must be an integer, got 'three'"),
    ("/api/segment?model=lr&seed=5000&start=0", 404, "seed", "unknown seed 5000: this server serves seeds 0..1023"),
    ("/api/segment?model=lr&seed=3&start=1.5", 400, "start", "start must be an integer, got '1.5'"),
    ("/api/segment?model=lr&seed=3&start=1e6", 400, "start", "start must be an integer, got '1e6'"),
    ("/api/segment?model=lr&seed=3&start=-1", 400, "start", "start out of range: frames -1..30"),
    ("/api/segment?model=lr&seed=3&start=999999999999", 400, "start", "serves frame indices 0..999999999999"),
    ("/api/segment?model=lr&seed=3&start=0&count=0", 400, "count", "count must be 1..256, got 0"),
    ("/api/segment?model=mocoganhd&seed=3&start=8990", 400, "start",
     "served only below frame 9000 (--sequential-horizon) because MoCoGAN-HD unrolls its LSTM"),
    ("/api/frame?model=hr&seed=3&t=99999999999999999999", 400, "t", "t must be an integer"),
    ("/api/clip?model=lr&seed=3&a=10&b=10", 400, "b", "b must be greater than a"),
    ("/api/clip?model=lr&seed=3&a=0&b=9001", 400, "b", "clip too long: 9001 frames, at most 9000"),
    ("/api/clip?model=lr&seed=3&a=0&b=30&crf=99", 400, "crf", "crf must be 0..51"),
    ("/api/nothing", 404, None, "Not Found: /api/nothing"),
])
def test_bad_input_gets_a_clear_http_error(server, query, status, param, message) -> None:
    got, body, headers = server.get(query)
    assert got == status and headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["param"] == param and message in doc["error"], doc


def test_frames_are_those_lvg_generate_writes(server, generated) -> None:
    """Frame t over HTTP (alone, or cut from a segment that spans chunks) == lvg generate's PNG, bit for bit."""
    a, b = WINDOW
    for model, kind in (("lr", "lres"), ("hr", "sres")):
        for t in (a, T - 1, T, b - 1):
            assert np.array_equal(server.png(f"/api/frame?model={model}&seed={SEED}&t={t}"),
                                  reference(generated, kind, t)), (model, t)
        status, body, headers = server.get(f"/api/segment?model={model}&seed={SEED}&start={a}&count={b - a}")
        assert status == 200 and headers["X-Lvg-Count"] == "32" and headers["X-Lvg-Cols"] == "8"
        import io

        sheet = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
        h, w = int(headers["X-Lvg-Height"]), int(headers["X-Lvg-Width"])
        assert sheet.shape == (4 * h, 8 * w, 3)
        for i in range(b - a):
            r, c = divmod(i, 8)
            assert np.array_equal(sheet[r * h:(r + 1) * h, c * w:(c + 1) * w], reference(generated, kind, a + i))
    # another seed is another video
    assert not np.array_equal(server.png(f"/api/frame?model=lr&seed={SEED + 1}&t={T}"), reference(generated, "lres", T))


def test_saved_clip_is_lvg_generates_video(server, generated) -> None:
    a, b = WINDOW
    for model, kind in (("lr", "lres"), ("hr", "sres")):
        status, body, headers = server.get(f"/api/clip?model={model}&seed={SEED}&a={a}&b={b}&crf=0")
        assert status == 200 and headers["Content-Type"] == "video/mp4"
        assert f'filename="{generated["stem"]}_{kind}.mp4"' in headers["Content-Disposition"]
        assert body == generated[f"{kind}0"].read_bytes(), f"{model}: lossless clip differs from lvg generate --crf 0"
        status, body, headers = server.get(f"/api/clip?model={model}&seed={SEED}&a={a}&b={b}")
        assert status == 200
        clip = Path(generated["frames"].parent / f"served_{kind}.mp4")
        clip.write_bytes(body)
        ours, theirs = decode(clip), decode(generated[kind])
        assert ours.shape == theirs.shape == (b - a, *reference(generated, kind, a).shape)
        for i in range(b - a):
            exact = yuv420_roundtrip(reference(generated, kind, a + i)).astype(int)
            for video in (ours, theirs):
                err = np.abs(video[i].astype(int) - exact)
                assert err.max() <= MP4_MAX and err.mean() <= MP4_MEAN, (model, i, err.max(), err.mean())
    # baselines are written by the same writer, named after their method
    status, body, headers = server.get("/api/clip?model=styleganv&seed=3&a=100&b=110")
    assert status == 200 and 'filename="seed=3_t0=100_len=10_styleganv.mp4"' in headers["Content-Disposition"]


def test_concurrent_viewers_share_one_computation(server) -> None:
    """Four viewers ask for the same not-yet-generated segment at once: it is computed once, all get it."""
    path = "/api/segment?model=hr&seed=21&start=5000032&count=32"
    before = server.json("/api/stats")
    results: list[bytes] = [b""] * 4

    def fetch(i: int) -> None:
        status, body, _ = server.get(path)
        results[i] = body if status == 200 else b""

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    after = server.json("/api/stats")
    assert results[0] and all(r == results[0] for r in results)
    assert after["cache"]["deduplicated"] + after["cache"]["hits"] >= before["cache"]["deduplicated"] + \
        before["cache"]["hits"] + 3
    # 32 frames = 2 HR chunks; whatever else was generated is the server's prefetch past the segment (64 frames)
    generated = after["models"]["hr"]["generated_frames"] - before["models"]["hr"]["generated_frames"]
    assert 32 <= generated <= 32 + 64, generated


def _send_and_drop(server: Server, path: str, wait: float) -> None:
    """Send a GET, wait, and close the connection without reading the answer (a client that went away)."""
    host, port = server.url[len("http://"):].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        time.sleep(wait)


def test_a_client_that_disconnects_mid_stream_stops_cleanly(server) -> None:
    before = server.json("/api/stats")["counters"]
    # a clip of 6000 HR frames takes minutes to write: leave after a second; the writer must stop, no file left
    _send_and_drop(server, "/api/clip?model=hr&seed=11&a=0&b=6000", 1.0)
    deadline = time.time() + 20
    while time.time() < deadline:
        stats = server.json("/api/stats")
        if stats["counters"]["clips_active"] == 0 and stats["counters"]["clips_cancelled"] > before["clips_cancelled"]:
            break
        time.sleep(0.2)
    assert stats["counters"]["clips_active"] == 0 and stats["clip_temp_files"] == 0, stats
    assert stats["counters"]["clips_cancelled"] == before["clips_cancelled"] + 1
    assert stats["counters"]["clips"] == before["clips"]
    # a segment request abandoned before its answer: the chunk is still computed once and then shared
    _send_and_drop(server, "/api/segment?model=hr&seed=12&start=4000&count=32", 0.05)
    status, _, _ = server.get("/api/segment?model=hr&seed=12&start=4000&count=32")
    assert status == 200
    after = server.json("/api/stats")
    assert server.proc.poll() is None and after["counters"]["server_errors"] == 0
    assert after["cache"]["errors"] == 0


def test_missing_checkpoint_is_a_clear_error(models, tmp_path) -> None:
    missing = tmp_path / "nowhere"
    p = subprocess.run([sys.executable, "-m", "lvg.cli", "serve", "--lres", str(missing), "--port", "0"],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 2 and "lvg serve: error:" in p.stderr
    assert f"{missing}: lowres generator weights not found" in p.stderr
    p = subprocess.run(serve_cmd(models, "--model", f"extra={missing}"), capture_output=True, text=True, env=ENV,
                       timeout=120)
    assert p.returncode == 2 and f"error: {missing}: lowres generator weights not found" in p.stderr


# ============================================================================================ browser
def chromium() -> str | None:
    """The system's Chromium (Debian: apt-get install chromium, see .ci/install-browser.sh)."""
    for name in (os.environ.get("LVG_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Playwright drives the system's binary and gives it a fresh temporary profile)."""
    exe = chromium()
    if exe is None:
        pytest.skip("no Chromium installed (install it with .ci/install-browser.sh: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()
    pw.stop()


def open_page(browser, server: Server, query: str = ""):
    """A page in its own browser context (own window: never a throttled background tab, no shared cache)."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + query)
    page.wait_for_selector("body[data-ready='1']")
    page.errors = errors
    return page


def close_page(page) -> None:
    page.context.close()


def wait_drawn(page, t: int, seed: int = SEED) -> dict:
    page.wait_for_function("([t, s]) => Object.values(lvg.drawn()).every(d => d && d.frame === t && d.seed === s)",
                           arg=[t, seed], timeout=60_000)
    return page.evaluate("lvg.drawn()")


def displayed(page, model: str) -> np.ndarray:
    """The pixels the page's canvas for ``model`` shows (RGBA from getImageData; alpha must be opaque)."""
    size = page.evaluate("(m) => { const c = document.querySelector(`canvas[data-model='${m}']`); "
                         "return [c.height, c.width]; }", model)
    rgba = np.array(page.evaluate("(m) => lvg.pixels(m)", model), dtype=np.uint8).reshape(*size, 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3]


@pytest.mark.browser
def test_browser_seeks_to_frame_1e6_of_seed_3_and_shows_lvg_generates_frame(browser, server, generated) -> None:
    page = open_page(browser, server)
    page.fill("#seed", str(SEED))
    page.dispatch_event("#seed", "change")
    page.fill("#frame", str(T))
    page.press("#frame", "Enter")
    drawn = wait_drawn(page, T)
    assert page.inner_text("#readout") == "seed 3 · frame 1,000,000 · 9:15:33.33"
    for model, kind in (("lr", "lres"), ("hr", "sres")):
        shown = displayed(page, model)
        assert np.array_equal(shown, reference(generated, kind, T)), f"{model}: displayed != lvg generate's PNG"
        i = T - WINDOW[0]
        assert np.array_equal(yuv420_roundtrip(shown), decode(generated[f"{kind}0"])[i])  # lossless mp4: exact
        err = np.abs(decode(generated[kind])[i].astype(int) - yuv420_roundtrip(shown).astype(int))
        assert err.max() <= MP4_MAX and err.mean() <= MP4_MEAN  # default mp4: codec rounding
    assert drawn["styleganv"]["error"] is None and displayed(page, "styleganv").std() > 5
    # the sequential baseline cannot jump there: its panel says why, the others are unaffected
    assert "served only below frame 9000" in drawn["mocoganhd"]["error"]
    assert "MoCoGAN-HD unrolls its LSTM" in page.inner_text("figure[data-model='mocoganhd'] figcaption")
    assert page.errors == []
    close_page(page)


@pytest.mark.browser
def test_browser_plays_in_sync_and_reports_its_frame_rate(browser, server, record_property) -> None:
    rates = {}
    for models in ("lr", "lr,hr,styleganv"):
        page = open_page(browser, server, f"?models={models}&seed={SEED}&t={T}")
        assert sorted(wait_drawn(page, T)) == sorted(models.split(","))
        page.click("#play")
        samples, end = [], time.time() + 3.0
        while time.time() < end:
            samples.append(page.evaluate("lvg.drawn()"))
            time.sleep(0.1)
        page.click("#play")
        stats = page.evaluate("lvg.stats()")
        rates[models] = stats
        visible = models.split(",")
        for s in samples:  # in sync: every visible panel shows the same frame, always
            assert len({s[m]["frame"] for m in visible}) == 1, s
        assert stats["displayed"] > 0 and stats["last"] > T and stats["start_frame"] == T
        last = stats["last"]
        assert page.evaluate("lvg.player.frame") == last
        assert np.array_equal(displayed(page, "lr" if "lr" in visible else "hr"),
                              server.png(f"/api/frame?model={'lr' if 'lr' in visible else 'hr'}&seed={SEED}&t={last}"))
        assert page.errors == []
        close_page(page)
    for models, s in rates.items():
        line = (f"delivered {s['fps']:.1f} fps over {s['elapsed_s']:.2f} s ({s['displayed']} frames, "
                f"{s['dropped']} dropped, {s['stalls']} stalls, {s['buffering_s']:.2f} s buffering)")
        print(f"\nlvg serve playback [{models}], tiny 16x16 LR / 32x32 HR: {line}")
        record_property(f"playback_{models}", s)


@pytest.mark.browser
def test_browser_scrubbing_back_and_forth_shows_the_same_frames(browser, server, generated) -> None:
    page = open_page(browser, server, f"?seed={SEED}&t={T}&models=lr,hr")
    wait_drawn(page, T)
    base = int(page.get_attribute("#scrubber", "data-base"))
    assert base == T // 108000 * 108000  # the 1 h span that holds T
    shown: dict[int, dict[str, np.ndarray]] = {}

    def look(t: int) -> dict[str, np.ndarray]:
        wait_drawn(page, t)
        return {m: displayed(page, m) for m in ("lr", "hr")}

    scrubber = page.locator("#scrubber")
    for t in (T, T - 2, T - 1000, T + 30):  # backwards, far back, then forwards past T
        scrubber.fill(str(t - base))
        shown[t] = look(t)
    scrubber.focus()
    for t in (T + 29, T + 28):  # single steps with the keyboard
        page.keyboard.press("ArrowLeft")
        shown[t] = look(t)
    for t in (T + 29, T + 30):
        page.keyboard.press("ArrowRight")
        assert all(np.array_equal(v, shown[t][m]) for m, v in look(t).items())
    for t in (T - 1000, T, T - 2):  # back again: the same pictures
        scrubber.fill(str(t - base))
        assert all(np.array_equal(v, shown[t][m]) for m, v in look(t).items()), t
    page.fill("#frame", "1000000000")  # any index can be typed: 10^9 is 9259 hours in
    page.press("#frame", "Enter")
    far = look(10**9)
    assert page.inner_text("#readout") == "seed 3 · frame 1,000,000,000 · 9259:15:33.33"
    assert np.array_equal(far["hr"], server.png(f"/api/frame?model=hr&seed={SEED}&t={10**9}"))
    page.evaluate("lvg.clearCache()")  # and back to T from the server, not the page's decoded sheets
    page.fill("#frame", str(T))
    page.press("#frame", "Enter")
    assert all(np.array_equal(v, shown[T][m]) for m, v in look(T).items())
    assert int(page.get_attribute("#scrubber", "data-base")) == base
    assert np.array_equal(shown[T]["lr"], reference(generated, "lres", T))
    assert np.array_equal(shown[T - 2]["hr"], reference(generated, "sres", T - 2))
    assert not np.array_equal(shown[T]["lr"], shown[T - 1000]["lr"])  # the video does move
    assert page.errors == []
    close_page(page)


@pytest.mark.browser
def test_browser_save_clip_downloads_lvg_generates_video(browser, server, generated, tmp_path) -> None:
    page = open_page(browser, server, f"?seed={SEED}&t={T}&models=hr")
    a, b = WINDOW
    page.select_option("#clip-model", "hr")
    page.fill("#clip-a", str(a))
    page.fill("#clip-b", str(b))
    page.check("#clip-lossless")
    with page.expect_download(timeout=60_000) as dl:
        page.click("#clip-save")
    download = dl.value
    assert download.suggested_filename == f"{generated['stem']}_sres.mp4"
    download.save_as(tmp_path / "clip.mp4")
    assert (tmp_path / "clip.mp4").read_bytes() == generated["sres0"].read_bytes()
    page.fill("#clip-b", str(a + 20000))  # too long: the server's message shows on the page
    page.click("#clip-save")
    page.wait_for_function("() => document.getElementById('clip-status').textContent.includes('too long')")
    close_page(page)


@pytest.mark.browser
def test_load_concurrent_clients_stay_within_the_memory_budget(browser, models, record_property) -> None:
    """N pages play different seeds and offsets at once for a fixed time against a server whose budget
    leaves a small cache (so it evicts); its peak resident memory while serving stays within the budget."""
    n, seconds = 4, 4.0
    p = subprocess.run(serve_cmd(models, "--memory-mb", "1"), capture_output=True, text=True, env=ENV, timeout=120)
    too_small = re.search(r"error: --memory-mb 1 is too small: .* give at least (\d+)", p.stderr)
    assert p.returncode == 2 and too_small, p.stderr  # a budget too small is refused, naming what fits
    need = int(too_small.group(1))
    budget = need + 2  # MB: the smallest budget that works, plus 2 MB of cache: it fills and evicts
    server = start_server(serve_cmd(models, "--memory-mb", str(budget)))
    try:
        pages = [open_page(browser, server, f"?models=lr,hr&seed={i}&t={1000 + i * 7_777_777}") for i in range(n)]
        for i, page in enumerate(pages):
            wait_drawn(page, 1000 + i * 7_777_777, seed=i)
        for page in pages:
            page.evaluate("lvg.play()")
        time.sleep(seconds)
        for page in pages:
            page.evaluate("lvg.pause()")
        rates = [page.evaluate("lvg.stats()") for page in pages]
        stats = server.json("/api/stats")
        for page in pages:
            assert page.errors == []
            close_page(page)
    finally:
        code = server.stop()
    plan, mem, cache = stats["memory_plan"], stats["memory"], stats["cache"]
    mb = 2**20
    print(f"\nlvg serve load test: {n} clients x {seconds:g} s (lr + hr panels each, tiny 16x16 / 32x32), "
          f"1 worker: delivered fps per client {[round(r['fps'], 1) for r in rates]}, "
          f"peak RSS while serving {mem['peak_rss'] / mb:.0f} MB of a {plan['budget'] / mb:.0f} MB budget "
          f"(cache peak {cache['peak_bytes'] / mb:.1f} of {cache['budget'] / mb:.1f} MB, {cache['evicted']} "
          f"evictions, {cache['deduplicated']} deduplicated, {cache['prefetch_dropped']} prefetch dropped)")
    record_property("load", {"clients": n, "fps": [r["fps"] for r in rates], "peak_rss": mem["peak_rss"],
                             "budget": plan["budget"], "cache": cache})
    assert code == 0
    assert plan["budget"] == budget * mb
    assert mem["peak_rss"] <= plan["budget"], "the server's peak resident memory exceeded its budget"
    assert cache["peak_bytes"] <= cache["budget"] == plan["cache"]
    assert all(r["displayed"] > 0 for r in rates) and stats["counters"]["server_errors"] == 0
