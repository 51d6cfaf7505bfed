"""Colour-similarity signature of every method against the real videos (paper Fig. 5, spec evaluation.md §4-5).

    python benchmarks/color_signature.py [results/metrics] [--dataset synthetic]

For each method: S(t) at a few separations, and the mean over t >= 1 of S_method(t) - S_real(t). A positive
gap means colours change MORE SLOWLY than in real videos (the paper's finding for StyleGAN-V and DIGAN), a
negative one FASTER (MoCoGAN-HD and TATS); |gap| < 0.02 is reported as "like real".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lvg.report.records import load_records

TOLERANCE = 0.02


def _at(s: np.ndarray, t: int) -> str:
    return f"{s[t]:7.3f}" if t < len(s) else "      -"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("metrics", nargs="?", default="results/metrics")
    p.add_argument("--dataset", default=None)
    args = p.parse_args()
    df = load_records(Path(args.metrics))
    df = df[df["metric"] == "color_similarity"]
    for dataset in sorted(set(df["dataset"])) if args.dataset is None else [args.dataset]:
        rows = {r.method: r.record for r in df[df["dataset"] == dataset].itertuples()}
        if "real" not in rows:
            print(f"{dataset}: no real curve")
            continue
        real = np.asarray(rows["real"]["mean"])
        print(f"\n{dataset} (real: {rows['real']['num_clips']} clips of {len(real)} frames)")
        print(f"{'method':16s} {'S(16)':>7s} {'S(64)':>7s} {'S(last)':>8s} {'gap vs real':>12s}  verdict")
        for method, rec in rows.items():
            s = np.asarray(rec["mean"])
            n = min(len(s), len(real))
            gap = float((s[1:n] - real[1:n]).mean()) if n > 1 else float("nan")
            verdict = ("" if method == "real" else "like real" if abs(gap) < TOLERANCE
                       else "changes too slowly" if gap > 0 else "changes too fast")
            print(f"{method:16s} {_at(s, 16)} {_at(s, 64)} {s[-1]:8.3f} {gap:+12.3f}  {verdict}")


if __name__ == "__main__":
    main()
