"""The paper's super-resolution stage (spec model.md §6-7), one module per network part.

- :mod:`lvg.superres.conditioning`: 9-frame LR window -> per-layer conditioning (Kaiser resampling).
- :mod:`lvg.superres.generator`: the alias-free, per-frame SR generator, its config, presets and schedule.
- :mod:`lvg.superres.discriminator`: the LR+HR residual discriminator with LR conditioning dropout.
"""

from lvg.superres.conditioning import SRConditioning, stack_windows
from lvg.superres.discriminator import SRDiscriminator, SRDiscriminatorConfig
from lvg.superres.generator import SRGenerator, SRGeneratorConfig, count_parameters, layer_schedule

__all__ = [
    "SRConditioning",
    "SRDiscriminator",
    "SRDiscriminatorConfig",
    "SRGenerator",
    "SRGeneratorConfig",
    "count_parameters",
    "layer_schedule",
    "stack_windows",
]
