"""Released LongVideoGAN models in lvg: read a reference ``G_ema`` pickle as data, convert it, save it as ours.

The reference (NVlabs/long-video-gan) publishes ``horseback_lres.pkl``, ``horseback_sres.pkl``,
``biking_lres.pkl`` and ``biking_sres.pkl``: pickles whose loading executes the Python source stored inside
them (``torch_utils.persistence``) and needs the reference's custom CUDA ops. lvg opens them without running
anything from the file:

1. :mod:`lvg.reference.unpickle` reads the pickle into plain records (class name + state), mapping each of
   the few globals such files use to a data-only handler and refusing every other one;
2. :mod:`lvg.reference.convert` infers the network's configuration from the records, builds our generator in
   its reference-arithmetic mode and fills it through a complete name mapping (every tensor loaded,
   verified against the filter lvg designs, or dropped with a reason);
3. :func:`import_reference` writes our checkpoint format (``G_ema.safetensors`` + ``G_ema.json``, through
   :func:`lvg.models.save_generator`) with the provenance: source file name, size and sha256, the reference
   classes and their module-source hashes, the inferred config, what the mapping did.

The converted folder then works wherever ours does: ``lvg generate``, the DAG (config ``released``),
fine-tuning (``train_lowres.init_from``). :func:`cached_import` converts a ``.pkl`` once into a cache keyed by
its sha256, for commands that take the pickle directly.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lvg import __version__
from lvg.errors import InputError
from lvg.models import KINDS, WEIGHTS_FILE, model_id, save_generator
from lvg.reference.convert import (
    REFERENCE_ARITHMETIC,
    REFERENCE_CLASSES,
    Converted,
    MappingError,
    convert_records,
    reference_summary,
)
from lvg.reference.unpickle import load_records

log = logging.getLogger(__name__)

__all__ = ["PROVENANCE_KEY", "ImportResult", "cached_import", "cache_dir", "convert_file", "import_reference",
           "is_reference_pickle", "resolve_generator"]

PROVENANCE_KEY = "imported_from"
REPOSITORY = "NVlabs/long-video-gan"


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_reference` wrote."""

    kind: str  # "lowres" or "superres"
    weights: Path
    config: Path
    provenance: dict[str, Any]
    seconds: float


def is_reference_pickle(path: str | Path) -> bool:
    """Whether a path names a pickle file (by suffix): what :func:`resolve_generator` converts."""
    return Path(path).suffix.lower() == ".pkl"


def convert_file(pkl: str | Path, kind: str | None = None) -> tuple[Converted, dict[str, Any]]:
    """Read and convert ``pkl`` in memory: ``(converted network, provenance)``; nothing is written.

    ``kind`` (``"lowres"`` / ``"superres"``) makes the other stage an error naming the file.
    """
    pkl = Path(pkl)
    root, sha256 = load_records(pkl)
    try:
        conv = convert_records(root)
    except MappingError as e:
        raise InputError(pkl, str(e)) from None
    if kind is not None and conv.kind != kind:
        want = {"lowres": "low-resolution", "superres": "super-resolution"}
        raise InputError(pkl, f"is the reference's {want[conv.kind]} generator, a {want[kind]} one is needed here")
    provenance = {
        "source": {"file": pkl.name, "path": str(pkl.resolve()), "sha256": sha256, "bytes": pkl.stat().st_size},
        "reference": {"repository": REPOSITORY, "class": REFERENCE_CLASSES[conv.kind], **reference_summary(root)},
        "kind": conv.kind,
        "model": KINDS[conv.kind],
        "arithmetic": "reference" + (f" ({', '.join(f'{k}={v!r}' for k, v in REFERENCE_ARITHMETIC.items())})"
                                     if conv.kind == "lowres" else ""),
        "num_params": sum(p.numel() for p in conv.generator.parameters()),
        "model_id": model_id(conv.generator),
        "mapping": conv.summary(),
        "converter": {"lvg": __version__, "torch": torch.__version__},
    }
    return conv, provenance


def import_reference(pkl: str | Path, out_dir: str | Path, kind: str | None = None) -> ImportResult:
    """``lvg import-reference``: convert a reference G_ema pickle into ``out_dir/G_ema.{safetensors,json}``.

    The whole conversion (reading, inference, mapping, verification) happens in memory before anything is
    written, so a file that fails leaves ``out_dir`` as it was; the two files are then written atomically
    (weights first, the JSON that describes them last). The JSON holds ``{"model", "generator": config,
    "imported_from": provenance}``.
    """
    start = time.perf_counter()
    conv, provenance = convert_file(pkl, kind)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "exists and is not a folder")
    weights = save_generator(conv.generator, out_dir / WEIGHTS_FILE, {PROVENANCE_KEY: provenance})
    seconds = time.perf_counter() - start
    log.info("imported %s (%s, %d parameters) -> %s in %.1f s", Path(pkl).name, conv.kind,
             provenance["num_params"], weights, seconds)
    return ImportResult(conv.kind, weights, weights.with_suffix(".json"), provenance, seconds)


# ------------------------------------------------------------------------------------------------ cache
def cache_dir() -> Path:
    """Where :func:`cached_import` keeps conversions: ``$LVG_CACHE_DIR``, else ``$XDG_CACHE_HOME/lvg``, else
    ``~/.cache/lvg`` (plus ``reference/<sha256>/``)."""
    if env := os.environ.get("LVG_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lvg"


def cached_import(pkl: str | Path, kind: str | None = None) -> Path:
    """The converted folder of ``pkl`` in the cache, converting it on first use (keyed by the file's sha256:
    the same bytes are converted once; a changed file gets a new entry)."""
    from lvg.io import read_json, sha256_file

    pkl = Path(pkl)
    if not pkl.is_file():
        raise InputError(pkl, "reference pickle not found")
    folder = cache_dir() / "reference" / sha256_file(pkl)
    meta = folder / "G_ema.json"
    if (folder / WEIGHTS_FILE).is_file() and meta.is_file():
        try:
            done = read_json(meta)[PROVENANCE_KEY]["kind"]
        except (ValueError, KeyError, TypeError):
            done = None
        if done is not None:
            if kind is not None and done != kind:
                convert_file(pkl, kind)  # raises the same error as a fresh conversion would
            return folder
    import_reference(pkl, folder, kind)
    return folder


def resolve_generator(path: str | Path, kind: str | None = None) -> Path:
    """``path`` itself, or for a reference ``.pkl`` its converted folder in the cache (:func:`cached_import`)."""
    return cached_import(path, kind) if is_reference_pickle(path) else Path(path)
