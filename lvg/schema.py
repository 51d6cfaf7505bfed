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
    if err.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(err.instance, dict):
        allowed = set(_properties(validator.schema, err.schema))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            return path + [extra[0]], f"unknown key (allowed: {', '.join(sorted(allowed))})"
    return path, err.message


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a local ``$ref`` (``#/$defs/name``) of ``node`` points to, or None."""
    ref = node.get("$ref")
    if not ref:
        return None
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return target


def _properties(root: dict[str, Any], node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every property ``node`` declares, its ``$ref`` chain's first; a key in both merges (node's wins)."""
    base = _resolve(root, node)
    props = dict(_properties(root, base)) if base is not None else {}
    for key, sub in node.get("properties", {}).items():
        props[key] = {**props.get(key, {}), **sub}
    return props


def schema_node(root: dict[str, Any], path: str) -> dict[str, Any]:
    """The subschema of dotted ``path`` (``"train_lowres"``, ``"baselines.tats"``), ``$ref``s followed."""
    node = root
    for key in path.split("."):
        props = _properties(root, node)
        if key in props:
            node = props[key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            raise KeyError(f"the config schema has no section {path!r}")
        node = _merged(root, node)
    return node


def _merged(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` target's keywords under its own (properties merged key by key)."""
    base = _resolve(root, node)
    if base is None:
        return node
    out = {**_merged(root, base), **{k: v for k, v in node.items() if k != "$ref"}}
    out["properties"] = _properties(root, node)
    return out


def declared_properties(root: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """Every key section ``path`` declares (shared ``$defs`` first), with its merged property schema."""
    return _properties(root, schema_node(root, path))
