"""The paper's low-resolution stage, one module per part.

- :mod:`lvg.lowres.filter_bank`: white noise -> multi-timescale temporal embedding.
- :mod:`lvg.lowres.mapping`: per-frame mapping network (embedding -> w).
- :mod:`lvg.lowres.synthesis`: space-time residual block, ToRGB, length bookkeeping, w schedule.
- :mod:`lvg.lowres.generator`: the full generator, its config and presets, counter-based noise.
- :mod:`lvg.lowres.discriminator`: the LR video discriminator.
"""

from lvg.lowres.generator import GeneratorConfig, VideoGenerator

__all__ = ["GeneratorConfig", "VideoGenerator"]
