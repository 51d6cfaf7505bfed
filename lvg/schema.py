"""JSON-schema loading and readable errors, shared by the config and the manifests."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import yaml

from lvg.paths import SCHEMA_DIR


@cache
def load_schema(name: str) -> dict[str, Any]:
    """``workflow/schemas/<name>.schema.yaml`` as a dict (cached: read once per process)."""
    with open(SCHEMA_DIR / f"{name}.schema.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def first_error(validator: jsonschema.protocols.Validator, data: Any) -> tuple[list[str], str] | None:
    """The shallowest schema violation as (key path, message), or None when ``data`` is valid.

    Unknown keys are reported by their own name (``scenes.thresh: unknown key``) rather than
    jsonschema's generic sentence, because a typo is the commonest config error.
    """
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return None
    err = errors[0]
    path = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            return path + [extra[0]], f"unknown key (allowed: {', '.join(sorted(allowed))})"
    return path, err.message
