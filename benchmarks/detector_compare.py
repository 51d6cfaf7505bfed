"""The default run's methods under `i3d-random` beside Table 1's `world` numbers, and i3d-random's own sanity
ranking (issue #11: report how the random-weight I3D ranks the same five, and each method under both).

    python benchmarks/detector_compare.py --out /tmp/i3d [--clips16 128] [--clips128 32]

After a default run. Scores every sample set of ``results/samples/<ds>/`` with ``metrics.detector:
i3d-random`` (frames resized to 224², ~4 CPU-minutes per set at the default counts, one seed), into
``<out>`` (Table 1's records are untouched), then the sanity ranking at 16 frames (``lvg.evaluate.run_sanity``:
real resample, shuffled, frozen, blurred, blobs; 128-frame clips through the 224² network cost ~4x more).
Prints one row per method: world FVD16 / FVD128 (Table 1's records: their mean over seeds) and i3d-random's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lvg.evaluate as ev
from lvg.config import load_config

METHODS = ("ours", "ours_untrained", "styleganv", "digan", "mocoganhd", "tats")


def mean_fvd(metrics_dir: Path, dataset: str, method: str, clip_len: int) -> float | None:
    path = metrics_dir / dataset / method / f"fvd{clip_len}.json"
    return json.loads(path.read_text()).get("mean") if path.is_file() else None


def cell(a: float | None, b: float | None) -> str:
    return " / ".join("n/a" if v is None else f"{v:.1f}" for v in (a, b))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="scratch metrics folder for the i3d-random records")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--resolution", default="64x64")
    p.add_argument("--clips16", type=int, default=128)
    p.add_argument("--clips128", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    cfg = load_config()
    metrics = cfg["metrics"] | {"detector": "i3d-random", "fvd16_clips": a.clips16, "fvd128_clips": a.clips128,
                                "seeds": [0], "threads": a.threads}
    out, dataset_dir = Path(a.out), Path(f"data/processed/{a.dataset}")
    frames = cfg["samples"]["num_frames"]
    ev.run_real(a.dataset, dataset_dir, a.resolution, out, metrics, frames)
    methods = [m for m in METHODS if (Path(f"results/samples/{a.dataset}") / m / "index.json").is_file()]
    for m in methods:
        ev.run_method(a.dataset, m, dataset_dir, a.resolution, Path(f"results/samples/{a.dataset}/{m}"), out,
                      metrics, frames)
    ev.FVD_LENGTHS = (16,)  # the sanity ranking at 16 frames only (see the module doc)
    sanity = ev.run_sanity(a.dataset, dataset_dir, a.resolution, out, metrics, cfg["world_detector"]["holdout"],
                           out=out / "sanity16.json")
    table = Path("results/metrics")
    print("| method | world FVD16 / FVD128 (Table 1) | i3d-random FVD16 / FVD128 |\n|---|---|---|")
    for m in methods:
        print(f"| {m} | {cell(mean_fvd(table, a.dataset, m, 16), mean_fvd(table, a.dataset, m, 128))} | "
              f"{cell(mean_fvd(out, a.dataset, m, 16), mean_fvd(out, a.dataset, m, 128))} |")
    print("\n".join(sanity["summary"]))


if __name__ == "__main__":
    main()
