"""What every training config section shares: strict construction, R1 laziness, the loop schedule.

The fields themselves come from the schema (``$defs/training`` plus the section's own keys), through
:func:`lvg.config.section_class`: a key is declared once, in ``workflow/schemas/config.schema.yaml``.
"""

from __future__ import annotations

from lvg.config import Section
from lvg.train.loop import LoopConfig


class TrainSection(Section):
    """Mixin for the frozen dataclass of one training section (``train_lowres``, ``baselines.<method>``)."""

    r1_interval: int
    r1_gamma: float

    @property
    def r1_enabled(self) -> bool:
        return self.r1_interval > 0 and self.r1_gamma > 0

    @property
    def lazy_c(self) -> float:
        """Lazy-regularisation correction ``interval / (interval + 1)`` for Adam (1 when R1 is off)."""
        return self.r1_interval / (self.r1_interval + 1) if self.r1_enabled else 1.0

    def loop_config(self) -> LoopConfig:
        """The run's schedule (steps or budget, log, sample and checkpoint intervals) for
        :func:`lvg.train.loop.train`."""
        return LoopConfig(steps=self.steps, budget_s=self.budget_s, log_every=self.log_every,
                          sample_every=self.sample_every,
                          checkpoint_every=self.checkpoint_every, keep_checkpoints=self.keep_checkpoints)
