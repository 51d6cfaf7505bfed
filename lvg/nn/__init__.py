"""Shared neural-network building blocks (pure PyTorch, no custom CUDA ops).

- :mod:`lvg.nn.layers`: equalised-learning-rate layers, activations, magnitude EMA input gains and the
  per-frame modulated 3D convolution.
- :mod:`lvg.nn.conv`: the discriminators' equalised-lr convolutions with [1,3,3,1] downsampling.
- :mod:`lvg.nn.resample`: fixed-filter resampling (linear x2 upsampling, Kaiser decimation, separable
  [1,3,3,1] downsampling) and centre crops.
- :mod:`lvg.nn.filtered`: alias-free filtered leaky ReLU and upfirdn2d (the SR network's layers).
- :mod:`lvg.nn.presets`: named presets for the baselines' config dataclasses.
"""

from lvg.nn.layers import (
    FullyConnected,
    MagnitudeEMA,
    ModulatedConv3d,
    bias_act,
    lrelu,
    modulated_conv3d,
    set_magnitude_ema_beta,
)
from lvg.nn.resample import (
    center_crop,
    center_crop_space,
    downsample2x,
    fir_filter_along,
    kaiser_downsample2x,
    kaiser_lowpass_taps,
    upsample2x_linear,
    upsample2x_space,
    upsample2x_time,
)

__all__ = [
    "FullyConnected",
    "MagnitudeEMA",
    "ModulatedConv3d",
    "bias_act",
    "center_crop",
    "center_crop_space",
    "downsample2x",
    "fir_filter_along",
    "kaiser_downsample2x",
    "kaiser_lowpass_taps",
    "lrelu",
    "modulated_conv3d",
    "set_magnitude_ema_beta",
    "upsample2x_linear",
    "upsample2x_space",
    "upsample2x_time",
]
