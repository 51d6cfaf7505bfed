"""The one configuration: ``params.yaml`` (Snakemake configfile and DVC params), validated by a schema.

Presets are YAML files that override it key by key (:func:`load_config` merges them in order). Validation
fills schema defaults and reports the first problem as ``<file>: <dotted.key>: <what is wrong>``.

**Each key is declared once**, in ``workflow/schemas/config.schema.yaml`` (type, bounds, default,
description); ``params.yaml`` gives its value. Code reads a section through a frozen dataclass *built from
the schema* (:func:`section_class`), so adding a key never means editing a field list. The keys shared by
every training section are declared once too (``$defs/training``), and a section reaches them by ``$ref``.

Phases receive exactly their section (:func:`validate_section`): Snakemake rules pass it as a ``params:``
entry, the CLI cuts it out of a loaded config, and each entry point validates what it got, so an override
applied to one section (a Table 2 ablation) is checked against the same schema before anything runs.
"""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import yaml

from lvg.errors import InputError, LvgError
from lvg.io import atomic_open
from lvg.paths import REPO_ROOT
from lvg.schema import declared_properties, first_error, load_schema, schema_node

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


def _validate(schema: dict[str, Any], data: Any, source: str | Path, prefix: list[str],
              coerce_strings: bool) -> None:
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    if coerce_strings:
        _coerce_strings(validator, data)
    problem = first_error(validator, data)
    if problem:
        key, msg = problem
        raise InputError(source, f"{'.'.join(prefix + key) or '(top level)'}: {msg}")


def _coerce_strings(validator: jsonschema.protocols.Validator, data: Any) -> None:
    """Re-read as YAML every string the schema rejects for its type (``"128"`` -> 128, ``"null"`` -> None).

    Snakemake's ``--config key='{sub: 128}'`` parses nested values with YAML's BaseLoader, which keeps every
    scalar a string; the same text in a YAML file would be typed. A string that is valid where it stands is
    left alone.
    """
    for _ in range(100):  # each pass fixes the errors it finds; nested fixes can reveal more
        changed = False
        for err in validator.iter_errors(data):
            if err.validator != "type" or not isinstance(err.instance, str) or not err.absolute_path:
                continue
            *parent_path, key = list(err.absolute_path)
            parent = data
            for k in parent_path:
                parent = parent[k]
            try:
                value = yaml.safe_load(err.instance)
            except yaml.YAMLError:
                continue
            if not isinstance(value, str) and parent[key] == err.instance:
                parent[key] = value
                changed = True
        if not changed:
            return


def validate_config(config: dict[str, Any], source: str | Path = "params.yaml", *,
                    coerce_strings: bool = False) -> dict[str, Any]:
    """Validate in place (filling defaults) and return ``config``; InputError names the bad key.

    ``coerce_strings`` re-types strings from Snakemake's ``--config`` (see :func:`_coerce_strings`).
    """
    _validate(load_schema("config"), config, source, [], coerce_strings)
    _check_baselines(config.get("baselines") or {}, source)
    return apply_compute_budget(config)


def apply_compute_budget(config: dict[str, Any]) -> dict[str, Any]:
    """Spread ``compute.budget_s`` over the compared methods' training sections, in place: ours' LR and SR
    stages share it (``superres_share``), each baseline gets all of it (its own stages split it, see
    ``stage_split``). A section whose ``budget_s`` is set keeps it; without a budget nothing changes."""
    compute = config.get("compute") or {}
    budget = compute.get("budget_s")
    if budget is None:
        return config
    share = float(compute.get("superres_share", 0.25))
    targets = [(config.get("train_lowres"), budget * (1 - share)), (config.get("train_superres"), budget * share)]
    targets += [(section, budget) for section in (config.get("baselines") or {}).values()]
    for section, value in targets:
        if isinstance(section, dict) and section.get("budget_s") is None:
            section["budget_s"] = round(float(value), 3)
    return config


def _check_baselines(sections: dict[str, Any], source: str | Path) -> None:
    from lvg.baselines import METHODS  # a tuple of names: no network code is imported

    unknown = sorted(set(sections) - set(METHODS))
    if unknown:
        raise InputError(source, f"baselines.{unknown[0]}: unknown baseline (known: {', '.join(METHODS)})")


def validate_section(path: str, section: dict[str, Any], source: str | Path = "config") -> dict[str, Any]:
    """Validate one section (``"train_lowres"``, ``"baselines.tats"``, ...) in place, filling its defaults.

    Errors name the full key (``baselines.tats.learning_rate: unknown key``), as for a whole config.
    """
    root = load_schema("config")
    _validate({**schema_node(root, path), "$defs": root.get("$defs", {})}, section, source, path.split("."),
              coerce_strings=False)
    return section


class Section:
    """Mixin for a section dataclass (:func:`section_class`): strict construction from the validated dict."""

    SECTION: ClassVar[str]

    @classmethod
    def from_dict(cls, section: dict[str, Any], name: str | None = None):
        """Build from a validated section (every key present); ``name`` (default ``SECTION``) labels errors."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing, unknown = names - set(section), set(section) - names
        if missing or unknown:
            raise LvgError(f"{name or cls.SECTION}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)} "
                           "(validate the section with lvg.config.validate_section first)")
        return cls(**section)


@cache
def section_class(path: str, name: str, *bases: type) -> type:
    """A frozen dataclass whose fields are the keys the schema declares for section ``path``.

    Subclass it to add methods (``class LowResTrainConfig(section_class("train_lowres", ...)):``); build
    instances from a validated section (every key present). The schema stays the one declaration.
    """
    props = declared_properties(load_schema("config"), path)
    fields = [(key, _PY_TYPES.get(str(prop.get("type")), Any)) for key, prop in props.items()]
    return dataclasses.make_dataclass(name, fields, bases=bases, frozen=True)


_PY_TYPES: dict[str, Any] = {"integer": int, "number": float, "boolean": bool, "string": str, "object": dict,
                             "array": list}


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


def section_of(config: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of section ``path`` (dotted) of a validated config: what a phase entry point takes."""
    node: Any = config
    for key in path.split("."):
        node = node[key]
    return copy.deepcopy(node)


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
