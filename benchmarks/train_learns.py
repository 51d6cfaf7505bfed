"""Does LR training learn? Train the tiny preset on a dataset, compare untrained vs trained generator.

    python benchmarks/train_learns.py data/processed/synthetic --steps 150 --out /tmp/learns

Uses params.yaml's ``train_lowres`` settings (the default run's) except for the options given. Prints
distribution distances between generated and real clips for the untrained generator (same init
seed) and the trained G_ema, and writes ``<out>/learns.png``: frames of the same seeds before (top) and after
(middle) training, real clips at the bottom. Distances (lower is better):

* colour FD: Fréchet distance between Gaussians fitted to all pixels' RGB (mean colour and its spread);
* colour hist L1: L1 between the mean 20x20x20-bin colour histograms (lvg.metrics.color_similarity's bins);
* layout L1: mean |difference| of the mean colour of each image row (sky over ground);
* motion: |difference| of the mean absolute frame-to-frame change.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from PIL import Image, ImageDraw

from lvg.config import load_config, parse_resolution, validate_config
from lvg.data.reader import VideoDataset
from lvg.models import load_generator
from lvg.train.lowres import LowResTrainConfig, build_networks, run_train_lowres


def colour_fd(fake: torch.Tensor, real: torch.Tensor) -> float:
    def fit(v: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        x = v.clamp(-1, 1).transpose(0, 1).reshape(3, -1).double().numpy()
        return x.mean(axis=1), np.cov(x)

    (mf, sf), (mr, sr) = fit(fake), fit(real)
    return float(((mf - mr) ** 2).sum() + np.trace(sf + sr - 2 * scipy.linalg.sqrtm(sf @ sr).real))


def colour_hist_l1(fake: torch.Tensor, real: torch.Tensor) -> float:
    from lvg.metrics.color_similarity import color_histogram

    def hist(v: torch.Tensor) -> torch.Tensor:
        h = color_histogram(v.clamp(-1, 1).transpose(1, 2)).sum(dim=(0, 1)).double()
        return h / h.sum()

    return float((hist(fake) - hist(real)).abs().sum())


def layout_l1(fake: torch.Tensor, real: torch.Tensor) -> float:
    return float((fake.clamp(-1, 1).mean(dim=(0, 2, 4)) - real.mean(dim=(0, 2, 4))).abs().mean())


def motion_gap(fake: torch.Tensor, real: torch.Tensor) -> float:
    def motion(v: torch.Tensor) -> float:
        return float(v.clamp(-1, 1).diff(dim=2).abs().mean())

    return abs(motion(fake) - motion(real))


METRICS = {"colour FD": colour_fd, "colour hist L1": colour_hist_l1, "layout L1": layout_l1, "motion": motion_gap}


def real_clips(dataset_dir: Path, h: int, w: int, t: int, n: int) -> torch.Tensor:
    data = VideoDataset(dataset_dir, h, w, t)
    g = torch.Generator().manual_seed(1234)
    return torch.stack([data.read_window(*data.sample(g)) for _ in range(n)])


def strip(videos: torch.Tensor, frames: list[int], scale: int) -> np.ndarray:
    """[N, 3, T, H, W] -> uint8 image: one row per clip, the given frames left to right."""
    x = ((videos.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, :, frames]  # [N, 3, F, H, W]
    n, _, f, h, w = x.shape
    img = x.permute(0, 3, 2, 4, 1).reshape(n * h, f * w, 3).numpy()
    return img.repeat(scale, 0).repeat(scale, 1)


def save_png(path: Path, blocks: list[tuple[str, np.ndarray]]) -> None:
    pad, label_h = 6, 14
    width = max(b.shape[1] for _, b in blocks)
    height = sum(b.shape[0] + label_h + pad for _, b in blocks)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    y = 0
    for label, block in blocks:
        draw.text((2, y + 1), label, fill=(0, 0, 0))
        canvas.paste(Image.fromarray(block), (0, y + label_h))
        y += block.shape[0] + label_h + pad
    canvas.save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", type=Path, help="dataset dir holding HHHHxWWWW/ folders")
    p.add_argument("--resolution", default=None, help="HxW (default: the smallest folder in the dataset)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq-length", type=int, default=16)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy 2-core box)")
    p.add_argument("--eval-clips", type=int, default=32)
    p.add_argument("--out", type=Path, default=Path("/tmp/lvg-train-learns"))
    p.add_argument("--set", nargs="*", default=[], help="extra train_lowres key=JSON-value overrides")
    args = p.parse_args()
    res = args.resolution or min((d.name for d in args.dataset.iterdir() if d.is_dir() and "x" in d.name),
                                 key=lambda s: int(s.split("x")[0]))
    h, w = parse_resolution(res)  # "0016x0016" -> (16, 16)
    cfg = load_config()  # params.yaml: the default run's train_lowres settings, overridden below
    cfg["train_lowres"] |= {"resolution": f"{h}x{w}", "seq_length": args.seq_length, "batch": args.batch,
                            "steps": args.steps, "bf16": args.bf16, "threads": args.threads}
    cfg["train_lowres"] |= {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}

    t = time.perf_counter()
    out = run_train_lowres(copy.deepcopy(cfg["train_lowres"]), args.dataset, args.out)
    minutes = (time.perf_counter() - t) / 60
    tc = LowResTrainConfig.from_dict(validate_config(copy.deepcopy(cfg))["train_lowres"])
    untrained, _ = build_networks(tc)
    trained = load_generator(out, "lowres")
    real = real_clips(args.dataset, h, w, tc.seq_length, args.eval_clips)
    seeds = list(range(args.eval_clips))
    with torch.no_grad():
        before = untrained.eval()(seeds, num_frames=tc.seq_length)
        after = trained(seeds, num_frames=tc.seq_length)
    print(f"{args.dataset} at {h}x{w}: {tc.steps} steps, batch {tc.batch}, {tc.seq_length} frames, "
          f"{minutes:.1f} min ({torch.get_num_threads()} threads)")
    print("| distance | untrained | trained | trained / untrained |\n|---|---|---|---|")
    for name, fn in METRICS.items():
        b, a = fn(before, real), fn(after, real)
        print(f"| {name} | {b:.4f} | {a:.4f} | {a / b:.2f} |")
    frames = list(range(0, tc.seq_length, max(1, tc.seq_length // 8)))
    scale = max(1, 64 // h)
    png = args.out / "learns.png"
    save_png(png, [("untrained G (seeds 0-3)", strip(before[:4], frames, scale)),
                   (f"trained G_ema after {tc.steps} steps (same seeds)", strip(after[:4], frames, scale)),
                   ("real clips", strip(real[:4], frames, scale))])
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
