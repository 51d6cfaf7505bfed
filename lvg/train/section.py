"""What every training config section shares: strict construction from the validated dict, R1 laziness."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from lvg.errors import LvgError


class TrainSection:
    """Mixin for the frozen dataclass of one ``train_*`` config section (e.g. ``train_lowres``)."""

    SECTION: ClassVar[str]
    r1_interval: int
    r1_gamma: float

    @classmethod
    def from_dict(cls, section: dict[str, Any], name: str | None = None):
        """Build from the validated section; ``name`` (default ``SECTION``) labels errors."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing, unknown = names - set(section), set(section) - names
        if missing or unknown:
            raise LvgError(f"{name or cls.SECTION}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)} "
                           "(validate the config with lvg.config.validate_config first)")
        return cls(**section)

    @property
    def r1_enabled(self) -> bool:
        return self.r1_interval > 0 and self.r1_gamma > 0

    @property
    def lazy_c(self) -> float:
        """Lazy-regularisation correction ``interval / (interval + 1)`` for Adam (1 when R1 is off)."""
        return self.r1_interval / (self.r1_interval + 1) if self.r1_enabled else 1.0
