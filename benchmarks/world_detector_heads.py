"""Which design makes the `world` detector's heads beat chance? (issue #11)

    python benchmarks/world_detector_heads.py --out /tmp/heads --jobs 2

After a default run: it reads the processed dataset (``data/processed/synthetic``) and the rendered corpus
(``results/models/world/synthetic/corpus``). Trains the detector once per variant, each a set of
``world_detector`` overrides on params.yaml's section (~2.5 CPU-minutes each, ``--jobs`` at a time, one thread
each), and prints every head's held-out score beside its chance level: on the dataset's held-out clips
(~8 shots) and on the corpus's held-out renders (~50 shots; variants without the corpus are scored on them
too, so the columns compare). Variants, cumulative:

* ``before``: the dataset's clips only, no colour statistics (the design of stop 25);
* ``+corpus``: plus the 256 rendered shots;
* ``+colour``: plus the input's colour statistics in the features;
* ``+head``: plus those statistics in the regression head, refitted by ridge regression;
* ``+motion``: plus the ground's horizontal motion per row band (block matching);
* ``+view``: plus those statistics in the objects-in-view head, refitted as class-balanced least-squares
  classifiers;
* ``+negatives``: plus the "real" head, trained against made-up flat, block-scrambled and recoloured
  windows (its row: the balanced accuracy of telling held-out windows from their negatives);
* ``+objects`` (the default): the objects in view from the per-frame object network, trained on the
  rendered object rides (``<corpus>/objects``), instead of the linear head.

``--variants +head +view`` trains only those.

Writes ``<out>/heads.json`` and ``<out>/heads.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from lvg.config import load_config, parse_resolution
from lvg.data.reader import VideoDataset
from lvg.data.world import WorldLabels
from lvg.data.world_corpus import WORLD_CSV
from lvg.metrics.world import load_world_detector
from lvg.train.world import WorldWindows, evaluate_heads, regression_means, run_train_world

VARIANTS = {
    "before": {"colour_cells": 0, "colour_heads": False, "motion_bands": 0, "view_heads": False, "_corpus": False},
    "+corpus": {"colour_cells": 0, "colour_heads": False, "motion_bands": 0, "view_heads": False},
    "+colour": {"colour_heads": False, "motion_bands": 0, "view_heads": False},
    "+head": {"motion_bands": 0, "view_heads": False},
    "+motion": {"view_heads": False},
    "+view": {"negatives": False, "object_net": {"steps": 0}},
    "+negatives": {"object_net": {"steps": 0}},
    "+objects": {},
}


def train(name: str, section: dict, dataset: str, corpus: str, out: str) -> str:
    import torch

    torch.set_num_threads(1)
    use_corpus = section.pop("_corpus", True)
    objects = Path(corpus) / "objects" if section.get("object_net", {}).get("steps") else None
    path = run_train_world(section, Path(dataset), Path(dataset) / "world.csv", Path(out) / name, resume=False,
                           corpus_dir=Path(corpus) if use_corpus else None, objects_dir=objects)
    return str(path)


def renders_score(path: str, corpus: Path, section: dict) -> dict:
    """Held-out renders score of a detector trained without the corpus (the same windows as the others')."""
    det = load_world_detector(path)
    h, w = parse_resolution(section["resolution"])
    labels = WorldLabels.read(corpus / WORLD_CSV, in_view_min=section["in_view_pixels"] / (h * w))
    base = VideoDataset(corpus, h, w, section["seq_length"])
    held = WorldWindows(base, labels, heldout=True, fraction=section["holdout"])
    train = WorldWindows(VideoDataset(corpus, h, w, section["seq_length"]), labels, heldout=False,
                         fraction=section["holdout"])
    return evaluate_heads(det.net, held, section["eval_windows"], section["seed"], regression_means([train]))


def cell(r: dict | None) -> str:
    if not r or not math.isfinite(r["value"]):
        return "n/a"
    return f"{r['value']:.2f} ({r['chance']:.2f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--dataset-dir", default="data/processed/synthetic")
    p.add_argument("--corpus", default="results/models/world/synthetic/corpus")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="override world_detector.steps")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = p.parse_args()
    out, corpus = Path(args.out), Path(args.corpus)
    out.mkdir(parents=True, exist_ok=True)
    base = copy.deepcopy(load_config()["world_detector"]) | {"checkpoint_every": 0}
    if args.steps:
        base["steps"] = args.steps
    sections = {name: copy.deepcopy(base) | VARIANTS[name] for name in args.variants}
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {name: pool.submit(train, name, copy.deepcopy(s), args.dataset_dir, str(corpus), str(out))
                   for name, s in sections.items()}
        paths = {name: f.result() for name, f in futures.items()}
    results = {}
    for name, path in paths.items():
        meta = json.loads(Path(path).with_suffix(".json").read_text())
        renders = meta.get("heldout_renders") or renders_score(path, corpus, sections[name])
        results[name] = {"heldout": meta["heldout"], "heldout_renders": renders}
    heads = sorted({h for r in results.values() for h in r["heldout"]})
    lines = ["| head | " + " | ".join(f"{n}: clips / renders" for n in results) + " |",
             "|---|" + "---|" * len(results)]
    for head in heads:
        lines.append(f"| {head} | " + " | ".join(
            f"{cell(r['heldout'].get(head))} / {cell(r['heldout_renders'].get(head))}" for r in results.values())
            + " |")
    lift = {n: float(np.nanmean([r["heldout"][h]["lift"] for h in heads
                                 if h != "real" and math.isfinite(r["heldout"][h]["value"])]))
            for n, r in results.items()}
    lines.append("| mean lift over the world's heads (clips) | " + " | ".join(f"{lift[n]:+.2f}" for n in results) + " |")
    table = "\n".join(lines)
    print("held-out score (chance) per head: dataset's held-out clips / held-out renders")
    print(table)
    (out / "heads.md").write_text(table + "\n")
    (out / "heads.json").write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
