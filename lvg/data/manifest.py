"""Dataset manifests: the committed list of sources, their licences and manual keep-intervals.

A manifest is YAML (or the reference's JSON ``{youtube_id: ["m:ss m:ss", ...]}``, converted by
:func:`manifest_from_youtube_json`). It is validated twice: by the JSON schema in
``workflow/schemas/manifest.schema.yaml`` (unknown keys, bad ids, missing fields) and by :func:`load_manifest`
(interval syntax, order, overlap). Every error names the file, the source and the problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lvg.errors import InputError
from lvg.schema import first_error, load_schema

KINDS = ("youtube", "url", "local", "synthetic")
_TIME_RE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")


@dataclass(frozen=True)
class Interval:
    """A keep-interval in seconds: a frame at time ``t`` is kept when ``start <= t < end``."""

    start: float
    end: float
    label: str  # the manifest text, e.g. "0:24 5:57"; names the clip directory

    @property
    def dirname(self) -> str:
        """Clip directory name as the reference writes it: ``0:24 5:57`` -> ``0_24-5_57``."""
        a, b = self.label.split()
        return f"{a.replace(':', '_')}-{b.replace(':', '_')}"

    def frames(self, fps: float) -> tuple[int, int]:
        """Half-open frame range ``[first, last)`` of the frames whose time lies in the interval."""
        eps = 1e-6  # frame times are i/fps; guard against 0.1+0.2 style rounding
        first = int(-(-(self.start * fps - eps) // 1))  # ceil
        last = int(-(-(self.end * fps - eps) // 1))
        return max(first, 0), max(last, 0)


ALL = Interval(0.0, float("inf"), "all")


@dataclass(frozen=True)
class Source:
    """One source video of a dataset."""

    id: str
    kind: str
    keep: tuple[Interval, ...]  # empty tuple means "all"
    licence: str
    url: str | None = None
    path: str | None = None
    sha256: str | None = None
    synthetic: dict[str, Any] | None = None
    uploader: str | None = None
    title: str | None = None

    @property
    def keep_all(self) -> bool:
        return not self.keep


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; ``sources`` keeps the file's order."""

    path: Path
    dataset: str
    licence: str
    attribution: str
    sources: dict[str, Source] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def parse_time(text: str) -> float:
    """``"m:ss"``, ``"h:mm:ss"`` with optional fractional seconds -> seconds. ValueError otherwise."""
    m = _TIME_RE.match(text.strip())
    if not m:
        raise ValueError(f"malformed time {text!r} (expected m:ss, h:mm:ss, optionally with .fraction)")
    h, mnt, s = m.groups()
    if float(s) >= 60:
        raise ValueError(f"malformed time {text!r}: seconds must be < 60")
    return int(h or 0) * 3600 + int(mnt) * 60 + float(s)


def format_time(seconds: float) -> str:
    """Inverse of :func:`parse_time` (milliseconds kept only when needed)."""
    ms = round(seconds * 1000)
    m, rest = divmod(ms, 60_000)
    s, frac = divmod(rest, 1000)
    return f"{m}:{s:02d}" + (f".{frac:03d}" if frac else "")


def parse_interval(text: str) -> Interval:
    """``"0:24 5:57"`` -> Interval(24, 357). ValueError on syntax, or end <= start."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"malformed interval {text!r} (expected 'START END', e.g. '0:24 5:57')")
    start, end = (parse_time(p) for p in parts)
    if end <= start:
        raise ValueError(f"interval {text!r} ends before it starts")
    return Interval(start, end, " ".join(parts))


def validate_manifest_dict(data: Any, path: str | Path) -> None:
    """Schema-validate ``data``; raise InputError naming the file, the source and the key."""
    validator = jsonschema.Draft202012Validator(load_schema("manifest"))
    errors = [e for e in validator.iter_errors(data) if "propertyNames" in e.schema_path]
    if errors:
        raise InputError(path, f"source id {errors[0].instance!r} is not allowed: ids become file names, "
                         "so use letters, digits, '_', '-', '.' and no path components")
    problem = first_error(validator, data)
    if problem:
        key, msg = problem
        entry = key[1] if len(key) >= 2 and key[0] == "sources" else None
        raise InputError(path, f"{'/'.join(key) or '(top level)'}: {msg}", entry)


def _check_kind_fields(path: Path, sid: str, entry: dict[str, Any]) -> None:
    kind = entry["kind"]
    need = {"url": "url", "local": "path", "synthetic": "synthetic"}.get(kind)
    if need and need not in entry:
        raise InputError(path, f"kind {kind!r} needs a {need!r} field", sid)
    if kind == "youtube" and "youtube_id" not in entry and not re.fullmatch(r"[A-Za-z0-9_-]{11}", sid):
        raise InputError(path, "malformed YouTube id: expected 11 characters of [A-Za-z0-9_-] "
                         "(or give youtube_id explicitly)", sid)
    if kind == "url" and not re.match(r"^(https?|file)://", entry["url"]):
        raise InputError(path, f"url {entry['url']!r} must start with http://, https:// or file://", sid)


def _parse_keep(path: Path, sid: str, keep: Any) -> tuple[Interval, ...]:
    if keep == "all":
        return ()
    intervals = []
    for text in keep:
        try:
            intervals.append(parse_interval(text))
        except ValueError as e:
            raise InputError(path, str(e), sid) from None
    ordered = sorted(intervals, key=lambda iv: iv.start)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            raise InputError(path, f"keep-intervals {a.label!r} and {b.label!r} overlap", sid)
    if len({iv.dirname for iv in intervals}) != len(intervals):
        raise InputError(path, "duplicate keep-interval", sid)
    return tuple(ordered)


def load_manifest(path: str | Path) -> Manifest:
    """Read, validate and normalise a manifest file (YAML or JSON)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest file not found")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise InputError(path, f"not valid YAML/JSON: {e}") from None
    validate_manifest_dict(data, path)
    sources: dict[str, Source] = {}
    for sid, entry in data["sources"].items():
        _check_kind_fields(path, sid, entry)
        sources[sid] = Source(
            id=sid,
            kind=entry["kind"],
            keep=_parse_keep(path, sid, entry["keep"]),
            licence=entry.get("licence", data["licence"]),
            url=entry.get("url"),
            path=entry.get("path"),
            sha256=entry.get("sha256"),
            synthetic=entry.get("synthetic"),
            uploader=entry.get("uploader"),
            title=entry.get("title"),
        )
        if sources[sid].kind == "youtube":
            yid = entry.get("youtube_id", sid)
            object.__setattr__(sources[sid], "url", f"https://www.youtube.com/watch?v={yid}")
    return Manifest(path, data["dataset"], data["licence"], data.get("attribution", ""), sources, data)


def load_dataset_manifest(dataset: str, root: str | Path | None = None) -> Manifest:
    """The manifest of ``dataset`` (``data/manifests/<dataset>.yaml``): the name checked first (it becomes
    paths under data/ and results/), and the file's ``dataset:`` must be that name, so no manifest can
    write another dataset's files."""
    from lvg import layout as L

    L.check_name("dataset", dataset)
    man = load_manifest(L.path(L.MANIFEST, root, dataset=dataset))
    if man.dataset != dataset:
        raise InputError(man.path, f"dataset: is {man.dataset!r}, but the file is the manifest of {dataset!r} "
                         "(the two must be equal)")
    return man


def resolve_local_path(source: Source) -> Path:
    """A ``local`` source's file: absolute (``~`` expanded), or relative to the project root, which is the
    working directory of every phase (Snakemake's workdir, where ``data/`` lives)."""
    assert source.path is not None
    p = Path(source.path).expanduser()
    return p if p.is_absolute() else Path.cwd() / p


def manifest_from_youtube_json(json_path: str | Path, dataset: str, licence: str, attribution: str,
                               description: str = "") -> dict[str, Any]:
    """Convert the reference's ``{youtube_id: ["m:ss m:ss", ...]}`` list into our manifest dict."""
    json_path = Path(json_path)
    with open(json_path, encoding="utf-8") as f:
        ref = json.load(f)
    sources = {yid: {"kind": "youtube", "keep": list(intervals)} for yid, intervals in ref.items()}
    out = {"dataset": dataset, "description": description, "licence": licence,
           "attribution": attribution, "origin": f"converted from {json_path.name}", "sources": sources}
    validate_manifest_dict(out, json_path)
    return out
