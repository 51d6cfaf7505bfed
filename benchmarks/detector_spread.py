"""Does the `world` FVD rank generated sets the same way whatever detector was trained? (issue #11)

    python benchmarks/detector_spread.py --out /tmp/spread \
        --train 'w16s0={"channels": [16, 32, 64, 96], "seed": 0}' --train 'w8s1={"seed": 1}' \
        --detector default=results/models/world/synthetic/detector.safetensors

After a default run. Each ``--train NAME=JSON`` trains one more detector with those ``world_detector``
overrides on params.yaml's section (the same clips and labels as the DAG's; ~3 CPU-minutes each); each
``--detector NAME=PATH`` adds an existing detector file. Then every sample set under ``--samples`` (the
default run's, one folder per method) is scored by every detector: FVD16 of ``--clips`` windows
(:func:`lvg.evaluate.fake_clips`, at the detector's resolution) against as many real windows (seed 0).
Prints one row per detector (and, for a detector with a "real" head, the fraction of 64 windows of each set
that it calls real) and the Spearman rank correlation of every pair of detectors over the methods:
near 1 means the detectors agree on the order of the methods; near 0 that the order is the detector's, not
the data's.
Writes ``<out>/spread.json``.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
from pathlib import Path

import torch
from scipy.stats import spearmanr

from lvg.config import load_config, parse_resolution
from lvg.data.reader import VideoDataset
from lvg.evaluate import fake_clips
from lvg.metrics.fvd import detector_stats, frechet_distance, sample_real_clips
from lvg.metrics.world import load_world_detector
from lvg.sample_sets import SampleSet
from lvg.train.world import run_train_world

REAL_HEAD_CLIPS = 64  # clips per set whose "real" head verdict is printed (detectors trained with negatives)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--dataset-dir", default="data/processed/synthetic")
    p.add_argument("--samples", default="results/samples/synthetic")
    p.add_argument("--train", action="append", default=[], help="NAME=JSON world_detector overrides")
    p.add_argument("--detector", action="append", default=[], help="NAME=PATH of an existing detector")
    p.add_argument("--clips", type=int, default=256)
    p.add_argument("--corpus", default="results/models/world/synthetic/corpus",
                   help="the rendered corpus the --train detectors also learn from (skipped if absent)")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = Path(args.dataset_dir)
    detectors = dict(spec.split("=", 1) for spec in args.detector)
    base = load_config()["world_detector"]
    for spec in args.train:
        name, _, overrides = spec.partition("=")
        section = copy.deepcopy(base) | {"checkpoint_every": 0} | json.loads(overrides or "{}")
        corpus = Path(args.corpus) if (Path(args.corpus) / "world.csv").is_file() else None
        objects = corpus / "objects" if corpus and (corpus / "objects" / "world.csv").is_file() else None
        if objects is None:  # no object rides: the linear in-view head (it does not change the features)
            section["object_net"] = {"steps": 0}
        detectors[name] = str(run_train_world(section, dataset, dataset / "world.csv", out / name, corpus_dir=corpus,
                                              objects_dir=objects))
    if not detectors:
        p.error("give at least one --detector or --train")
    sets = {d.name: SampleSet.open(d) for d in sorted(Path(args.samples).iterdir()) if (d / "index.json").is_file()}
    methods = list(sets)
    size = parse_resolution(base["resolution"])  # sets at another size are resized, as in evaluation
    real = VideoDataset(dataset, *size, 16)
    table: dict[str, dict[str, float]] = {}
    called: dict[str, dict[str, float]] = {}
    for name, path in detectors.items():
        detector = load_world_detector(path)
        reference = detector_stats(sample_real_clips(real, args.clips, 16, 0), detector)
        table[name] = {}
        for m, samples in sets.items():
            stats = detector_stats(fake_clips(samples, args.clips, 16, 0, size), detector)
            table[name][m] = frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma)
        print(f"{name:12s} " + "  ".join(f"{m} {table[name][m]:6.1f}" for m in methods), flush=True)
        if "real" in detector.net.heads:  # how often its "real" head calls each set's windows real
            called[name] = {m: float((detector.realness(torch.stack(list(clips))) > 0.5).mean()) for m, clips in
                            [("real", sample_real_clips(real, REAL_HEAD_CLIPS, 16, 0))]
                            + [(m, fake_clips(s, REAL_HEAD_CLIPS, 16, 0, size)) for m, s in sets.items()]}
            print(f"{'':12s} called real: " + "  ".join(f"{m} {v:.2f}" for m, v in called[name].items()), flush=True)
    pairs = {f"{a} vs {b}": float(spearmanr([table[a][m] for m in methods], [table[b][m] for m in methods])[0])
             for a, b in itertools.combinations(table, 2)}
    for pair, rho in pairs.items():
        print(f"Spearman {pair}: {rho:+.2f}")
    (out / "spread.json").write_text(json.dumps({"detectors": detectors, "fvd16": table, "spearman": pairs,
                                                 "called_real": called}, indent=1))


if __name__ == "__main__":
    main()
