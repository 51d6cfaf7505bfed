"""Compact clean-room baselines (spec evaluation.md §5), one module per method: StyleGAN-V-lite
(:mod:`lvg.baselines.styleganv`), DIGAN-lite (:mod:`lvg.baselines.digan`), MoCoGAN-HD-lite
(:mod:`lvg.baselines.mocoganhd`) and TATS-lite (:mod:`lvg.baselines.tats`).

No upstream code is copied (licences forbid it); each model is written from its paper's description with the
project's own layers (:mod:`lvg.nn`) and trained through the shared loop (:mod:`lvg.train.loop`) with the
shared GAN pieces (:mod:`lvg.train.gan`, :mod:`lvg.baselines.common`).

**The registry** is :data:`METHODS`: method ``m`` (its config section ``baselines.<m>``) is the module
``lvg.baselines.<m>``, which defines ``METHOD``, ``CONFIG`` (generator config class), ``GENERATOR`` (whose
``frames(seed, t0, num_frames)`` renders any window of a video by the method's own long-video mechanism)
and ``ALGORITHM`` (the training algorithm). Adding a baseline: write its module, add its name here, give it a
section in ``params.yaml``. Modules are imported on first use (:func:`baseline`), so reading the list costs
nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

METHODS = ("styleganv", "digan", "mocoganhd", "tats")


def baseline(method: str) -> ModuleType:
    """The module of baseline ``method`` (``METHOD``, ``CONFIG``, ``GENERATOR``, ``ALGORITHM``)."""
    if method not in METHODS:
        from lvg.errors import LvgError

        raise LvgError(f"unknown baseline {method!r}; known: {', '.join(METHODS)}")
    return importlib.import_module(f"lvg.baselines.{method}")
