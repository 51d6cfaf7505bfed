"""Training checkpoints: safetensors for tensors, JSON for everything else; never pickles.

Layout of one checkpoint (``<run>/checkpoints/ckpt-<step:08d>/``, ``step`` = training steps completed)::

    G.safetensors, D.safetensors, G_ema.safetensors   one file per network (its state_dict)
    optim.safetensors                                  optimizer state tensors, keys "<opt>/<param idx>/<name>"
    state.json                                         step, sizes + SHA-256 of the files above, optimizer
                                                       param groups, and the caller's state (config, RNG
                                                       states, data position, metrics so far, ...)

Why no pickles: a pickle executes code on load and freezes class layouts into the file (the reference
ships source code inside its checkpoints). Loading here only ever parses JSON and safetensors.

Why atomic: a run can be killed at any moment (pre-emption, OOM, Ctrl-C). Everything is written into a
hidden temporary directory, fsynced, and renamed to ``ckpt-<step>`` in one ``rename``; ``state.json`` is
written last and lists every file's size and hash. :func:`latest_checkpoint` only considers directories
named ``ckpt-<8 digits>`` whose ``state.json`` parses and whose files match it, so a temporary directory left
by a kill, or a damaged checkpoint, is skipped (with a warning) and the previous one is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from lvg.errors import LvgError
from lvg.io import publish_mode, save_tensors

log = logging.getLogger(__name__)

FORMAT = 1
STATE_FILE = "state.json"
OPTIM_FILE = "optim.safetensors"
_CKPT_RE = re.compile(r"^ckpt-(\d{8})$")


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:08d}"


def checkpoint_step(path: str | Path) -> int | None:
    """Step encoded in a checkpoint directory name, or None if the name is not ``ckpt-<8 digits>``."""
    m = _CKPT_RE.match(Path(path).name)
    return int(m.group(1)) if m else None


# ------------------------------------------------------------------------------------------ RNG states
def generator_state(g: torch.Generator) -> str:
    """A ``torch.Generator`` state as base64 text (JSON-safe)."""
    return base64.b64encode(g.get_state().numpy().tobytes()).decode("ascii")


def set_generator_state(g: torch.Generator, text: str) -> None:
    raw = bytearray(base64.b64decode(text))
    g.set_state(torch.frombuffer(raw, dtype=torch.uint8).clone())


# ------------------------------------------------------------------------------------------ optimizers
def optimizer_tensors(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's state_dict into tensors (for safetensors) and a JSON-ready remainder."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    other: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"{name}/{idx}/{key}"] = value.detach().cpu().clone()
            else:
                other.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "other": other}


def load_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict) -> None:
    """Inverse of :func:`optimizer_tensors` (JSON lists become tuples again where the optimizer has tuples)."""
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, field = key[len(prefix):].split("/", 1)
            state.setdefault(int(idx), {})[field] = value
    for idx, extra in meta.get("other", {}).items():
        state.setdefault(int(idx), {}).update(extra)
    groups = []
    for saved, current in zip(meta["param_groups"], opt.param_groups, strict=True):
        groups.append({k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()})
    opt.load_state_dict({"state": state, "param_groups": groups})


# ------------------------------------------------------------------------------------------ files
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _state_dict_tensors(module: nn.Module) -> dict[str, Tensor]:
    """A module's state_dict as independent CPU tensors (safetensors refuses shared storage)."""
    return {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}


def save_checkpoint(ckpt_dir: str | Path, step: int, modules: dict[str, nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer], state: dict[str, Any], keep: int = 0) -> Path:
    """Write ``ckpt_dir/ckpt-<step>`` atomically and return it; then keep only the newest ``keep`` (0 = all).

    ``state`` must be JSON-serialisable; it is stored under ``state.json["state"]``.
    """
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / checkpoint_name(step)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=ckpt_dir))
    try:
        files: dict[str, dict[str, Any]] = {}

        def put(fname: str, tensors: dict[str, Tensor]) -> None:
            path = tmp / fname
            save_tensors(tensors, path, metadata={"format": "lvg", "step": str(step)})  # canonical bytes
            _fsync(path)
            files[fname] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}

        for name, module in modules.items():
            put(f"{name}.safetensors", _state_dict_tensors(module))
        opt_tensors: dict[str, Tensor] = {}
        opt_meta: dict[str, Any] = {}
        for name, opt in optimizers.items():
            t, meta = optimizer_tensors(name, opt)
            opt_tensors.update(t)
            opt_meta[name] = meta
        put(OPTIM_FILE, opt_tensors)
        doc = {"format": FORMAT, "step": step, "files": files, "optimizers": opt_meta, "state": state}
        with open(tmp / STATE_FILE, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        publish_mode(tmp)  # mkdtemp's 0700 would hide the checkpoint from the group
        _publish(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(ckpt_dir, keep)
    return final


def _publish(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` (same step saved again) is replaced."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
    os.rename(tmp, final)
    _fsync(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(ckpt_dir: str | Path) -> None:
    """Delete the hidden ``.ckpt-*`` folders of interrupted writes (one process writes a run's checkpoints:
    the trainer's main rank, at its start and after each save)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return
    for p in ckpt_dir.iterdir():
        if p.name.startswith(".ckpt-") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _prune(ckpt_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` complete checkpoints, and leftovers of interrupted writes."""
    remove_leftovers(ckpt_dir)
    if keep > 0:
        for p in list_checkpoints(ckpt_dir, verify=False)[:-keep]:
            shutil.rmtree(p, ignore_errors=True)


# ------------------------------------------------------------------------------------------ reading
def read_state(path: str | Path) -> dict[str, Any]:
    """The parsed ``state.json`` of a checkpoint directory (LvgError if missing or not JSON)."""
    f = Path(path) / STATE_FILE
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LvgError(f"{f}: unreadable checkpoint state ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "files" not in doc:
        raise LvgError(f"{f}: not an lvg checkpoint (format {FORMAT} expected)")
    return doc


def checkpoint_problem(path: str | Path, verify: bool = True) -> str | None:
    """Why ``path`` is not a usable checkpoint, or None. ``verify`` also checks every file's SHA-256."""
    path = Path(path)
    try:
        doc = read_state(path)
    except LvgError as e:
        return str(e)
    if doc.get("step") != checkpoint_step(path):
        return f"{path}: state.json says step {doc.get('step')}, the directory name says otherwise"
    for fname, info in doc["files"].items():
        f = path / fname
        if not f.is_file():
            return f"{f}: missing"
        if f.stat().st_size != info["bytes"]:
            return f"{f}: {f.stat().st_size} bytes, expected {info['bytes']} (truncated?)"
        if verify and _sha256(f) != info["sha256"]:
            return f"{f}: checksum mismatch (damaged)"
    return None


def list_checkpoints(ckpt_dir: str | Path, verify: bool = False) -> list[Path]:
    """Usable checkpoints in ``ckpt_dir``, oldest first; damaged or partial ones are skipped with a warning."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = sorted((checkpoint_step(p), p) for p in ckpt_dir.iterdir() if checkpoint_step(p) is not None)
    good = []
    for _, p in found:
        problem = checkpoint_problem(p, verify=verify)
        if problem:
            log.warning("ignoring checkpoint %s: %s", p.name, problem)
        else:
            good.append(p)
    return good


def latest_checkpoint(ckpt_dir: str | Path, verify: bool = True) -> Path | None:
    """The newest usable checkpoint (scanning directories, newest first), or None if there is none."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    candidates = sorted((p for p in ckpt_dir.iterdir() if checkpoint_step(p) is not None),
                        key=lambda p: checkpoint_step(p), reverse=True)
    for p in candidates:
        problem = checkpoint_problem(p, verify=verify)
        if problem is None:
            return p
        log.warning("ignoring checkpoint %s: %s", p.name, problem)
    return None


def load_checkpoint(path: str | Path, modules: dict[str, nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Load weights and optimizer states in place (strict); return the caller's ``state`` dict.

    Tensors are read on the CPU and copied into the modules' own devices.
    """
    path = Path(path)
    problem = checkpoint_problem(path, verify=False)
    if problem:
        raise LvgError(f"cannot resume from {path}: {problem}")
    doc = read_state(path)
    for name, module in modules.items():
        f = path / f"{name}.safetensors"
        if not f.is_file():
            raise LvgError(f"{f}: missing network {name!r} in checkpoint")
        try:
            module.load_state_dict(load_file(str(f)), strict=True)
        except RuntimeError as e:
            raise LvgError(f"{f}: weights do not fit the configured network ({e})") from None
    opt_tensors = load_file(str(path / OPTIM_FILE)) if optimizers else {}
    for name, opt in optimizers.items():
        if name not in doc["optimizers"]:
            raise LvgError(f"{path / STATE_FILE}: no state for optimizer {name!r}")
        load_optimizer(name, opt, opt_tensors, doc["optimizers"][name])
    return doc["state"]
