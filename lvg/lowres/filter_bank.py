"""Temporal filter bank: white noise -> smooth multi-timescale temporal embedding (paper Sec. 3.1).

LongVideoGAN has no global latent: all randomness is white noise along time, blurred by a bank of low-pass
filters whose footprints span 125 to 5000 frames (the reference's ``BlurredNoise``). Short filters give fast
variation (motion), long ones slow drift (scene content). The embedding channel ``c * F + b`` is noise
channel ``c`` filtered by filter ``b`` (noise-channel major), so ``C`` noise channels give ``C * F`` channels.

Design of filter ``i`` (of ``F``): "sampling rate" ``fs_i`` log2-spaced over ``[2 * min_footprint,
2 * max_footprint]``, ``ceil(fs_i / 2)`` taps (the footprint), ``scipy.signal.firwin`` with cutoff 2 and
transition width 12 at ``fs_i`` (a Kaiser window: a positive, bell-shaped kernel whose cutoff period equals
the footprint), scaled to unit L2 norm so every embedding channel has unit variance.

All filters are right-aligned in one ``max_footprint``-tap buffer and applied as a valid cross-correlation,
so output frame ``t`` depends on noise samples ``t .. t + K - 1`` (``K = max_footprint``): every filter's
window ends on the same noise sample. This is causal-like (short filters are centred later than long ones),
exactly as in the reference.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def filter_sampling_rates(num_filters: int, min_footprint: float, max_footprint: float) -> np.ndarray:
    """Log2-spaced sampling rates ``2 * footprint`` (float64), clipped to the range like the reference."""
    lo, hi = 2.0 * min_footprint, 2.0 * max_footprint
    rates = 2.0 ** np.linspace(np.log2(lo), np.log2(hi), num_filters)
    return np.clip(rates, lo, hi)


def design_filter_bank(num_filters: int = 128, min_footprint: float = 125, max_footprint: float = 5000,
                       cutoff: float = 2.0, width: float = 12.0) -> tuple[Tensor, Tensor]:
    """Design the bank: returns ``(filters [F, K] float32 right-aligned, scale [F] = 1 / ||filter||_2)``.

    Taps are designed in float64 by ``firwin`` (DC gain 1), cast to float32, then written into the last
    ``num_taps[i]`` entries of row ``i`` of a zero buffer with ``K = ceil(max_footprint)`` columns.
    Designs are cached (the paper bank takes about a second); callers get fresh copies.
    """
    filters, scale = _design_cached(num_filters, float(min_footprint), float(max_footprint), cutoff, width)
    return filters.clone(), scale.clone()


@lru_cache(maxsize=8)
def _design_cached(num_filters: int, min_footprint: float, max_footprint: float, cutoff: float,
                   width: float) -> tuple[Tensor, Tensor]:
    import scipy.signal

    rates = filter_sampling_rates(num_filters, min_footprint, max_footprint)
    kernel_size = math.ceil(max_footprint)
    filters = torch.zeros(num_filters, kernel_size, dtype=torch.float32, device="cpu")
    for i, fs in enumerate(rates):
        num_taps = math.ceil(fs / 2.0)
        taps = scipy.signal.firwin(num_taps, cutoff=cutoff, width=width, fs=fs)
        filters[i, kernel_size - num_taps:] = torch.from_numpy(taps).float()
    scale = filters.square().sum(dim=1).rsqrt()
    return filters, scale


#: Filter buffers this long or longer are applied by FFT (direct convolution below it).
FFT_MIN_TAPS = 256


def fft_correlate_valid(x: Tensor, filters: Tensor) -> Tensor:
    """Valid cross-correlation of every row of ``x [B, L]`` with every filter ``[F, K]``: ``[B, F, L - K + 1]``.

    ``y[b, f, t] = sum_k x[b, t + k] * filters[f, k]``, as ``F.conv1d`` computes it. An FFT of length
    ``>= L`` suffices: the valid outputs never wrap around.
    """
    length, k = x.shape[-1], filters.shape[-1]
    size = scipy.fft.next_fast_len(length, real=True)
    spectrum = torch.fft.rfft(x, size)[:, None] * torch.fft.rfft(filters, size).conj()[None]
    return torch.fft.irfft(spectrum, size)[..., :length - k + 1]


class FilterBank(nn.Module):
    """White noise ``[N, C, T + K - 1]`` -> temporal embedding ``[N, C * F, T]`` (valid convolution).

    The filters are deterministic functions of the constructor arguments, so they are non-persistent buffers
    (not in the state dict). Autocast is disabled: sums over thousands of taps are not safe in bf16. Buffers
    of at least :data:`FFT_MIN_TAPS` taps are applied by FFT: a direct convolution costs ``K``
    multiply-adds per output sample, which at the CPU default's 16,384 taps was half of the tiny
    generator's forward pass (``benchmarks/bench_filter_bank.py``). The FFT is also the more accurate sum
    (float32: ~5e-7 relative to float64, the direct float32 sum ~5e-6). Both run in float32 (float64 for
    float64 noise).
    """

    def __init__(self, noise_channels: int = 8, num_filters: int = 128, min_footprint: float = 125,
                 max_footprint: float = 5000, cutoff: float = 2.0, width: float = 12.0) -> None:
        super().__init__()
        self.noise_channels, self.num_filters = noise_channels, num_filters
        self.min_footprint, self.max_footprint = min_footprint, max_footprint
        filters, scale = design_filter_bank(num_filters, min_footprint, max_footprint, cutoff, width)
        device = torch.empty(0).device  # honour an enclosing ``with torch.device(...)``
        filters, scale = filters.to(device), scale.to(device)
        self.kernel_size = filters.shape[1]
        self.register_buffer("filters", filters, persistent=False)
        self.register_buffer("scale", scale, persistent=False)

    @property
    def out_channels(self) -> int:
        return self.noise_channels * self.num_filters

    def noise_length(self, num_frames: int) -> int:
        """Noise samples needed for ``num_frames`` embedding frames."""
        return num_frames + self.kernel_size - 1

    def forward(self, noise: Tensor) -> Tensor:
        n, c, length = noise.shape
        assert c == self.noise_channels and length >= self.kernel_size, (tuple(noise.shape), self.kernel_size)
        dtype = torch.promote_types(noise.dtype, torch.float32)  # float32, or float64 if given
        with torch.autocast(device_type=noise.device.type, enabled=False):
            x, filters = noise.to(dtype).reshape(n * c, length), self.filters.to(dtype)
            if self.kernel_size >= FFT_MIN_TAPS:
                y = fft_correlate_valid(x, filters)  # [N*C, F, T]
            else:
                y = F.conv1d(x.unsqueeze(1), filters.unsqueeze(1))
            y = y * self.scale.to(dtype)[:, None]
        return y.reshape(n, c * self.num_filters, length - self.kernel_size + 1)

    def extra_repr(self) -> str:
        return (f"noise_channels={self.noise_channels}, num_filters={self.num_filters}, "
                f"footprint={self.min_footprint}..{self.max_footprint}")
