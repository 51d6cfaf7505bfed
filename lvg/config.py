"""The one configuration: ``params.yaml`` (Snakemake configfile and DVC params), validated by a schema.

Presets are YAML files that override it key by key (:func:`load_config` merges them in order). Validation
fills schema defaults and reports the first problem as ``<file>: <dotted.key>: <what is wrong>``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lvg.errors import InputError
from lvg.io import atomic_open
from lvg.paths import REPO_ROOT
from lvg.schema import first_error, load_schema

DEFAULT_CONFIG = REPO_ROOT / "params.yaml"


def _with_defaults(validator_class: type) -> type:
    """A validator that also fills ``default`` values (the jsonschema FAQ recipe)."""
    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (lists are replaced, not appended)."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validate_config(config: dict[str, Any], source: str | Path = "params.yaml") -> dict[str, Any]:
    """Validate in place (filling defaults) and return ``config``; InputError names the bad key."""
    validator = _with_defaults(jsonschema.Draft202012Validator)(load_schema("config"))
    problem = first_error(validator, config)
    if problem:
        key, msg = problem
        raise InputError(source, f"{'.'.join(key) or '(top level)'}: {msg}")
    return config


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Load ``params.yaml`` (or the given files, later ones overriding earlier ones) and validate."""
    paths = paths or (DEFAULT_CONFIG,)
    merged: dict[str, Any] = {}
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise InputError(p, "config file not found") from None
        except yaml.YAMLError as e:
            raise InputError(p, f"not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise InputError(p, "a config file must be a mapping of keys to values")
        merged = deep_merge(merged, data)
    return validate_config(merged, " + ".join(str(p) for p in paths))


def write_resolved_config(config: dict[str, Any], path: str | Path) -> None:
    """Save the config a run actually used, next to its outputs."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=True)


def parse_resolution(text: str) -> tuple[int, int]:
    """``"64x64"`` -> (64, 64) as (height, width)."""
    h, w = text.lower().split("x")
    return int(h), int(w)


def resolution_dir(height: int, width: int) -> str:
    """The reference's folder name for a resolution: ``0064x0064``."""
    return f"{height:04d}x{width:04d}"
