"""Memory budgets for generation: chunk sizes chosen from ``--max-memory`` instead of an out-of-memory kill.

Generation memory is the weights plus the activations of one chunk, and both are known before anything runs:
the LR generator's largest activation is one temporal level of ``frames / scale + 2 * margin`` samples, the
SR generator's one upsampled layer of the frames it synthesises in one pass. :func:`lowres_peak_bytes` and
:func:`superres_peak_bytes` estimate the peak from the configs with a safety factor measured on the CPU
(``benchmarks/bench_generate.py`` prints estimate and measured peak RSS side by side); :func:`plan_chunks`
keeps the requested chunk sizes when they fit and otherwise halves them, and refuses, naming the budget and
the smallest need, when even the smallest chunk cannot fit.
"""

from __future__ import annotations

import logging
import math
import re

import torch
from torch import nn

from lvg.errors import LvgError

log = logging.getLogger(__name__)

__all__ = ["default_budget", "lowres_peak_bytes", "parse_memory", "plan_chunks", "superres_peak_bytes"]

#: Peak activation memory divided by the largest single activation, measured on the paper preset (CPU,
#: fp32, 128..512 frames: 7.4 to 9.4 live copies of the largest level counting the allocator's slack).
LIVE_COPIES = 10
#: The process before any chunk: interpreter, torch, codecs (measured ~290 MB on the CI machine).
RUNTIME_BYTES = 320 * 2**20
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_memory(text: str | int | float) -> int:
    """Bytes from ``"1.5G"``, ``"512M"``, ``"800MiB"``, ``"2GB"`` or a plain number of bytes."""
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise LvgError(f"max-memory: cannot read {text!r} (expected e.g. 4G, 512M, 1.5GB or bytes)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def default_budget(device: str | torch.device = "cpu") -> int:
    """80 % of the memory available now (free GPU memory on CUDA, available RAM otherwise)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(0.8 * free)
    import psutil

    return int(0.8 * psutil.virtual_memory().available)


def _param_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def lowres_peak_bytes(G_lr: nn.Module, frames: int) -> int:
    """Estimated peak activation bytes of one LR chunk of ``frames`` frames (weights not included).

    The temporal levels hold ``block_in_lengths[i]`` samples of ``C x h x w``; the spatial-only blocks see
    :data:`lvg.lowres.generator.SPATIAL_SLICE` frames at a time. The estimate holds for bf16 autocast too
    (activations stay fp32 between layers there; measured peaks are lower).
    """
    from lvg.lowres.generator import SPATIAL_SLICE

    cfg, lengths = G_lr.cfg, G_lr.seq_lengths(frames)
    sizes = G_lr._block_out_sizes()
    largest = 0
    chans = [cfg.input_channels, *cfg.temporal_channels]
    h, w = G_lr.const.shape[1:]
    for i, length in enumerate(lengths.block_in_lengths):
        largest = max(largest, length * chans[i] * h * w, 2 * length * chans[i + 1] * h * w)
        h, w = sizes[i]
    spatial = [cfg.temporal_channels[-1], *cfg.spatial_channels]
    for j, (hh, ww) in enumerate(sizes[len(chans) - 1:]):
        largest = max(largest, min(frames, SPATIAL_SLICE) * max(spatial[j], spatial[j + 1]) * hh * ww)
    return LIVE_COPIES * largest * 4


def superres_peak_bytes(G_sr: nn.Module, frames: int) -> int:
    """Estimated peak activation bytes of one SR call on ``frames`` HR frames (weights not included).

    The largest activation is a layer's upsampled grid inside the filtered leaky ReLU, per frame
    ``channels x (up * in_h) x (up * in_w)``; inference synthesises ``SYNTH_FRAMES`` frames at a time
    (:class:`lvg.superres.generator.SRGenerator`), so the need does not grow with ``frames``.
    """
    per_pass = min(frames, getattr(G_sr, "SYNTH_FRAMES", frames))
    largest = max(s.out_channels * s.in_size[0] * s.in_size[1] * max(s.up, 1) ** 2 for s in G_sr.specs)
    return LIVE_COPIES * per_pass * largest * 4


def plan_chunks(G_lr: nn.Module, G_sr: nn.Module | None, *, lr_grid: int, sr_grid: int,
                max_memory: int | str | None, device: str | torch.device = "cpu") -> tuple[int, int]:
    """``(lr_grid, sr_grid)`` that fit ``max_memory`` (default :func:`default_budget`): the requested ones when
    they fit, else halved (LR in multiples of the 1/32 grid, SR down to one frame), LR first.

    Raises :class:`LvgError` naming the budget and the smallest need when nothing fits. Changing a grid
    changes the last bits of the frames (their chunking); the caller records the grids it used.
    """
    budget = default_budget(device) if max_memory is None else parse_memory(max_memory)
    fixed = RUNTIME_BYTES + _param_bytes(G_lr) + (_param_bytes(G_sr) if G_sr is not None else 0)
    s = G_lr.temporal_scale

    def need(lg: int, sg: int) -> int:
        sr = superres_peak_bytes(G_sr, sg) if G_sr is not None else 0
        return fixed + max(lowres_peak_bytes(G_lr, lg), sr)

    lg, sg = lr_grid, sr_grid
    while need(lg, sg) > budget and (lg > s or sg > 1):
        if lg > s and lowres_peak_bytes(G_lr, lg) >= (superres_peak_bytes(G_sr, sg) if G_sr is not None else 0):
            lg = max(s, lg // 2 // s * s)
        elif sg > 1:
            sg = max(1, sg // 2)
        else:
            lg = max(s, lg // 2 // s * s)
    if need(lg, sg) > budget:
        raise LvgError(f"max-memory {_gib(budget)} is too small: even {lg}-frame LR chunks"
                       + (f" and {sg}-frame SR chunks" if G_sr is not None else "")
                       + f" need about {_gib(need(lg, sg))} (weights {_gib(fixed - RUNTIME_BYTES)})")
    if (lg, sg) != (lr_grid, sr_grid):
        log.warning("memory budget %s: chunks of %d LR / %d SR frames instead of %d / %d (estimated peak %s)",
                    _gib(budget), lg, sg, lr_grid, sr_grid, _gib(need(lg, sg)))
    return lg, sg


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{math.ceil(n / 2**20)} MiB"
