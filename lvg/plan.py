"""What the workflow decides from the config before any job runs: torch-free, so building the DAG is cheap.

Snakemake (``workflow/rules/common.smk``) imports this module, :mod:`lvg.layout` and :mod:`lvg.config`, and
nothing that imports torch, pandas or scipy: every ``snakemake`` invocation, including each stage that
``dvc repro`` runs, builds the DAG in its own process, and importing torch alone costs ~1.7 s of it
(tests/test_workflow.py checks the import list). The phase modules import these definitions from here, so
each fact has one home.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lvg.config import parse_resolution
from lvg.errors import LvgError

WORLD = "world"  # the synthetic world's detector (lvg.metrics.world)
RANDOM_NAME = "i3d-random"  # the fixed random-weight I3D (lvg.metrics.i3d)
RELEASED_STAGES = ("lowres", "superres")  # the stages of a released LongVideoGAN model (lvg.data.audit)
# The train_lowres / train_superres keys that change the networks (not how they are trained): the sample
# sets of the untrained control depend on these alone.
LOWRES_NETWORK_KEYS = ("preset", "resolution", "seq_length", "footprint", "generator", "discriminator", "seed")
SUPERRES_NETWORK_KEYS = ("preset", "lr_resolution", "hr_resolution", "lr_cond_prob", "generator", "discriminator",
                         "seed")


def resolve_detector(spec: str | None, synthetic: bool) -> str:
    """The detector a dataset is evaluated with: ``auto`` is ``world`` on a synthetic dataset (whose ground
    truth trains it) and ``i3d-random`` elsewhere; ``null`` is ``i3d-random``; anything else is kept (``world``,
    ``i3d-random`` or an I3D weights file)."""
    if spec is None or spec == "":
        return RANDOM_NAME
    if spec == "auto":
        return WORLD if synthetic else RANDOM_NAME
    return spec


def evaluation_resolution(cfg: dict[str, Any]) -> str:
    """The resolution Table 1 compares at: ``metrics.resolution`` when set (e.g. a 128x256 centre crop of
    144x256 videos), else the HR size when samples are super-resolved, else the LR size."""
    res: Sequence[str] = cfg["preprocess"]["resolutions"]
    if cfg["metrics"].get("resolution"):
        key, want = "metrics.resolution", cfg["metrics"]["resolution"]
    else:
        key = "train_superres." + ("hr_resolution" if cfg["samples"]["resolution"] == "hr" else "lr_resolution")
        want = cfg["train_superres"][key.split(".")[1]]
    h, w = parse_resolution(want)
    if not any(parse_resolution(r) == (h, w) for r in res):
        raise LvgError(f"{key} = {want} is not among preprocess.resolutions {list(res)}")
    return f"{h}x{w}"


def ablation_override(variant: str) -> dict[str, Any]:
    """The ``train_lowres`` keys a Table 2 variant changes: ``seq<L>`` (training sequence length, Table 2(a))
    or ``fp<min>-<max>`` (temporal filter footprint in frames, Table 2(b))."""
    if m := re.fullmatch(r"seq(\d+)", variant):
        return {"seq_length": int(m[1])}
    if m := re.fullmatch(r"fp(\d+)-(\d+)", variant):
        return {"footprint": [int(m[1]), int(m[2])]}
    raise LvgError(f"unknown ablation variant {variant!r} (expected seq<L> or fp<min>-<max>)")


def released_resolution(entry: dict[str, Any], samples_resolution: str) -> str:
    """Frames of a released model's sample set (config ``released.<dataset>``): its own ``resolution``, else
    ``samples.resolution``; ``lr`` when no SR pickle is named."""
    return (entry.get("resolution") or samples_resolution) if entry.get("superres") else "lr"
