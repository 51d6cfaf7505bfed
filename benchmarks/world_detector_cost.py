"""What the `world` detector costs per frame, by first-layer width (issue #11: it runs on every evaluation).

    python benchmarks/world_detector_cost.py [--threads 1] [--batch 16] [--frames 16]

Times, side by side in one process on random input at 64x64, the forward pass (FVD features) and one forward
+ backward pass (a training step's network work) of :class:`lvg.metrics.world.WorldNet` for each channel
setting, as CPU-milliseconds per frame and as a ratio to the first setting. The sanity ranking of each width is
a separate question, answered by the default run's ``results/metrics/<dataset>/sanity.json``.

Then the object network's training step (:class:`lvg.metrics.world.ObjectNet`, a batch of ``--object-batch``
64x64 frames, AdamW) in float32, under bf16 autocast, and bf16 + channels-last (what
``lvg.train.world.train_object_net`` runs), as CPU-ms per step and the speed-up over float32.
"""

from __future__ import annotations

import argparse
import time

import torch

from lvg.metrics.world import ObjectNet, WorldNet, WorldNetConfig

SETTINGS = ((16, 32, 64, 96), (8, 32, 64, 96))


def cpu_ms_per_frame(fn, frames: int, repeat: int) -> float:
    fn()  # warm-up
    t = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t) / repeat / frames * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--object-batch", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, args.frames, 64, 64) * 2 - 1
    n = args.batch * args.frames
    rows = []
    for channels in SETTINGS:
        net = WorldNet(WorldNetConfig(channels=channels))
        with torch.no_grad():
            fwd = cpu_ms_per_frame(lambda net=net: net.embedding(x), n, args.repeat)
        train = cpu_ms_per_frame(lambda net=net: net.embedding(x).square().mean().backward(), n, args.repeat)
        rows.append((channels, fwd, train))
    print(f"{'channels':20s} {'forward ms/frame':>17s} {'ratio':>6s} {'fwd+bwd ms/frame':>17s} {'ratio':>6s}")
    for channels, fwd, train in rows:
        print(f"{str(channels):20s} {fwd:17.3f} {rows[0][1] / fwd:6.2f} {train:17.3f} {rows[0][2] / train:6.2f}")
    object_steps(args.object_batch, args.repeat)


def object_steps(batch: int, repeat: int) -> None:
    """CPU-ms per object-network training step: float32, bf16 autocast, bf16 + channels-last."""
    x = torch.rand(batch, 3, 64, 64) * 2 - 1
    y = (torch.rand(batch, 7) < 0.3).float()
    times = {}
    for name, bf16, channels_last in (("float32", False, False), ("bf16", True, False),
                                      ("bf16 + channels-last", True, True)):
        net = ObjectNet(7).to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        xx = x.contiguous(memory_format=torch.channels_last) if channels_last else x

        def step(net=net, opt=opt, xx=xx, bf16=bf16) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = net(xx).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        times[name] = cpu_ms_per_frame(step, 1, 5 * repeat)
    print(f"\nobject network, training step of {batch} frames: " + ", ".join(
        f"{k} {v:.1f} ms ({times['float32'] / v:.2f}x)" for k, v in times.items()))


if __name__ == "__main__":
    main()
