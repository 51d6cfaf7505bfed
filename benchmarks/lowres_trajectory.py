"""How much does the LR model's FVD move from one checkpoint to the next? (issue #12)

    python benchmarks/lowres_trajectory.py --out /tmp/traj --seed 0 --steps 320 --every 20 \
        [--set '{"lr_g": 0.0015, "lr_d": 0.001}']

After a default run (it needs the dataset and the world detector). Trains the LR model with params.yaml's
``train_lowres`` section (plus ``--set`` overrides) for exactly ``--steps`` steps (no CPU budget, so the
trajectory does not depend on the machine), keeping a checkpoint every ``--every`` steps. Then, for the
untrained initialisation and for G and G_ema of every checkpoint, it generates ``--videos`` videos of
``--frames`` frames and prints the world-detector FVD16 of ``--clips`` windows, resized to 64x64 as the
evaluation resizes LR clips (:func:`lvg.evaluate.resize_clip`: the LR stage as Table 1 sees it, without
super-resolution), against as many real 64x64 windows, and the mean frame-to-frame change (at the LR size). Writes ``<out>/trajectory.json``.

The default run stops wherever its CPU budget ends (~200 steps); this shows how far the FVD at that step
is from its neighbours'.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from lvg.config import load_config, validate_section
from lvg.data.reader import VideoDataset
from lvg.evaluate import resize_clip
from lvg.generate import generate_lowres
from lvg.metrics.color_similarity import FrameChange
from lvg.metrics.fvd import detector_stats, frechet_distance, plan_longvideogan, sample_real_clips
from lvg.metrics.world import load_world_detector
from lvg.train.checkpoint import list_checkpoints
from lvg.train.lowres import LowResTrainConfig, build_networks, run_train_lowres

SIZE = 64


def score(G: torch.nn.Module, args: argparse.Namespace, reference, detector) -> tuple[float, float]:
    """(FVD16 at SIZE x SIZE, mean frame change at the LR size) of ``args.videos`` videos of ``G``."""
    change = FrameChange()
    with torch.no_grad():
        videos = list(change.watch(generate_lowres(G, seed, 0, args.frames).clamp(-1, 1)
                                   for seed in range(args.videos)))
    windows = plan_longvideogan([v.shape[1] for v in videos], args.clips, 16, 0)
    clips = (resize_clip(((videos[v][:, s:s + 16] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8), (SIZE, SIZE))
             for v, s in windows)
    stats = detector_stats(clips, detector)
    return frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma), change.value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--dataset-dir", default="data/processed/synthetic")
    p.add_argument("--detector", default="results/models/world/synthetic/detector.safetensors")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=320)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--set", default="{}", help="JSON train_lowres overrides")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--clips", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    section = validate_section("train_lowres", copy.deepcopy(load_config()["train_lowres"]) | {
        "seed": args.seed, "steps": args.steps, "budget_s": None, "checkpoint_every": args.every,
        "keep_checkpoints": 0} | json.loads(args.set))
    run_train_lowres(section, args.dataset_dir, out / "run")
    detector = load_world_detector(args.detector)
    reference = detector_stats(sample_real_clips(VideoDataset(args.dataset_dir, SIZE, SIZE, 16), args.clips, 16, 0),
                               detector)
    G, _ = build_networks(LowResTrainConfig.from_dict(section))
    rows = [{"step": 0, "untrained": score(G.eval(), args, reference, detector)}]
    print(f"step 0: untrained FVD16 {rows[0]['untrained'][0]:.1f}, change {rows[0]['untrained'][1]:.4f}", flush=True)
    for ckpt in list_checkpoints(out / "run" / "checkpoints"):
        row = {"step": int(ckpt.name.split("-")[1])}
        for name in ("G", "G_ema"):
            G.load_state_dict(load_file(str(ckpt / f"{name}.safetensors")))
            row[name] = score(G.eval(), args, reference, detector)
        rows.append(row)
        print(f"step {row['step']}: G FVD16 {row['G'][0]:.1f} (change {row['G'][1]:.4f}), "
              f"G_ema {row['G_ema'][0]:.1f} (change {row['G_ema'][1]:.4f})", flush=True)
    (out / "trajectory.json").write_text(json.dumps({"section": section, "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
