"""Named presets for frozen config dataclasses (the baselines' networks): validation and a JSON-ready round trip."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


class PresetConfig:
    """Mixin for a frozen config dataclass: ``PRESETS`` maps a preset name to its field overrides.

    ``preset(name, **overrides)`` builds and validates (``ValueError`` names a bad preset or field);
    ``to_dict`` / ``from_dict`` are what export JSON stores and reads back.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}}

    @classmethod
    def preset(cls, name: str, **overrides: Any):
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {sorted(cls.PRESETS)}")
        cfg = cls(**(cls.PRESETS[name] | overrides))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ValueError for inconsistent fields (nothing to check by default)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        return cls(**d)
