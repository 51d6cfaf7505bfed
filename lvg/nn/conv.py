"""Equalised-learning-rate convolutions with fixed [1,3,3,1] downsampling: the discriminators' layers.

All weights are stored N(0, 1) and scaled by ``1 / sqrt(fan_in)`` at run time (StyleGAN's equalised learning
rate), so Adam sees every layer at the same scale. Downsampling is the separable [1,3,3,1]/8 filter applied
*after* the conv and *before* bias/activation (the conv runs at full rate, the bias is added at the low
rate), as in the reference's discriminators. Used by the LR discriminator (:mod:`lvg.lowres.discriminator`)
and the baselines' discriminators.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Downsample3d", "EqualConv1d", "EqualConv3d", "EqualLinear", "bias_lrelu"]

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def bias_lrelu(x: Tensor, bias: Tensor | None, *, act: str, clamp: float | None, dim: int = 1) -> Tensor:
    """Add a per-channel bias, apply the activation, clamp.

    ``act="lrelu"`` is leaky ReLU (slope 0.2) times sqrt(2) (keeps unit variance for N(0,1) input);
    ``act="linear"`` is the identity with gain 1. The clamp is applied after the gain, as in the reference
    (``conv_clamp`` = 256 guards against fp16 overflow and is a no-op in practice for fp32).
    """
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + bias.to(x.dtype).reshape(shape)
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


class Downsample3d(nn.Module):
    """2x decimation with the fixed separable [1,3,3,1]/8 filter along the chosen axes of [N, C, T, H, W].

    Zero padding 1 on each side and stride 2 starting at sample 0, so a length L becomes L/2. The filter is
    symmetric, so convolution and correlation agree. Implemented as three depthwise 1-D passes (one
    conv3d per axis with a [4,1,1]-shaped kernel) on a [N*C, 1, T, H, W] view: no custom ops.
    """

    def __init__(self, *, space: bool, time: bool) -> None:
        super().__init__()
        self.space = space
        self.time = time
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
        self.register_buffer("taps", taps / taps.sum(), persistent=False)

    def _pass(self, x: Tensor, axis: int) -> Tensor:
        """Filter + decimate one axis (0 = T, 1 = H, 2 = W) of a [B, 1, T, H, W] tensor."""
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = 4
        stride = [1, 1, 1]
        stride[axis] = 2
        padding = [0, 0, 0]
        padding[axis] = 1
        weight = self.taps.to(x.dtype).reshape(shape)
        return F.conv3d(x, weight, stride=tuple(stride), padding=tuple(padding))

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        if self.space:
            assert h % 2 == 0 and w % 2 == 0, f"spatial downsampling needs even H, W, got {h}x{w}"
        if self.time:
            assert t % 2 == 0, f"temporal downsampling needs even T, got {t}"
        y = x.reshape(n * c, 1, t, h, w)
        if self.time:
            y = self._pass(y, 0)
        if self.space:
            y = self._pass(y, 1)
            y = self._pass(y, 2)
        return y.reshape(n, c, *y.shape[2:])

    def extra_repr(self) -> str:
        return f"space={self.space}, time={self.time}"


class EqualConv3d(nn.Module):
    """Equalised-lr 3-D conv -> optional [1,3,3,1] downsampling -> bias -> activation -> clamp.

    ``kernel`` is (kt, kh, kw); zero "same" padding (kt//2, kh//2, kw//2). The bias is applied after the
    downsampling, matching the reference's layer order (downsampling sits between conv and bias/act).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int],
        *,
        bias: bool = True,
        act: str = "lrelu",
        down_space: bool = False,
        down_time: bool = False,
        clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel = tuple(kernel)
        self.act = act
        self.clamp = clamp
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, *self.kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * math.prod(self.kernel))
        self.padding = tuple(k // 2 for k in self.kernel)
        self.down = Downsample3d(space=down_space, time=down_time) if (down_space or down_time) else None

    def forward(self, x: Tensor) -> Tensor:
        assert x.ndim == 5 and x.shape[1] == self.in_channels, (
            f"expected [N,{self.in_channels},T,H,W], got {tuple(x.shape)}"
        )
        w = self.weight * self.weight_gain
        x = F.conv3d(x, w.to(x.dtype), padding=self.padding)
        if self.down is not None:
            x = self.down(x)
        return bias_lrelu(x, self.bias, act=self.act, clamp=self.clamp)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel={self.kernel}, bias={self.bias is not None}, "
            f"act={self.act}, clamp={self.clamp}"
        )


class EqualConv1d(nn.Module):
    """Equalised-lr 1-D conv along time with zero "same" padding, bias and activation (no clamp)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, act: str = "lrelu") -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel = kernel
        self.act = act
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel)

    def forward(self, x: Tensor) -> Tensor:
        assert x.ndim == 3 and x.shape[1] == self.in_channels, (
            f"expected [N,{self.in_channels},T], got {tuple(x.shape)}"
        )
        x = F.conv1d(x, (self.weight * self.weight_gain).to(x.dtype), padding=self.kernel // 2)
        return bias_lrelu(x, self.bias, act=self.act, clamp=None)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel={self.kernel}, act={self.act}"


class EqualLinear(nn.Module):
    """Equalised-lr fully connected layer (weight / sqrt(fan_in), learning-rate multiplier 1)."""

    def __init__(self, in_features: int, out_features: int, *, act: str = "linear") -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.act = act
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = 1.0 / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        assert x.ndim == 2 and x.shape[1] == self.in_features, (
            f"expected [N,{self.in_features}], got {tuple(x.shape)}"
        )
        x = F.linear(x, (self.weight * self.weight_gain).to(x.dtype), self.bias.to(x.dtype))
        return bias_lrelu(x, None, act=self.act, clamp=None)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, act={self.act}"
