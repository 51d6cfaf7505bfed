"""GPU readiness check (issue #13): time the ``paper`` presets and check the CUDA path, in one bounded run.

Device time is scarce (a lent H100/H200 for ~15 minutes including start-up), so this is one prepared run
that answers everything at once and always leaves a usable result:

* each part runs in its own subprocess with a timeout (a hung kernel or an OOM cannot take the rest down,
  and each part's peak memory is its own); parts get ``min(cap, time left)`` and are skipped, with the reason,
  once the overall budget (default 450 s) is spent;
* after every part the whole result is rewritten atomically to ``$OUT/gpu_check.json`` (``complete: false``
  until the end) and ``$OUT/gpu_check.md``, so a kill at any moment leaves a valid JSON of what finished;
* nothing is installed or downloaded; networks are randomly initialised (speed and memory do not depend on
  the weights) and training steps get random real batches of the right shapes (no dataset needed).

Parts: ``env`` (torch, device, capability, memory); ``parity`` (LR and SR generator forward on CPU vs the
device for the same seed, TF32 off, plus one tiny LR and SR training step on the device: finite losses);
``train_{lr,sr}_{fp32,bf16}`` (the project's own ``LowResGAN.train_step`` / ``SuperResGAN.train_step`` at
the paper preset and the paper's per-GPU batch: config/paper.yaml's global batch over 8 GPUs, halved on
OOM); ``gen_lr64`` (LR-only streaming fps at 64x64, ``GeneratorConfig.paper(64, 64)``); ``bench_{fp32,bf16}``
(``benchmarks/bench_generate.py --preset paper``: LR 36x64 and LR + SR 144x256 fps); ``tests`` (``pytest -m cuda``:
``tests/test_cuda.py`` and any other test marked ``cuda``).

    benchmarks/gpu_check.sh                       # on the GPU machine (picks the interpreter, then this)
    python benchmarks/gpu_check.py --cpu-dry-run  # tiny sizes on the CPU, every code path, < 2 minutes
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAPER_GPUS = 8  # config/paper.yaml's batches are global over the paper's 8 GPUs
PAPER_STEPS = {"lr": 100_000, "sr": 275_000}  # config/paper.yaml steps, for the projected training time
PARITY_TOL = 1e-3  # max |cpu - gpu| / max |cpu|, fp32 with TF32 off (rounding alone is ~1e-6)
# part -> (cap in seconds on the GPU, cap in the CPU dry run); the order is the priority order
PARTS: dict[str, tuple[int, int]] = {
    "env": (40, 20), "parity": (60, 25), "tests": (60, 20),
    "train_lr_fp32": (70, 30), "train_lr_bf16": (55, 30), "train_sr_fp32": (55, 25), "train_sr_bf16": (45, 25),
    "gen_lr64": (40, 15), "bench_fp32": (70, 30), "bench_bf16": (60, 30),
}


# ============================================================================================ workers
def run_group(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` in a new process group, the whole group killed on timeout: bench_generate's and
    pytest's own children must not outlive a part and keep holding GPU memory."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_mb(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.startswith("cuda") else None


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def part_env(a: argparse.Namespace) -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    out: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable, "torch": torch.__version__,
                           "cuda_build": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
                           "cpu_threads": torch.get_num_threads(), "cudnn": torch.backends.cudnn.version(),
                           "tf32_cudnn_default": torch.backends.cudnn.allow_tf32,
                           "tf32_matmul_default": torch.backends.cuda.matmul.allow_tf32}
    if a.device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        out |= {"gpu": p.name, "capability": f"{p.major}.{p.minor}", "gpu_memory_gb": round(p.total_memory / 2**30, 1),
                "gpu_count": torch.cuda.device_count(), "bf16_supported": torch.cuda.is_bf16_supported()}
    return out


def _train_section(stage: str, dry: bool, device: str, bf16: bool, batch: int | None) -> dict[str, Any]:
    """The validated ``train_lowres`` / ``train_superres`` section: params.yaml + config/paper.yaml (the
    paper preset) with the paper's per-GPU batch, or in a dry run the tiny preset (grad_accum 2 kept, so the
    accumulation path runs too)."""
    import yaml

    from lvg.config import deep_merge, validate_section

    name = "train_lowres" if stage == "lr" else "train_superres"
    sec = yaml.safe_load((REPO / "params.yaml").read_text())[name]
    if not dry:
        sec = deep_merge(sec, yaml.safe_load((REPO / "config/paper.yaml").read_text())[name])
        sec["batch"] = batch or max(1, sec["batch"] // PAPER_GPUS)
    else:
        sec["batch"] = batch or 2
        if stage == "lr":
            sec["grad_accum"] = 2
    if stage == "lr" and sec["batch"] % sec.get("grad_accum", 1):
        sec["grad_accum"] = 1
    sec |= {"device": "cuda" if device.startswith("cuda") else "cpu", "bf16": bf16, "threads": 0}
    return validate_section(name, sec)


class RandomBatches:
    """Random "real" batches in [-1, 1] of the shapes the step reads, made on the device (no dataset)."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], device: str) -> None:
        import torch

        self.shapes, self.device = shapes, device
        self.g = torch.Generator(device=device).manual_seed(0)

    def next(self) -> dict[str, Any]:
        import torch

        return {k: torch.rand(s, generator=self.g, device=self.device) * 2 - 1 for k, s in self.shapes.items()}


def _build(stage: str, sec: dict[str, Any]) -> tuple[Any, RandomBatches]:
    """The project's own algorithm object and matching random batches."""
    from lvg.config import parse_resolution
    from lvg.train import distributed as dist

    info = dist.setup_process(sec["device"], sec["threads"])
    if stage == "lr":
        from lvg.train.lowres import LowResGAN, LowResTrainConfig

        algo = LowResGAN(LowResTrainConfig.from_dict(sec), info)
        h, w = parse_resolution(sec["resolution"])
        shapes = {"video": (algo.micro_batch, 3, sec["seq_length"], h, w)}
    else:
        from lvg.train.superres import CLIP_FRAMES, SRTrainConfig, SuperResGAN

        algo = SuperResGAN(SRTrainConfig.from_dict(sec), info)
        (h, w), (H, W) = parse_resolution(sec["lr_resolution"]), parse_resolution(sec["hr_resolution"])
        shapes = {"lr_video": (algo.micro_batch, 3, CLIP_FRAMES, h, w),
                  "hr_video": (algo.micro_batch, 3, CLIP_FRAMES, H, W)}
    return algo, RandomBatches(shapes, str(info.device))


def _time_steps(algo: Any, batches: RandomBatches, device: str, seconds: float, n: int) -> dict[str, Any]:
    """Warm-up (step 0, which includes the lazy R1), then up to ``n`` plain steps while time lasts, then one
    R1 step (step 16); peak memory covers the timed steps and the R1 step."""
    import torch

    def one(step: int) -> tuple[float, dict[str, float]]:
        _sync(device)
        t = time.perf_counter()
        losses = algo.train_step(step, batches)
        _sync(device)
        dt = time.perf_counter() - t
        print(f"  step {step}: {dt:.3f} s", file=sys.stderr, flush=True)  # what a timeout leaves behind
        return dt, losses

    start = time.perf_counter()
    first_s, _ = one(0)
    one(1)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times, losses = [], {}
    for step in range(2, 2 + n):
        dt, losses = one(step)
        times.append(dt)
        if time.perf_counter() - start + 2 * statistics.median(times) > seconds:
            break
    r1_s, r1_losses = one(algo.tc.r1_interval) if algo.tc.r1_enabled else (None, {})
    median = statistics.median(times)
    amortised = median + (r1_s - median) / algo.tc.r1_interval if r1_s is not None else median
    return {"first_step_s": round(first_s, 3), "steps_timed": len(times), "s_per_step": round(median, 4),
            "r1_step_s": None if r1_s is None else round(r1_s, 4), "s_per_step_amortised": round(amortised, 4),
            "peak_mb": _peak_mb(device), "peak_rss_mb": _rss_mb(),
            "finite": all(math.isfinite(v) for v in (losses | r1_losses).values())}


def part_train(a: argparse.Namespace) -> dict[str, Any]:
    """One training configuration; on CUDA OOM the per-GPU batch is halved (and recorded) until it fits."""
    import torch

    _, stage, precision = a.part.split("_")
    batch: int | None = None
    halvings = 0
    while True:
        sec = _train_section(stage, a.dry, a.device, precision == "bf16", batch)
        try:
            algo, batches = _build(stage, sec)
            res = _time_steps(algo, batches, a.device, a.seconds, 3 if a.dry else 6)
            break
        except torch.cuda.OutOfMemoryError:
            algo = batches = None
            torch.cuda.empty_cache()
            if sec["batch"] <= 1:
                raise
            batch, halvings = sec["batch"] // 2, halvings + 1
    gen = algo.G.cfg
    size = f"{gen.height}x{gen.width}x{sec['seq_length']}" if stage == "lr" else \
        f"{gen.lr_height}x{gen.lr_width}->{gen.hr_height}x{gen.hr_width}"
    accum = sec.get("grad_accum", 1)
    paper_hours = res["s_per_step_amortised"] * PAPER_STEPS[stage] / 3600
    return res | {"stage": stage.upper(), "precision": precision, "preset": sec["preset"], "size": size,
                  "batch_per_gpu": sec["batch"], "micro_batch": algo.micro_batch, "grad_accum": accum,
                  "oom_halvings": halvings, "paper_batch_per_gpu": not a.dry and halvings == 0,
                  "projected_paper_hours_8gpu": round(paper_hours, 1)}


def _rel(a: Any, b: Any) -> float:
    return float((a.double() - b.double()).abs().max() / a.double().abs().max().clamp_min(1e-12))


def part_parity(a: argparse.Namespace) -> dict[str, Any]:
    """Same seed, same weights: the generators on the CPU and on the device must agree to rounding (fp32,
    TF32 off); bf16 on the device is reported against fp32 for information. Then one tiny LR and SR training
    step on the device, with finite losses. In the dry run "the device" is the CPU again (zero difference)."""
    import torch

    from lvg.lowres.generator import GeneratorConfig, VideoGenerator
    from lvg.superres.generator import SRGenerator, SRGeneratorConfig

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    if a.dry:
        lr_cfg, sr_cfg, frames = GeneratorConfig.tiny(height=16, width=16), SRGeneratorConfig.tiny(), 32
    else:
        lr_cfg, sr_cfg, frames = GeneratorConfig.paper(64, 64), SRGeneratorConfig.paper(), 32
    out: dict[str, Any] = {"tolerance": PARITY_TOL}
    with torch.no_grad():
        torch.manual_seed(0)
        G = VideoGenerator(lr_cfg).eval()
        ref = G(seeds=[0], t0=0, num_frames=frames)
        G.to(a.device)
        dev = G(seeds=[0], t0=0, num_frames=frames).cpu()
        with torch.autocast(torch.device(a.device).type, dtype=torch.bfloat16):
            bf = G(seeds=[0], t0=0, num_frames=frames).float().cpu()
        out["lr"] = {"shape": list(ref.shape), "rel_diff": _rel(ref, dev), "bf16_rel_diff": _rel(dev, bf)}
        torch.manual_seed(0)
        S = SRGenerator(sr_cfg).eval()
        g = torch.Generator().manual_seed(0)
        lr = torch.rand(1, 3, sr_cfg.window, sr_cfg.lr_height, sr_cfg.lr_width, generator=g) * 2 - 1
        z = torch.randn(1, sr_cfg.z_dim, generator=g)
        ref = S(lr, z)
        S.to(a.device)
        dev = S(lr.to(a.device), z.to(a.device)).cpu()
        with torch.autocast(torch.device(a.device).type, dtype=torch.bfloat16):
            bf = S(lr.to(a.device), z.to(a.device)).float().cpu()
        out["sr"] = {"shape": list(ref.shape), "rel_diff": _rel(ref, dev), "bf16_rel_diff": _rel(dev, bf)}
    steps = {}
    for stage in ("lr", "sr"):  # the tiny preset's one step on the device (step 0: G, D and R1 updates)
        sec = _train_section(stage, True, a.device, False, None)
        algo, batches = _build(stage, sec)
        losses = algo.train_step(0, batches)
        steps[stage] = {k: round(v, 4) for k, v in losses.items()}
    out["tiny_train_step"] = steps
    out["ok"] = (max(out["lr"]["rel_diff"], out["sr"]["rel_diff"]) <= PARITY_TOL
                 and all(math.isfinite(v) for s in steps.values() for v in s.values()))
    return out


def part_gen_lr64(a: argparse.Namespace) -> dict[str, Any]:
    """LR-only streaming generation at 64x64 (bench_generate's paper preset is 36x64): fps per precision."""
    import inspect

    import torch

    from lvg import generate as gen
    from lvg.lowres.generator import GeneratorConfig, VideoGenerator

    torch.manual_seed(0)
    cfg = GeneratorConfig.tiny(height=16, width=16) if a.dry else GeneratorConfig.paper(64, 64)
    G = VideoGenerator(cfg).eval().requires_grad_(False).to(a.device)
    has_precision = "precision" in inspect.signature(gen.iter_lowres).parameters
    frames, grid = (512, 256) if a.dry else (9000, gen.DEFAULT_LR_GRID)
    rows = []
    for precision in ("fp32", "bf16") if has_precision else ("fp32",):
        kw = {"precision": precision} if has_precision else {}
        for _ in gen.iter_lowres(G, 0, 0, grid, lr_grid=grid, **kw):  # warm-up
            pass
        _sync(a.device)
        if a.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        done, t = 0, time.perf_counter()
        for piece in gen.iter_lowres(G, 1, 0, frames, lr_grid=grid, **kw):
            done += piece.shape[1]
            if time.perf_counter() - t > a.seconds / 3:
                break
        _sync(a.device)
        dt = time.perf_counter() - t
        rows.append({"precision": precision, "size": f"{cfg.height}x{cfg.width}", "frames": done,
                     "seconds": round(dt, 2), "fps": round(done / dt, 1), "peak_mb": _peak_mb(a.device) or _rss_mb()})
    return {"rows": rows, "lr_grid": grid, "precision_supported": has_precision}


def _bench_flags(precision: str) -> list[str] | None:
    """How to ask bench_generate.py for ``precision``, from its ``--help`` (its interface is moving):
    ``--configs exact:P``, else ``--precision P``, else nothing for fp32 (its default) and None for bf16."""
    help_text = subprocess.run([sys.executable, str(REPO / "benchmarks/bench_generate.py"), "--help"],
                               capture_output=True, text=True, cwd=REPO, timeout=60).stdout
    if "--configs" in help_text:
        return ["--configs", f"exact:{precision}"]
    if "--precision" in help_text:
        return ["--precision", precision]
    return [] if precision == "fp32" else None


def part_bench(a: argparse.Namespace) -> dict[str, Any]:
    """benchmarks/bench_generate.py as a subprocess: LR (36x64) and LR + SR (144x256) streaming fps."""
    precision = a.part.split("_")[1]
    flags = _bench_flags(precision)
    if flags is None:
        return {"skipped": f"bench_generate.py has no way to select {precision} (no --configs / --precision)"}
    json_path = Path(a.out) / f"bench_generate_{precision}.json"
    each = max(3.0, (a.seconds - 30) / 2)  # two worker subprocesses, each ~15 s of start-up and warm-up
    cmd = [sys.executable, str(REPO / "benchmarks/bench_generate.py"), "--device", a.device,
           "--max-seconds", f"{each:.0f}", "--json", str(json_path)]
    cmd += ["--preset", "tiny", "--lr-lengths", "512", "--sr-lengths", "32", "--threads", "1"] if a.dry else \
        ["--preset", "paper", "--lr-lengths", "9000", "--sr-lengths", "1800"]
    cmd += flags
    proc = run_group(cmd, a.seconds)
    if proc.returncode:
        raise RuntimeError(f"bench_generate.py exit {proc.returncode}: {proc.stderr[-1500:]}")
    rows = json.loads(json_path.read_text())
    return {"command": " ".join(cmd[1:]), "table": proc.stdout.strip(),
            "rows": [{k: r.get(k) for k in ("preset", "frames_done", "partial", "fps", "cuda_peak_mb", "peak_rss_mb")}
                     | {"stage": r.get("stage", r.get("mode")), "precision": r.get("precision", precision)}
                     for r in rows]}


def part_tests(a: argparse.Namespace) -> dict[str, Any]:
    """pytest on the test files that mention ``cuda``, selecting the ``cuda`` marker (on the CPU they skip,
    with the reason); in the dry run, collect them only, so this runner path is exercised."""
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py") if "cuda" in p.read_text())
    if not files and not a.dry:
        return {"skipped": "no test file mentions cuda; the parity part is the CUDA correctness check"}
    args = ["-x", "-q", "-rs"] + (["--collect-only"] if a.dry else []) + files
    cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-m", "cuda", *args]
    proc = run_group(cmd, a.seconds)
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    return {"files": files, "command": " ".join(cmd[3:]), "returncode": proc.returncode, "summary": tail[0],
            "ok": proc.returncode == 0, "collect_only": a.dry}


WORKERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "env": part_env, "parity": part_parity, "gen_lr64": part_gen_lr64, "tests": part_tests,
    **{p: part_train for p in PARTS if p.startswith("train_")}, **{p: part_bench for p in PARTS if p.startswith("bench_")},
}


# ============================================================================================ orchestrator
def write_atomic(path: Path, text: str) -> None:
    """Write-then-rename: a reader (or a kill) never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_part(name: str, a: argparse.Namespace, timeout: float) -> dict[str, Any]:
    """One part in a subprocess: its JSON line, or why there is none (error, timeout)."""
    cmd = [sys.executable, __file__, "--part", name, "--device", a.device, "--out", str(a.out),
           "--seconds", f"{0.8 * timeout:.1f}"] + (["--cpu-dry-run"] if a.dry else [])
    t = time.perf_counter()
    try:
        proc = run_group(cmd, timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr if isinstance(e.stderr, str) else ""
        return {"status": "timeout", "seconds": round(time.perf_counter() - t, 1), "timeout_s": round(timeout),
                "error": err[-1500:]}
    res: dict[str, Any] = {"seconds": round(time.perf_counter() - t, 1), "timeout_s": round(timeout)}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return res | {"status": "error", "error": proc.stderr.strip()[-1500:]}
    data = json.loads(lines[-1])
    status = "skipped" if "skipped" in data else "ok" if data.get("ok", True) else "failed"
    return res | {"status": status, "result": data}


def _f(v: Any, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def markdown(doc: dict[str, Any]) -> str:
    """The report: environment, training, generation, correctness, and what each part did."""
    parts = doc["parts"]
    res = {k: p.get("result", {}) for k, p in parts.items()}
    env = res.get("env", {})
    lines = [f"## GPU check ({'CPU dry run, tiny sizes' if doc['dry_run'] else 'paper presets'})", "",
             f"torch {env.get('torch', '?')} (CUDA build {env.get('cuda_build')}), device {doc['device']}"
             + (f": {env.get('gpu')}, capability {env.get('capability')}, {env.get('gpu_memory_gb')} GB"
                if env.get("gpu") else "") + f"; python {env.get('executable', '?')}", ""]
    lines += ["| training step | precision | size | batch/GPU (micro x accum) | s/step (median) | R1 step s "
              "| s/step incl. R1/16 | peak MB (CUDA, else RSS) | paper steps on 8 GPUs (h) |", "|---|---|---|---|---|---|---|---|---|"]
    for k in (p for p in PARTS if p.startswith("train_")):
        r, st = res.get(k, {}), parts.get(k, {}).get("status", "not run")
        if not r:
            lines.append(f"| {k} | | | | {st} | | | | |")
            continue
        b = f"{r['batch_per_gpu']} ({r['micro_batch']} x {r['grad_accum']})" + (" halved for OOM" if r["oom_halvings"] else "")
        lines.append(f"| {r['stage']} {r['preset']} | {r['precision']} | {r['size']} | {b} | {_f(r['s_per_step'])} "
                     f"| {_f(r['r1_step_s'])} | {_f(r['s_per_step_amortised'])} | {_f(r['peak_mb'] or r['peak_rss_mb'], 6)} "
                     f"| {_f(r['projected_paper_hours_8gpu'])} |")
    lines += ["", "| generation | precision | frames measured | frames/s | peak MB (CUDA, else RSS) |", "|---|---|---|---|---|"]
    for r in res.get("gen_lr64", {}).get("rows", []):
        lines.append(f"| LR {r['size']} | {r['precision']} | {r['frames']} | {r['fps']} | {_f(r['peak_mb'], 6)} |")
    for k in ("bench_fp32", "bench_bf16"):
        for r in res.get(k, {}).get("rows", []):
            sizes = {"paper": ("36x64", "144x256"), "tiny": ("16x16", "32x32"), "paper64": ("64x64", "-")}
            size = sizes.get(r["preset"], ("?", "?"))[r["stage"] == "sr"]
            what = f"{'LR+SR' if r['stage'] == 'sr' else 'LR'} {size} (bench_generate {r['preset']})"
            lines.append(f"| {what} | {r['precision']} | {r['frames_done']}{' (stopped)' if r['partial'] else ''} "
                         f"| {r['fps']} | {_f(r['cuda_peak_mb'] or r['peak_rss_mb'], 6)} |")
    if par := res.get("parity"):
        lines += ["", f"parity CPU vs {doc['device']} (fp32, TF32 off, tolerance {par['tolerance']}): "
                  f"LR {par['lr']['rel_diff']:.2e}, SR {par['sr']['rel_diff']:.2e} (bf16 vs fp32: LR "
                  f"{par['lr']['bf16_rel_diff']:.2e}, SR {par['sr']['bf16_rel_diff']:.2e}); tiny train step losses "
                  f"LR {par['tiny_train_step']['lr']}, SR {par['tiny_train_step']['sr']}: "
                  f"{'OK' if par['ok'] else 'FAILED'}"]
    lines += ["", "| part | status | seconds (cap) | note |", "|---|---|---|---|"]
    for k, p in parts.items():
        note = p.get("error", "").strip().splitlines()[-1:] or [p.get("result", {}).get("skipped")
                                                                or p.get("result", {}).get("summary", "")]
        lines.append(f"| {k} | {p['status']} | {p.get('seconds', '-')} ({p.get('timeout_s', '-')}) "
                     f"| {str(note[0] or '')[:160].replace('|', '/')} |")
    lines += ["", f"total {doc['seconds']} s of a {doc['budget_s']} s budget; complete: {doc['complete']}"]
    return "\n".join(lines) + "\n"


def orchestrate(a: argparse.Namespace) -> int:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    doc: dict[str, Any] = {"device": a.device, "dry_run": a.dry, "budget_s": a.budget_s, "started": time.strftime(
        "%Y-%m-%dT%H:%M:%S%z"), "complete": False, "seconds": 0.0, "parts": {}}
    only = set(a.only.split(",")) if a.only else set(PARTS)

    def save() -> None:
        doc["seconds"] = round(time.perf_counter() - t0, 1)
        write_atomic(out / "gpu_check.json", json.dumps(doc, indent=2) + "\n")
        try:
            md = markdown(doc)
        except Exception as e:  # a report bug must not lose the JSON or stop the remaining parts
            md = f"markdown report failed ({e!r}); see gpu_check.json\n"
        write_atomic(out / "gpu_check.md", md)

    for name, caps in PARTS.items():
        if name not in only:
            continue
        left = a.budget_s - (time.perf_counter() - t0) - 5  # 5 s for the final write
        timeout = min(caps[1] if a.dry else caps[0], left)
        if timeout < (5 if a.dry else 15):
            doc["parts"][name] = {"status": "skipped", "error": f"out of time ({left:.0f} s of the budget left)"}
        else:
            print(f"[gpu_check] {name} (cap {timeout:.0f} s) ...", file=sys.stderr, flush=True)
            doc["parts"][name] = run_part(name, a, timeout)
            print(f"[gpu_check] {name}: {doc['parts'][name]['status']} in {doc['parts'][name]['seconds']} s",
                  file=sys.stderr, flush=True)
        save()
    doc["complete"] = True
    save()
    print((out / "gpu_check.md").read_text())
    bad = [k for k, p in doc["parts"].items() if p["status"] in ("error", "timeout", "failed")]
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu-dry-run", dest="dry", action="store_true", help="tiny sizes on the CPU (< 2 minutes)")
    p.add_argument("--device", default=None, help="default: cuda, or cpu with --cpu-dry-run")
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out", help="results folder ($OUT)")
    p.add_argument("--budget-s", type=float, default=None, help="whole run (default 450 s, dry run 110 s)")
    p.add_argument("--only", default="", help=f"comma-separated parts of: {','.join(PARTS)}")
    p.add_argument("--part", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.device = a.device or ("cpu" if a.dry else "cuda")
    a.out = str(Path(a.out).resolve())  # workers and bench_generate run in the repo root
    a.budget_s = a.budget_s or (110.0 if a.dry else 450.0)
    if a.part:  # worker: one JSON line on stdout
        if a.dry:
            import torch

            torch.set_num_threads(min(2, torch.get_num_threads()))
        print(json.dumps(WORKERS[a.part](a), default=str))
        return 0
    if re.search(r"[^\w,]", a.only):
        p.error("--only takes part names separated by commas")
    return orchestrate(a)


if __name__ == "__main__":
    raise SystemExit(main())
