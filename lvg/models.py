"""Generators on disk: which networks exist, how one is saved, found, loaded and identified.

Every trained (or imported) generator is a pair of files, never a pickle:

* ``<name>.safetensors``: the state dict (metadata ``{"format": "lvg", "model": <model name>}``);
* ``<name>.json``: ``{"model": <model name>, "generator": <config dict>, ...}`` plus whatever the writer
  adds (training step, provenance of an imported file).

The *model name* says which network class and config class rebuild it. :func:`registry` is the one table
of them: ``lowres.VideoGenerator`` (the paper's LR generator), ``superres.SRGenerator`` (its SR network) and
``baselines.<method>`` for every baseline in :data:`lvg.baselines.METHODS`. Classes are imported only when
a model of that kind is built, so this module imports no network code itself (the baselines import it).

:func:`model_id` is the identity recorded in sample sets and metric records: a hash of the config and the
weights, so two files holding the same network get the same id.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lvg.errors import InputError
from lvg.io import atomic_path, read_json, save_tensors, sha256_file, write_json

__all__ = ["KINDS", "ModelSpec", "find_generator_files", "load_generator", "model_id", "model_name",
           "registry", "save_generator", "WEIGHTS_FILE"]

WEIGHTS_FILE = "G_ema.safetensors"
CONFIG_KEY = "generator"
WEIGHTS_SHA256 = "weights_sha256"  # in <name>.json: which weights file it describes


@dataclass(frozen=True)
class ModelSpec:
    """Where the classes of one model name live: ``module.network(module.config.from_dict(d))``."""

    module: str
    network: str
    config: str

    def classes(self) -> tuple[type[nn.Module], type]:
        mod = importlib.import_module(self.module)
        return getattr(mod, self.network), getattr(mod, self.config)


@cache
def registry() -> dict[str, ModelSpec]:
    """Every model name and where its classes live (built on first use: the baselines import this module)."""
    from lvg.baselines import METHODS

    table = {"lowres.VideoGenerator": ModelSpec("lvg.lowres.generator", "VideoGenerator", "GeneratorConfig"),
             "superres.SRGenerator": ModelSpec("lvg.superres.generator", "SRGenerator", "SRGeneratorConfig")}
    for method in METHODS:
        table[f"baselines.{method}"] = ModelSpec(f"lvg.baselines.{method}", "GENERATOR", "CONFIG")
    return table


# what a loader may ask for: one model name, or "baseline" for any baselines.<method>
KINDS = {"lowres": "lowres.VideoGenerator", "superres": "superres.SRGenerator", "baseline": "baselines.*"}


def model_name(G: nn.Module) -> str:
    """The registered name of ``G``'s class (``lowres.VideoGenerator``, ``baselines.tats``, ...).

    Looked up in ``G``'s own (already imported) module, so saving one model imports no other network code.
    """
    cls = type(G)
    module = sys.modules.get(cls.__module__)
    for name, spec in registry().items():
        if spec.module == cls.__module__ and getattr(module, spec.network, None) is cls:
            return name
    raise TypeError(f"{cls.__name__} is not a registered generator (lvg.models.registry)")


def _matches(name: str, kind: str | None) -> bool:
    want = KINDS.get(kind, kind) if kind is not None else None
    if want is None:
        return True
    return name.startswith("baselines.") if want == "baselines.*" else name == want


# ------------------------------------------------------------------------------------------------ saving
def save_generator(G: nn.Module, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (safetensors weights) and ``path.with_suffix('.json')`` (model name, config, ``extra``).

    Both files are written atomically; the JSON last, so a config file always describes complete weights,
    and it records their sha256 (``weights_sha256``): a JSON next to other weights is refused at load.
    """
    path = Path(path)
    name = model_name(G)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in G.state_dict().items()}
    with atomic_path(path) as tmp:
        save_tensors(tensors, tmp, metadata={"format": "lvg", "model": name})
        digest = sha256_file(tmp)
    write_json(path.with_suffix(".json"), {"model": name, CONFIG_KEY: G.cfg.to_dict(), **(extra or {}),
                                           WEIGHTS_SHA256: digest})
    return path


# ------------------------------------------------------------------------------------------------ loading
def find_generator_files(path: str | Path, kind: str | None = None) -> tuple[Path, Path, dict, str | None]:
    """Locate ``(weights, config JSON, generator config dict, model name)`` for ``path`` (file or directory).

    Weights: ``path`` itself if it is a file, else ``path/G_ema.safetensors``. The config is the first of
    these JSON files that exists and holds one: ``<weights stem>.json`` (what :func:`save_generator`
    writes), then ``config.json`` and ``state.json`` in the weights' directory, then ``../../config.json``
    (the run directory of ``<run>/checkpoints/ckpt-XXXXXXXX/``). In each file the config dict is read from
    the top-level key ``"generator"`` or from ``"state" -> "generator"`` (a checkpoint's ``state.json``).
    A top-level ``"model"`` key, when present, must match ``kind`` (``"lowres"``, ``"superres"``,
    ``"baseline"`` or a full model name), so the wrong stage is a clear error. The model name is None only
    for configs that predate it (``kind`` then decides).
    """
    path = Path(path)
    label = kind or "generator"
    weights = path / WEIGHTS_FILE if path.is_dir() else path
    if not weights.is_file():
        raise InputError(weights, f"{label} generator weights not found")
    d = weights.parent
    candidates = [weights.with_suffix(".json"), d / "config.json", d / "state.json", d.parent.parent / "config.json"]
    for cand in candidates:
        if not cand.is_file():
            continue
        try:
            doc = read_json(cand)
        except ValueError as e:
            raise InputError(cand, f"not valid JSON ({e})") from None
        if not isinstance(doc, dict):
            continue
        name = doc.get("model")
        if name is not None and not _matches(str(name), kind):
            raise InputError(cand, f"holds a {name!r}, expected a {KINDS.get(kind, kind)!r} ({label} generator)")
        cfg = doc.get(CONFIG_KEY)
        if cfg is None and isinstance(doc.get("state"), dict):
            cfg = doc["state"].get(CONFIG_KEY)
        if isinstance(cfg, dict):
            return weights, cand, cfg, name
    raise InputError(weights, f"no generator config found: looked for key {CONFIG_KEY!r} in "
                     f"{', '.join(str(c) for c in candidates)}")


def load_generator(path: str | Path, kind: str | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The generator saved at ``path`` (see :func:`find_generator_files`), in eval mode without gradients.

    ``kind`` restricts what is accepted (``"lowres"``, ``"superres"``, ``"baseline"``, a model name, or None
    for any). The module gets ``model_source`` (the weights path, for provenance records) and ``model_name``;
    a baseline also ``method``. Bad files are :class:`InputError` naming the file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, cfg_file, cfg_dict, name = find_generator_files(path, kind)
    if name is None:
        if kind not in ("lowres", "superres"):
            raise InputError(cfg_file, "no 'model' key: cannot tell which network these weights are for")
        name = KINDS[kind]
    if name not in registry():
        raise InputError(cfg_file, f"unknown model {name!r} (known: {', '.join(sorted(registry()))})")
    net_cls, cfg_cls = registry()[name].classes()
    try:
        net = net_cls(cfg_cls.from_dict(cfg_dict))
    except (TypeError, ValueError) as e:
        raise InputError(cfg_file, f"bad {name} config: {e}") from None
    if cfg_file == weights.with_suffix(".json"):  # the pair save_generator wrote: it names its weights
        want = read_json(cfg_file).get(WEIGHTS_SHA256)
        if want is not None and (got := sha256_file(weights)) != want:
            raise InputError(cfg_file, f"describes other weights: {weights.name} has sha256 {got[:12]}… but the "
                             f"config records {str(want)[:12]}… (a config from another run next to these weights)")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise InputError(weights, f"unreadable safetensors file ({e})") from None
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise InputError(weights, f"weights do not match the config in {cfg_file}: {e}") from None
    net.model_source, net.model_name = str(weights), name
    if name.startswith("baselines."):
        net.method = name.removeprefix("baselines.")
    return net.to(device).eval().requires_grad_(False)


# ------------------------------------------------------------------------------------------------ identity
def model_id(module: nn.Module) -> str:
    """First 16 hex digits of a SHA-256 over the config and the state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    cfg = getattr(module, "cfg", None)
    if cfg is not None and hasattr(cfg, "to_dict"):
        h.update(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]
