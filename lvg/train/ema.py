"""Exponential moving average of the generator weights (G_ema), with the reference's warm-up.

Why a warm-up: with a fixed beta = 0.99985 (half-life ~4620 steps) the average would remember the random
initialisation for tens of thousands of steps. LongVideoGAN instead lets the half-life grow linearly from
almost nothing to its target over the first ``rampup_steps`` steps (spec model.md §4: beta ~ 0.023 at step
0, the full 0.99985 from step 25,000 on). Parameters *and* floating-point buffers (the magnitude EMAs) are
averaged, so G_ema's activation gains follow G's; integer buffers are copied.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def half_life(beta: float) -> float:
    """Steps after which a weight's contribution halves: ``ln 0.5 / ln beta`` (inf for beta = 1)."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"EMA beta must be in [0, 1], got {beta}")
    if beta == 1.0:
        return math.inf
    if beta == 0.0:
        return 0.0
    return math.log(0.5) / math.log(beta)


def ema_beta(step: int, beta: float, rampup_steps: int) -> float:
    """Decay used at (0-based) ``step``: half-life ``h * min(1, (step + 1) / rampup_steps)``, h = target.

    ``rampup_steps = 0`` disables the warm-up. At step 0 of the paper schedule this gives 0.0236.
    """
    target = half_life(beta)
    if rampup_steps <= 0 or math.isinf(target) or target == 0.0:
        return beta
    h = target * min(1.0, (step + 1) / rampup_steps)
    return 0.5 ** (1.0 / h)


def make_ema(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` in eval mode: the averaged generator."""
    ema = copy.deepcopy(module).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, module: nn.Module, beta: float) -> None:
    """``ema <- beta * ema + (1 - beta) * module`` for parameters and float buffers; copy other buffers."""
    for e, p in zip(ema.parameters(), module.parameters(), strict=True):
        e.lerp_(p.detach(), 1.0 - beta)
    for e, b in zip(ema.buffers(), module.buffers(), strict=True):
        if e.is_floating_point():
            e.lerp_(b.detach(), 1.0 - beta)
        else:
            e.copy_(b)
