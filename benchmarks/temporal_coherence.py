"""Why does the default LR model flicker, and which setting fixes it? (issue #12)

    python benchmarks/temporal_coherence.py data/processed/synthetic --out /tmp/coherence \
        --setting 'default={}' --setting 'fp64={"footprint": [64, 1024]}' ...

Each setting is a name and a JSON object of ``train_lowres`` overrides on top of params.yaml's (the default
run's). For each setting the benchmark trains the LR model through the real training entry point (budget or
steps as configured), generates ``--videos`` videos of ``--frames`` frames from G_ema (and from the same
initialisation, untrained), and prints, beside the real clips':

* S(t): colour similarity of frame t with frame 0 (Fig. 5's curve), t = 1, 16, 64, 128;
* change: mean absolute pixel change from one frame to the next (values in [-1, 1]);
* FVD16 / FVD128 with the ``world`` detector (``--detector``) against real windows of the dataset;
* the training steps done and the CPU-seconds they took.

Writes ``<out>/coherence.json`` (every number) and ``<out>/strips.png`` (frames 0, 16, 64, 128 of the first
video of every setting, real at the top).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lvg.config import load_config, parse_resolution, validate_section
from lvg.data.reader import VideoDataset
from lvg.generate import generate_lowres
from lvg.metrics.color_similarity import FrameChange, similarity_curve
from lvg.metrics.fvd import detector_stats, frechet_distance, plan_longvideogan, sample_real_clips
from lvg.metrics.world import load_world_detector
from lvg.models import load_generator
from lvg.train.lowres import LowResTrainConfig, build_networks, run_train_lowres

TIMES = (1, 16, 64, 128)
STRIP = (0, 16, 64, 128)


def curve_and_change(videos: list[torch.Tensor]) -> tuple[list[float], float]:
    """S(t) at :data:`TIMES` (mean over 129-frame windows at the start of every video) and the mean change."""
    change = FrameChange()
    clips = [v[:, :129] for v in videos]
    mean, _, _ = similarity_curve(change.watch(clips))
    return [float(mean[t]) for t in TIMES], float(change.value)


def fvd(videos: list[torch.Tensor], clip_len: int, n: int, reference, detector) -> float:
    """FVD of ``n`` windows of ``clip_len`` frames of the videos (uniform over videos, random starts)."""
    windows = plan_longvideogan([v.shape[1] for v in videos], n, clip_len, 0)
    clips = (((videos[v][:, s:s + clip_len] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8) for v, s in windows)
    stats = detector_stats(clips, detector)
    return frechet_distance(stats.mu, stats.sigma, reference[clip_len].mu, reference[clip_len].sigma)


def generate(G: torch.nn.Module, num: int, frames: int) -> list[torch.Tensor]:
    with torch.no_grad():
        return [generate_lowres(G, seed, 0, frames).clamp(-1, 1) for seed in range(num)]


def strip(video: torch.Tensor, height: int = 64) -> np.ndarray:
    """Frames :data:`STRIP` side by side, resized (nearest) to ``height`` rows."""
    frames = torch.nn.functional.interpolate(video[:, list(STRIP)].transpose(0, 1), size=(height, height))
    return np.concatenate([((f.permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).byte().numpy() for f in frames],
                          axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset_dir")
    p.add_argument("--out", required=True)
    p.add_argument("--setting", action="append", required=True, help="NAME=JSON train_lowres overrides")
    p.add_argument("--detector", default="results/models/world/synthetic/detector.safetensors")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--fvd16-clips", type=int, default=128)
    p.add_argument("--fvd128-clips", type=int, default=32)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = load_config()["train_lowres"]
    detector = load_world_detector(args.detector)
    h, w = parse_resolution(base["resolution"])
    counts = {16: args.fvd16_clips, 128: args.fvd128_clips}
    reference, rows, strips = {}, {}, []
    for clip_len, n in counts.items():
        reference[clip_len] = detector_stats(sample_real_clips(VideoDataset(args.dataset_dir, h, w, clip_len), n,
                                                               clip_len, 0), detector)
    real = VideoDataset(args.dataset_dir, h, w, 129)
    windows = plan_longvideogan([real.num_frames(i) for i in range(len(real))], args.videos, 129, 1)
    real_clips = [real.read_window(c, s) for c, s in windows]
    s_real, ch_real = curve_and_change(real_clips)
    rows["real"] = {"S": s_real, "change": ch_real}
    strips.append(strip(real_clips[0]))
    for spec in args.setting:
        name, _, overrides = spec.partition("=")
        section = validate_section("train_lowres", copy.deepcopy(base) | json.loads(overrides or "{}"))
        run_dir = out / name
        export = run_train_lowres(section, args.dataset_dir, run_dir)
        trained = load_generator(export, "lowres")
        untrained, _ = build_networks(LowResTrainConfig.from_dict(section))
        stats = json.loads((run_dir / "train_stats.json").read_text()) if (run_dir / "train_stats.json").is_file() \
            else {}
        for label, G in ((name, trained), (f"{name} untrained", untrained.eval())):
            videos = generate(G, args.videos, args.frames)
            s, ch = curve_and_change(videos)
            rows[label] = {"S": s, "change": ch, "fvd16": fvd(videos, 16, counts[16], reference, detector),
                           "fvd128": fvd(videos, 128, counts[128], reference, detector),
                           "overrides": json.loads(overrides or "{}")}
            if label == name:
                rows[label] |= {"steps": stats.get("steps"), "cpu_s": stats.get("train_s")}
                strips.append(strip(videos[0]))
        print_rows(rows)
    (out / "coherence.json").write_text(json.dumps(rows, indent=1))
    Image.fromarray(np.concatenate(strips, axis=0)).save(out / "strips.png")
    print(f"wrote {out / 'coherence.json'} and {out / 'strips.png'} (rows: real, then "
          f"{', '.join(s.partition('=')[0] for s in args.setting)}; columns: frames {STRIP})")


def print_rows(rows: dict) -> None:
    real = rows["real"]
    print(f"{'setting':28s} " + " ".join(f"S({t}):>7" for t in TIMES).replace(":>7", "") +
          "  max|dS|  change  /real  FVD16  FVD128  steps  cpu_s")
    for name, r in rows.items():
        gap = max(abs(a - b) for a, b in zip(r["S"], real["S"], strict=True))
        f16, f128 = r.get("fvd16"), r.get("fvd128")
        print(f"{name:28s} " + " ".join(f"{v:6.3f}" for v in r["S"]) +
              f"  {gap:6.3f}  {r['change']:.4f}  {r['change'] / real['change']:4.2f}"
              f"  {'' if f16 is None else f'{f16:6.1f}'}  {'' if f128 is None else f'{f128:6.1f}'}"
              f"  {r.get('steps') or ''}  {r.get('cpu_s') or ''}", flush=True)


if __name__ == "__main__":
    main()
