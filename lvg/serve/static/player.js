// lvg serve player: one clock, several panels drawn in sync from lossless PNG sprite sheets.
//
// Each panel asks /api/segment for aligned runs of `segment` frames (one PNG, frames tiled in rows of
// `sheet_cols`), decodes each sheet once into an ImageBitmap and draws single frames from it onto a canvas at
// the model's native size (CSS scales it up, pixelated). While playing, a frame is shown only when every
// visible panel has it, so the panels never drift apart: when one is late the clock waits (buffering) and
// playback resumes at the next frame rather than skipping it. Segments ahead of the playhead are requested
// early (prefetch); a bounded number of decoded sheets is kept per panel.
"use strict";

const $ = (id) => document.getElementById(id);
const AHEAD_SEGMENTS = 3;      // segments requested past the playhead while playing
const MAX_INFLIGHT = 2;        // concurrent segment requests per panel
const KEEP_SEGMENTS = 12;      // decoded sheets kept per panel (the others are closed)
const RETRY_MS = 3000;         // a segment that failed on the server's side is asked for again after this

const player = {
  info: null,
  seed: 0,
  frame: 0,            // the frame shown (or to be shown when paused)
  playing: false,
  clock: null,         // {frame0, t0}: frame frame0 was due at performance.now() == t0
  buffering: false,
  span: 108000,
  panels: [],
  stats: null,
};

function fmtInt(n) { return n.toLocaleString("en-US"); }

function fmtTime(frame, fps) {
  const s = frame / fps;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${sec.toFixed(2).padStart(5, "0")}`;
}

function parseIndex(text) {
  const t = String(text).trim().replace(/[,_\s]/g, "");
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

function setStatus(text, bad = false) {
  const el = $("status");
  el.textContent = text;
  el.className = bad ? "bad" : "";
}

class Panel {
  constructor(model, info) {
    this.model = model;
    this.name = model.name;
    this.seg = info.segment;
    this.cache = new Map();    // key -> {state, bitmap, cols, error}; insertion order = age
    this.inflight = 0;
    this.visible = true;
    this.drawn = null;         // {seed, frame} last drawn
    const fig = document.createElement("figure");
    fig.className = "panel";
    fig.dataset.model = model.name;
    this.canvas = document.createElement("canvas");
    this.canvas.width = model.width;
    this.canvas.height = model.height;
    this.canvas.dataset.model = model.name;
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    this.ctx.imageSmoothingEnabled = false;
    const cap = document.createElement("figcaption");
    const horizon = model.horizon == null ? "" : ` · served below frame ${fmtInt(model.horizon)}`;
    cap.innerHTML = `<span class="name"></span> <span class="meta"></span><br><span class="pstate"></span>`;
    cap.querySelector(".name").textContent = model.name;
    cap.querySelector(".meta").textContent =
      `${model.kind} · ${model.width}×${model.height} · ${model.mechanism}${horizon}`;
    this.state = cap.querySelector(".pstate");
    fig.append(this.canvas, cap);
    this.fig = fig;
  }

  key(seed, start) { return `${seed}:${start}`; }
  segStart(t) { return Math.floor(t / this.seg) * this.seg; }
  entry(seed, t) { return this.cache.get(this.key(seed, this.segStart(t))); }

  // true when frame t can be drawn now, or will never be (an error): errors must not stall the others
  settled(seed, t) {
    const e = this.entry(seed, t);
    return !!e && (e.state === "ready" || e.state === "error");
  }

  // urgent: the playhead needs it now (priority 0); else a look-ahead request (priority 1), which is sent
  // again as urgent if it is still on its way when the playhead reaches it
  request(seed, start, urgent) {
    const key = this.key(seed, start);
    let known = this.cache.get(key);
    if (known && known.state === "error" && known.retry && performance.now() - known.at > RETRY_MS) {
      this.cache.delete(key);  // a server or network failure: ask again (a 4xx answer is final)
      known = undefined;
    }
    if (known) {
      if (urgent && known.state === "loading" && !known.urgent) {
        known.urgent = true;
        this.load(known, seed, start, 0);
      }
      return;
    }
    if (this.inflight >= MAX_INFLIGHT) return;
    const e = { state: "loading", bitmap: null, cols: 1, error: null, urgent };
    this.cache.set(key, e);
    this.inflight++;
    this.load(e, seed, start, urgent ? 0 : 1).finally(() => {
      this.inflight--;
      this.trim(seed);
    });
  }

  // fetch and decode one sheet into entry e (the first answer wins when a request was bumped)
  load(e, seed, start, priority) {
    const url = `/api/segment?model=${encodeURIComponent(this.name)}&seed=${seed}&start=${start}` +
      `&count=${this.seg}&priority=${priority}`;
    return fetch(url).then(async (r) => {
      if (!r.ok) {
        let msg = `${r.status} ${r.statusText}`;
        try { msg = (await r.json()).error || msg; } catch (_) { /* not JSON */ }
        const err = new Error(msg);
        err.final = r.status < 500;
        throw err;
      }
      const cols = Number(r.headers.get("X-Lvg-Cols")) || 1;
      const blob = await r.blob();
      // no colour management, no premultiplication: the bitmap keeps the PNG's exact RGB values
      const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
      if (e.state !== "loading") { bitmap.close(); return; }
      Object.assign(e, { cols, bitmap, state: "ready" });
    }).catch((err) => {
      if (e.state !== "loading") return;
      Object.assign(e, { state: "error", error: String(err.message || err), retry: !err.final,
                         at: performance.now() });
    });
  }

  // keep the newest KEEP_SEGMENTS sheets, never the ones at or just after the playhead
  trim(seed) {
    if (this.cache.size <= KEEP_SEGMENTS) return;
    const lo = this.segStart(player.frame), hi = lo + (AHEAD_SEGMENTS + 1) * this.seg;
    for (const [key, e] of this.cache) {
      if (this.cache.size <= KEEP_SEGMENTS) break;
      const [s, start] = key.split(":").map(Number);
      if (e.state === "loading" || (s === seed && start >= lo && start < hi)) continue;
      if (e.bitmap) e.bitmap.close();
      this.cache.delete(key);
    }
  }

  // ask for the segment of frame t (urgent) and the `ahead` segments after it (look-ahead)
  prefetch(seed, t, ahead) {
    const first = this.segStart(t);
    for (let i = 0; i <= ahead; i++) {
      const start = first + i * this.seg;
      if (start > player.info.max_frame) break;
      this.request(seed, start, i === 0);
    }
  }

  draw(seed, t) {
    const e = this.entry(seed, t);
    if (!e) return false;
    if (e.state === "error") {
      this.ctx.fillStyle = "#300";
      this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      this.state.textContent = e.error;
      this.state.className = "pstate bad";
      this.drawn = { seed, frame: t, error: e.error };
      return true;
    }
    if (e.state !== "ready") return false;
    const i = t - this.segStart(t), w = this.canvas.width, h = this.canvas.height;
    const sx = (i % e.cols) * w, sy = Math.floor(i / e.cols) * h;
    this.ctx.drawImage(e.bitmap, sx, sy, w, h, 0, 0, w, h);
    if (this.state.classList.contains("bad") || this.state.textContent) {
      this.state.textContent = "";
      this.state.className = "pstate";
    }
    this.drawn = { seed, frame: t, error: null };
    return true;
  }

  clear() {
    for (const e of this.cache.values()) if (e.bitmap) e.bitmap.close();
    this.cache.clear();
  }
}

// ------------------------------------------------------------------------------------------------ clock
function visiblePanels() { return player.panels.filter((p) => p.visible); }

function show(t) {
  for (const p of visiblePanels()) p.draw(player.seed, t);
  player.frame = t;
  updateReadout();
}

function tick(now) {
  const fps = player.info.fps, seed = player.seed, panels = visiblePanels();
  if (player.playing) {
    const target = Math.min(player.clock.frame0 + Math.floor((now - player.clock.t0) * fps / 1000),
                            player.info.max_frame);
    for (const p of panels) p.prefetch(seed, player.frame + 1, AHEAD_SEGMENTS);
    if (target > player.frame) {
      if (panels.every((p) => p.settled(seed, target))) {
        const st = player.stats;
        if (player.buffering) {
          st.bufferingMs += now - st.stallStart;
          player.buffering = false;
        }
        st.dropped += target - player.frame - 1;
        st.displayed++;
        st.last = target;
        if (st.first === null) { st.first = target; st.firstAt = now; }
        st.lastAt = now;
        show(target);
      } else {
        // buffering: hold the playhead at the next frame; playback resumes there, in sync
        if (!player.buffering) {
          player.buffering = true;
          player.stats.stalls++;
          player.stats.stallStart = now;
        }
        player.clock = { frame0: player.frame + 1, t0: now };
      }
    }
    if (player.frame >= player.info.max_frame) pause();
  } else {
    // paused: every panel draws the current frame as soon as it has it
    for (const p of panels) {
      p.prefetch(seed, player.frame, 1);
      const d = p.drawn;
      if (!d || d.seed !== seed || d.frame !== player.frame) p.draw(seed, player.frame);
    }
  }
  updateRate(now);
  requestAnimationFrame(tick);
}

function play() {
  if (player.playing) return;
  const now = performance.now();
  player.playing = true;
  player.buffering = false;
  player.clock = { frame0: player.frame + 1, t0: now + 1000 / player.info.fps };
  player.stats = { startedAt: now, displayed: 0, dropped: 0, stalls: 0, bufferingMs: 0, stallStart: 0,
                   first: null, firstAt: 0, last: null, lastAt: 0, startFrame: player.frame };
  $("play").textContent = "❚❚ Pause";
}

function pause() {
  if (!player.playing) return;
  player.playing = false;
  if (player.buffering && player.stats) player.stats.bufferingMs += performance.now() - player.stats.stallStart;
  player.buffering = false;
  player.stats.stoppedAt = performance.now();
  $("play").textContent = "▶ Play";
}

function seek(t, seed = player.seed) {
  const max = player.info.max_frame;
  t = Math.max(0, Math.min(max, Math.floor(t)));
  player.seed = seed;
  player.frame = t;
  if (player.playing) player.clock = { frame0: t + 1, t0: performance.now() + 1000 / player.info.fps };
  player.buffering = false;
  updateScrubber();
  updateReadout();
}

function stats() {
  const st = player.stats;
  if (!st) return null;
  const end = st.stoppedAt || performance.now();
  const elapsed = (end - st.startedAt) / 1000;
  return { displayed: st.displayed, dropped: st.dropped, stalls: st.stalls, buffering_s: st.bufferingMs / 1000,
           elapsed_s: elapsed, fps: elapsed > 0 ? st.displayed / elapsed : 0,
           steady_fps: st.displayed > 1 ? (st.displayed - 1) / ((st.lastAt - st.firstAt) / 1000) : 0,
           start_frame: st.startFrame, first: st.first, last: st.last };
}

// ------------------------------------------------------------------------------------------------ UI
function updateReadout() {
  const f = player.frame;
  $("readout").textContent = `seed ${player.seed} · frame ${fmtInt(f)} · ${fmtTime(f, player.info.fps)}`;
  if (document.activeElement !== $("frame")) $("frame").value = String(f);
  if (!clipEdited) {  // the clip range follows the playhead until the user types one
    $("clip-a").value = String(f);
    $("clip-b").value = String(f + 3 * player.info.fps);
  }
}

let clipEdited = false;

let lastRate = 0;
function updateRate(now) {
  if (now - lastRate < 500) return;
  lastRate = now;
  const s = stats();
  $("rate").textContent = s && player.playing
    ? `${s.fps.toFixed(1)} fps delivered${player.buffering ? " · buffering" : ""}`
    : (s ? `last play: ${s.fps.toFixed(1)} fps` : "");
}

function updateScrubber() {
  const span = player.span, base = Math.floor(player.frame / span) * span;
  const sc = $("scrubber");
  sc.max = String(span - 1);
  sc.dataset.base = String(base);
  if (document.activeElement !== sc) sc.value = String(player.frame - base);
  $("span-lo").textContent = fmtTime(base, player.info.fps);
  $("span-hi").textContent = fmtTime(base + span, player.info.fps);
}

function goToTyped() {
  const t = parseIndex($("frame").value);
  if (t === null || t > player.info.max_frame) {
    setStatus(`frame must be an integer 0..${fmtInt(player.info.max_frame)}, got "${$("frame").value}"`, true);
    return;
  }
  setStatus("");
  seek(t);
  $("frame").blur();
}

function setSeed() {
  const [lo, hi] = player.info.seeds, v = $("seed").value;
  const s = parseIndex(v);
  if (s === null || s < lo || s > hi) {
    setStatus(`seed must be an integer ${lo}..${hi}, got "${v}"`, true);
    return;
  }
  setStatus("");
  seek(player.frame, s);
}

async function saveClip() {
  const name = $("clip-model").value, a = parseIndex($("clip-a").value), b = parseIndex($("clip-b").value);
  const out = $("clip-status");
  if (a === null || b === null || b <= a) {
    out.textContent = "give frames a < b (integers)";
    out.className = "hint bad";
    return;
  }
  out.textContent = `writing ${fmtInt(b - a)} frames…`;
  out.className = "hint";
  const crf = $("clip-lossless").checked ? "&crf=0" : "";
  const r = await fetch(`/api/clip?model=${encodeURIComponent(name)}&seed=${player.seed}&a=${a}&b=${b}${crf}`);
  if (!r.ok) {
    let msg = r.statusText;
    try { msg = (await r.json()).error; } catch (_) { /* not JSON */ }
    out.textContent = msg;
    out.className = "hint bad";
    return;
  }
  const cd = r.headers.get("Content-Disposition") || "";
  const file = (cd.match(/filename="([^"]+)"/) || [null, "clip.mp4"])[1];
  const url = URL.createObjectURL(await r.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = file;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  out.textContent = `saved ${file}`;
}

function buildModels(info) {
  const models = $("models"), panels = $("panels"), clipModel = $("clip-model");
  models.textContent = "show: ";
  for (const m of info.models) {
    const p = new Panel(m, info);
    player.panels.push(p);
    panels.append(p.fig);
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset.model = m.name;
    box.addEventListener("change", () => {
      p.visible = box.checked;
      p.fig.style.display = box.checked ? "" : "none";
      p.drawn = null;
    });
    label.append(box, ` ${m.name}`);
    models.append(label);
    const opt = document.createElement("option");
    opt.value = m.name;
    opt.textContent = m.name;
    clipModel.append(opt);
  }
}

function bind() {
  $("play").addEventListener("click", () => (player.playing ? pause() : play()));
  $("go").addEventListener("click", goToTyped);
  $("frame").addEventListener("keydown", (e) => { if (e.key === "Enter") goToTyped(); });
  $("seed").addEventListener("change", setSeed);
  $("scrubber").addEventListener("input", (e) => seek(Number(e.target.dataset.base) + Number(e.target.value)));
  $("span").addEventListener("change", (e) => { player.span = Number(e.target.value); updateScrubber(); });
  $("clip-save").addEventListener("click", saveClip);
  for (const id of ["clip-a", "clip-b"]) $(id).addEventListener("input", () => { clipEdited = true; });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); player.playing ? pause() : play(); }
    const step = e.shiftKey ? player.info.fps : 1;
    if (e.key === "ArrowRight") seek(player.frame + step);
    if (e.key === "ArrowLeft") seek(player.frame - step);
  });
}

// ?models=lr,hr&seed=3&t=1000000&play=1 opens that view (links can be shared; scripts use it too)
function applyQuery(info) {
  const q = new URLSearchParams(location.search);
  const want = q.get("models");
  if (want) {
    const names = new Set(want.split(","));
    for (const box of document.querySelectorAll("#models input[type=checkbox]")) {
      if (box.checked !== names.has(box.dataset.model)) {
        box.checked = names.has(box.dataset.model);
        box.dispatchEvent(new Event("change"));
      }
    }
  }
  const [lo, hi] = info.seeds;
  const seed = q.has("seed") ? parseIndex(q.get("seed")) : lo;
  const t = q.has("t") ? parseIndex(q.get("t")) : 0;
  if (seed === null || seed < lo || seed > hi) setStatus(`seed must be an integer ${lo}..${hi}`, true);
  if (t === null || t > info.max_frame) setStatus(`t must be an integer 0..${fmtInt(info.max_frame)}`, true);
  const s = seed === null || seed < lo || seed > hi ? lo : seed;
  $("seed").value = String(s);
  seek(t === null || t > info.max_frame ? 0 : t, s);
  if (q.get("play") === "1") play();
}

async function start() {
  const r = await fetch("/api/info");
  const info = await r.json();
  player.info = info;
  const [lo, hi] = info.seeds;
  $("seed").min = String(lo);
  $("seed").max = String(hi);
  buildModels(info);
  bind();
  setStatus(`${info.models.length} model(s) · seeds ${lo}..${hi} · ${info.fps} fps · any frame 0..${fmtInt(info.max_frame)}`);
  applyQuery(info);
  document.body.dataset.ready = "1";
  requestAnimationFrame(tick);
}

// hooks for scripts and tests (Playwright reads them with page.evaluate)
window.lvg = {
  player, play, pause, seek, stats,
  drawn: () => Object.fromEntries(visiblePanels().map((p) => [p.name, p.drawn])),
  pixels: (name) => {
    const p = player.panels.find((q) => q.name === name);
    return Array.from(p.ctx.getImageData(0, 0, p.canvas.width, p.canvas.height).data);
  },
  clearCache: () => player.panels.forEach((p) => p.clear()),
};

start().catch((err) => setStatus(`cannot start: ${err}`, true));
