"""Frame strips of every method's first long sample video beside a real clip, at widely spaced times.

    python benchmarks/method_strips.py [--dataset synthetic] [--resolution 64x64] [--out strips.png]

Reads the default run's sample sets (``results/samples/<ds>/<method>/``) and the longest real clip of the
processed dataset at Table 1's size; rows are methods, columns frame indices (the real row stops at its
clip's length). Used in issue notes to say whether a metric's ranking matches what one sees.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from lvg.config import parse_resolution
from lvg.data.reader import VideoDataset
from lvg.report.figures import read_frames_at

METHODS = ("ours", "ours_untrained", "styleganv", "digan", "mocoganhd", "tats")
TIMES = (0, 16, 64, 128, 256, 512, 1023)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--resolution", default="64x64")
    p.add_argument("--out", default="strips.png")
    a = p.parse_args()
    h, w = parse_resolution(a.resolution)
    real = VideoDataset(f"data/processed/{a.dataset}", h, w, seq_length=1)
    longest = max(range(len(real.clip_ids)), key=real.num_frames)
    n = real.num_frames(longest)
    clip = real.read_frames(longest, 0, n)  # uint8 [T, H, W, 3]
    blank = np.full((h, w, 3), 255, np.uint8)
    rows = [[clip[t] if t < n else blank for t in TIMES]]
    labels = [f"real ({real.clip_ids[longest]}, {n} frames)"]
    for method in METHODS:
        folder = Path(f"results/samples/{a.dataset}/{method}")
        video = json.loads((folder / "index.json").read_text())["videos"][0]
        frames = read_frames_at(folder / video["file"], [t for t in TIMES if t < video["num_frames"]])
        rows.append([np.asarray(Image.fromarray(frames[t]).resize((w, h))) if t in frames else blank
                     for t in TIMES])
        labels.append(method)
    gap = 2
    grid = np.full((len(rows) * (h + gap), len(TIMES) * (w + gap), 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = img
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(a.out)
    print(f"wrote {a.out}: rows {', '.join(labels)}; columns frames {', '.join(map(str, TIMES))}")


if __name__ == "__main__":
    main()
