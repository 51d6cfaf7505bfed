"""CPU cost of the released-model path on the reference-written fixture checkpoints.

    python benchmarks/bench_import.py [--threads 1] [--frames 300]

Measures, on the CPU, for ``shared/fixtures/reference/checkpoints/{lres,sres}_small.pkl``:

* converting each pickle (``lvg.reference.import_reference``: restricted unpickling, config inference,
  mapping, verification, writing safetensors + JSON); the first conversion in a process also pays the one-time
  import of scipy.signal (the filter designs), reported separately as "cold";
* generating ``--frames`` LR frames (36x64) from the converted LR model with the streaming generator
  (``lvg.generate.generate``: counter noise, 256-frame aligned chunks, encoded to mp4), and super-resolving
  ``--frames`` frames with the converted SR model (18x32 -> 72x128, 16-frame chunks with 4 context frames
  each side). The two fixture networks do not chain (the LR one makes 36x64 frames, the SR one takes 18x32),
  so the SR input is the LR video area-downsampled by 2;
* the equivalence errors ``max|a - b| / max|ref|`` against the recorded reference outputs, and how much a
  frame of the reference-arithmetic LR model depends on the window it is computed in (256- vs 512-frame
  chunks).

Prints one table; seconds are process CPU time (user + system of this process) and wall time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

FIXTURES = Path(os.environ.get("LVG_FIXTURES", Path(__file__).resolve().parents[2] / "shared/fixtures/reference"))
CKPT = FIXTURES / "checkpoints"


class Timer:
    def __enter__(self) -> Timer:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.cpu, self.wall = time.process_time() - self.cpu, time.perf_counter() - self.wall


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return ((a.double() - ref.double()).abs().max() / ref.double().abs().max()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from safetensors.torch import load_file

    from lvg.generate import generate, generate_lowres
    from lvg.models import load_generator
    from lvg.reference import import_reference

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, name in (("convert LR (cold: + scipy import)", "lres_small"), ("convert SR", "sres_small"),
                            ("convert LR (warm)", "lres_small")):
            with Timer() as t:
                import_reference(CKPT / f"{name}.pkl", tmp / name)
            rows.append((label, t.cpu, t.wall, ""))
        G_lr, G_sr = load_generator(tmp / "lres_small", "lowres"), load_generator(tmp / "sres_small", "superres")

        with Timer() as t:
            paths = generate(G_lr, None, seed=0, t0=0, num_frames=args.frames, out_dir=tmp / "video")
        rows.append((f"generate {args.frames} LR frames 36x64 (streamed, mp4)", t.cpu, t.wall, paths["lowres"].name))
        lr = generate_lowres(G_lr, 0, -4, args.frames + 8)  # + 4 context frames each side
        lr = F.avg_pool2d(lr.transpose(0, 1), 2).transpose(0, 1)[None]  # [1, 3, T + 8, 18, 32]
        z = torch.randn(1, G_sr.cfg.z_dim, generator=torch.Generator().manual_seed(0))
        with Timer() as t:
            hr = G_sr.forward_chunked(lr, z, frames_per_chunk=16)
        rows.append((f"super-resolve {args.frames} frames 18x32 -> 72x128", t.cpu, t.wall, str(tuple(hr.shape))))

        t_lr, t_sr = load_file(str(CKPT / "lres_small.safetensors")), load_file(str(CKPT / "sres_small.safetensors"))
        with torch.no_grad():
            errs = [rel_err(G_lr.synthesize(t_lr[f"lres.T{n}.input.noise"], n), t_lr[f"lres.T{n}.output.video"])
                    for n in (16, 48)]
            errs.append(rel_err(G_sr(t_sr["sres.input.lr_video"], t_sr["sres.input.z"]), t_sr["sres.output.video"]))
        a = generate_lowres(G_lr, 0, 0, 512, lr_grid=256)
        b = generate_lowres(G_lr, 0, 0, 512, lr_grid=512)

    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU")
    print(f"{'step':<58} {'cpu s':>8} {'wall s':>8}")
    for label, cpu, wall, note in rows:
        print(f"{label:<58} {cpu:8.2f} {wall:8.2f}  {note}")
    print(f"equivalence max|a-b|/max|ref|: LR T=16 {errs[0]:.2e}, LR T=48 {errs[1]:.2e}, SR {errs[2]:.2e}")
    print(f"reference-arithmetic LR: frames 0..511 from 256- vs 512-frame chunks differ by {rel_err(a, b):.1e} "
          "(max|a-b|/max|b|)")


if __name__ == "__main__":
    main()
