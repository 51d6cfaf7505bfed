"""``lvg serve``: does playback keep up? Generation and delivery costs, browser playback rates, a load test.

Prints measured numbers (nothing is asserted):

1. **Server-side cost per frame** (in this process, one torch thread): generating a model's aligned chunk,
   and encoding 32 frames for delivery as a lossless PNG sheet (what the server sends), a JPEG sheet, and a
   fragmented-MP4 H.264 segment (what Media Source Extensions would play): ms per frame and bytes per frame.
   30 fps playback needs generation + encoding under 33 ms per frame per panel.
2. **Playback in headless Chromium** against a real ``lvg serve`` (one worker): each panel alone, played
   for ``--seconds`` from frame 1,000,000 of seed 3, first *cold* (generated on demand while playing), then
   *warm*: the same span in a fresh page after the server has cached all of it (what delivery alone sustains:
   HTTP, PNG decoding in the browser, drawing). Reported: delivered
   fps (frames shown / wall time), stalls, buffering time, and the generation rate the server measured.
3. **Load**: ``--clients`` pages in separate browser contexts play different seeds and offsets at once (LR
   and HR panels each) for ``--seconds``; delivered fps per client, the server's peak resident memory while
   serving vs its ``--memory-mb`` budget, cache peak vs cache budget, evictions.

Models: untrained tiny networks (speed does not depend on the weights) at two sizes: the tiny preset's own
16x16 -> 32x32, and 64x64 -> 256x256 (the default pipeline's resolutions); or your checkpoints with
``--lres DIR --sres DIR``. The machine's load average is printed first: on a shared machine every rate
depends on it.

    python benchmarks/bench_serve.py                     # both sizes, 3 s plays, 4 clients
    python benchmarks/bench_serve.py --sizes 16 --clients 8 --seconds 5
    python benchmarks/bench_serve.py --lres results/models/lowres/synthetic --sres results/models/superres/synthetic
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import numpy as np

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
T, SEED = 1_000_000, 3


def make_models(root: Path, lr_size: int) -> tuple[Path, Path]:
    import torch

    from lvg.lowres.generator import GeneratorConfig, VideoGenerator
    from lvg.models import save_generator
    from lvg.superres.generator import SRGenerator, SRGeneratorConfig

    hr = {16: 32, 64: 256}.get(lr_size, 4 * lr_size)
    torch.manual_seed(0)
    save_generator(VideoGenerator(GeneratorConfig.tiny(height=lr_size, width=lr_size, output_scale=50.0)),
                root / "lr/G_ema.safetensors")
    torch.manual_seed(1)
    cfg = SRGeneratorConfig.tiny(lr_height=lr_size, lr_width=lr_size, hr_height=hr, hr_width=hr, output_scale=1.0)
    save_generator(SRGenerator(cfg), root / "sr/G_ema.safetensors")
    return root / "lr", root / "sr"


# ============================================================================================ 1. costs
def encode_costs(frames: np.ndarray) -> dict[str, tuple[float, float]]:
    """(ms per frame, bytes per frame) of each delivery format for ``frames`` [T, H, W, 3] uint8."""
    import av
    from PIL import Image

    from lvg.serve.app import encode_sheet

    t, h, w, _ = frames.shape
    out: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn, reps: int = 3) -> None:
        best, size = 1e9, 0
        for _ in range(reps):
            a = time.perf_counter()
            size = len(fn())
            best = min(best, time.perf_counter() - a)
        out[name] = (1000 * best / t, size / t)

    timed("PNG sheet, zlib 1 (served)", lambda: encode_sheet(frames))

    def jpeg() -> bytes:
        cols = min(t, 8)
        sheet = np.zeros((-(-t // cols) * h, cols * w, 3), np.uint8)
        for i in range(t):
            r, c = divmod(i, cols)
            sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = frames[i]
        buf = io.BytesIO()
        Image.fromarray(sheet).save(buf, format="JPEG", quality=90)
        return buf.getvalue()

    timed("JPEG sheet, q90 (lossy)", jpeg)

    def fmp4(preset: str) -> bytes:
        buf = io.BytesIO()
        k = 1 if h % 2 == 0 and w % 2 == 0 else 2
        with av.open(buf, "w", format="mp4",
                     options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as c:
            s = c.add_stream("libx264", rate=Fraction(30))
            s.width, s.height, s.pix_fmt = w * k, h * k, "yuv420p"
            s.options = {"preset": preset, "crf": "18", "tune": "zerolatency"}
            for f in frames:
                f = f.repeat(k, 0).repeat(k, 1) if k > 1 else f
                for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        return buf.getvalue()

    timed("H.264 fMP4 segment, ultrafast crf 18 (MSE; lossy)", lambda: fmp4("ultrafast"))
    timed("H.264 fMP4 segment, veryfast crf 18 (MSE; lossy)", lambda: fmp4("veryfast"))
    return out


def server_costs(lres: Path, sres: Path) -> None:
    import torch

    from lvg.serve.sources import build_models
    from lvg.serve.store import ChunkStore

    torch.set_num_threads(1)
    models = build_models(lres, sres)
    store = ChunkStore(1 << 30)
    try:
        for m in models.values():
            m.warm_up(store.get)
        lr, hr = models["lr"], models["hr"]
        print(f"\n  generation (1 torch thread), {lr.height}x{lr.width} LR / {hr.height}x{hr.width} HR:")
        for m, k0, n in ((lr, T // lr.chunk, 2), (hr, T // hr.chunk, 8)):
            a = time.perf_counter()
            for k in range(k0, k0 + n):
                m.chunk_u8(SEED, k, store.get)
            dt = time.perf_counter() - a
            note = " (includes the LR frames it reads)" if m is hr else ""
            print(f"    {m.name}: {1000 * dt / (n * m.chunk):7.2f} ms/frame = {n * m.chunk / dt:7.1f} fps{note}")
        print("  delivery encoding of 32 frames, ms and bytes per frame:")
        for m in (lr, hr):
            frames = m.frames(SEED, T, T + 32, store.get)
            for name, (ms, size) in encode_costs(frames).items():
                print(f"    {m.name} {m.height}x{m.width}  {name:52s} {ms:6.2f} ms  {size:9.0f} B")
    finally:
        store.close()


# ============================================================================================ 2./3. browser
class Server:
    def __init__(self, cmd: list[str]) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.url, self.lines, ready = "", [], threading.Event()

        def read() -> None:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())
                m = re.match(r"lvg serve: (http://\S+/) ", line)
                if m:
                    self.url = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(300)
        if not self.url:
            raise SystemExit("lvg serve did not start:\n" + "\n".join(self.lines))

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url + "api/stats", timeout=30) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def prefill(url: str, model: str, start: int, frames: int, segment: int = 32) -> None:
    """Ask the server for every segment of ``[start, start + frames)`` so that it is cached."""
    first = start // segment * segment
    for s in range(first, start + frames, segment):
        with urllib.request.urlopen(f"{url}api/segment?model={model}&seed={SEED}&start={s}&count={segment}",
                                    timeout=600) as r:
            r.read()


def play(browser, url: str, model: str, seconds: float) -> tuple[dict, dict]:
    """(cold, warm): play ``seconds`` from frame T generating on demand, then the same span once the server
    has it all cached (a fresh page, so the browser has nothing decoded)."""
    runs = []
    for warm in (False, True):
        if warm:
            prefill(url, model, T, int(seconds * 30) + 64)
        page = browser.new_context().new_page()
        page.goto(url + f"?models={model}&seed={SEED}&t={T}")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function(f"() => Object.values(lvg.drawn()).every(d => d && d.frame === {T})",
                               timeout=300_000)
        page.evaluate("lvg.play()")
        time.sleep(seconds)
        page.evaluate("lvg.pause()")
        runs.append(page.evaluate("lvg.stats()"))
        page.context.close()
    return runs[0], runs[1]


def fmt(s: dict) -> str:
    return (f"{s['fps']:5.1f} fps delivered ({s['displayed']} frames in {s['elapsed_s']:.1f} s, "
            f"{s['stalls']} stalls, {s['buffering_s']:.1f} s buffering, {s['dropped']} dropped)")


def browser_runs(pw, exe: str, lres: Path, sres: Path, seconds: float, clients: int, label: str) -> None:
    base = [sys.executable, "-m", "lvg.cli", "serve", "--lres", str(lres), "--sres", str(sres), "--port", "0"]
    server = Server([*base, "--memory-mb", "2048"])
    browser = pw.chromium.launch(executable_path=exe, headless=True, args=ARGS)
    try:
        print(f"\n  playback, one panel at a time, {seconds:g} s from frame {T:,} of seed {SEED} ({label}):")
        for model in ("lr", "hr"):
            cold, warm = play(browser, server.url, model, seconds)
            gen = server.stats()["models"][model]["generation_fps"]
            print(f"    {model}: cold {fmt(cold)}; server generated at {gen} fps")
            print(f"    {model}: warm {fmt(warm)}")
    finally:
        server.stop()
    # load: a fresh server whose budget leaves a small cache
    probe = subprocess.run([*base, "--memory-mb", "1"], capture_output=True, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
    need = int(re.search(r"give at least (\d+)", probe.stderr).group(1))
    server = Server([*base, "--memory-mb", str(need + 8)])
    try:
        pages = []
        for i in range(clients):
            page = browser.new_context().new_page()
            t = 1000 + i * 7_777_777
            page.goto(server.url + f"?models=lr,hr&seed={i}&t={t}")
            page.wait_for_selector("body[data-ready='1']")
            pages.append(page)
        for page in pages:
            page.wait_for_function("() => Object.values(lvg.drawn()).every(d => d && d.frame === lvg.player.frame)",
                                   timeout=300_000)
        for page in pages:
            page.evaluate("lvg.play()")
        time.sleep(seconds)
        for page in pages:
            page.evaluate("lvg.pause()")
        rates = [page.evaluate("lvg.stats()") for page in pages]
        st = server.stats()
    finally:
        browser.close()
        server.stop()
    mb, plan, mem, cache = 2**20, st["memory_plan"], st["memory"], st["cache"]
    print(f"\n  load: {clients} clients (lr + hr panels each, different seeds and offsets), {seconds:g} s, 1 worker "
          f"({label}):")
    for i, r in enumerate(rates):
        print(f"    client {i}: {fmt(r)}")
    print(f"    server generated lr at {st['models']['lr']['generation_fps']} fps, hr at "
          f"{st['models']['hr']['generation_fps']} fps (all clients together)")
    print(f"    peak resident memory while serving {mem['peak_rss'] / mb:.0f} MB of a {plan['budget'] / mb:.0f} MB "
          f"budget ({plan['resident_after_warm_up'] / mb:.0f} MB models + runtime after warm-up); cache peak "
          f"{cache['peak_bytes'] / mb:.1f} of {cache['budget'] / mb:.1f} MB, {cache['evicted']} evictions, "
          f"{cache['deduplicated']} deduplicated requests")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 64], help="LR sizes of untrained tiny models")
    p.add_argument("--lres", type=Path, help="use this LR checkpoint instead (with --sres)")
    p.add_argument("--sres", type=Path)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--skip-browser", action="store_true")
    args = p.parse_args(argv)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(1 / 5 / 15 min), Python {sys.version.split()[0]}")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    pw = None
    if not args.skip_browser:
        if exe is None:
            print("no Chromium on PATH (.ci/install-browser.sh): browser measurements skipped")
        else:
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
    with tempfile.TemporaryDirectory() as tmp:
        sets = ([(args.lres, args.sres, f"{args.lres}")] if args.lres else
                [(*make_models(Path(tmp) / str(s), s), f"tiny, {s}x{s} LR") for s in args.sizes])
        for lres, sres, label in sets:
            print(f"\n=== {label}")
            server_costs(lres, sres)
            if pw is not None:
                browser_runs(pw, exe, lres, sres, args.seconds, args.clients, label)
    if pw is not None:
        pw.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
