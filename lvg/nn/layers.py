"""Equalised-learning-rate layers, activations, magnitude EMA gains and per-frame modulated convolution.

Conventions shared by every module here (they follow StyleGAN2/3 and LongVideoGAN):

* **Equalised learning rate.** Weights are stored as ``randn / lr_mul`` and multiplied at run time by
  ``lr_mul / sqrt(fan_in)``; biases are stored divided by ``lr_mul`` and multiplied by it at run time. Adam
  then sees parameters of unit scale, so every layer learns at the same speed; ``lr_mul`` < 1 slows a layer
  down (the mapping network uses 0.01).
* **lrelu** means leaky ReLU with slope 0.2 followed by a gain of sqrt(2) (which keeps the second moment of
  a unit Gaussian input), then an optional clamp to ``[-clamp, clamp]``.
* Videos are ``[N, C, T, H, W]``; per-frame vectors (styles, latents) are ``[N, C, T]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT2 = math.sqrt(2.0)
SQRT_HALF = math.sqrt(0.5)


def can_overwrite(x: Tensor) -> bool:
    """True when ``x`` may be modified in place: autograd is not recording it.

    Inference overwrites its own temporaries instead of allocating new ones: a fresh large tensor costs page
    faults on every call (on the 2-core CI machine an out-of-place multiply of a 268 MB tensor takes 0.14 s,
    the same multiply in place 0.011 s). The in-place ops are the same ops in the same order, so results are
    bit-identical to the out-of-place path.
    """
    return not (torch.is_grad_enabled() and x.requires_grad)


def lrelu(x: Tensor, *, slope: float = 0.2, gain: float = SQRT2, clamp: float | None = None,
          inplace: bool = False) -> Tensor:
    """Leaky ReLU times ``gain``, then clamped to ``[-clamp, clamp]`` (the clamp guards fp16/bf16 range).

    ``inplace=True`` lets the function overwrite ``x`` (a caller's own temporary) when autograd allows it.
    """
    if inplace and can_overwrite(x):
        x = F.leaky_relu_(x, slope).mul_(gain)
        return x.clamp_(-clamp, clamp) if clamp is not None else x
    x = F.leaky_relu(x, slope) * gain
    return x.clamp(-clamp, clamp) if clamp is not None else x


def bias_act(x: Tensor, bias: Tensor | None, *, act: str = "linear", clamp: float | None = None,
             dim: int = 1, inplace: bool = False) -> Tensor:
    """Add ``bias`` along ``dim``, apply ``act`` ('linear' or 'lrelu'), then clamp (SG3's bias_act order).

    ``inplace=True``: ``x`` is the caller's temporary and may be overwritten (see :func:`can_overwrite`).
    """
    inplace = inplace and can_overwrite(x)
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        b = bias.to(x.dtype).reshape(shape)
        x = x.add_(b) if inplace else x + b
    if act == "lrelu":
        return lrelu(x, clamp=clamp, inplace=inplace)
    if act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    if clamp is None:
        return x
    return x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)


class FullyConnected(nn.Module):
    """Equalised-learning-rate linear layer acting on the last dimension.

    ``bias_init`` is the *effective* initial bias (the stored value is ``bias_init / lr_mul``). Style affines
    use ``bias_init=1`` so that styles start around 1 and modulation starts as the identity.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: str = "linear") -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.lr_mul, self.activation = lr_mul, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full([out_features], bias_init / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        assert x.shape[-1] == self.in_features, (tuple(x.shape), self.in_features)
        b = self.bias * self.lr_mul if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, b)
        return bias_act(x, None, act=self.activation)

    def forward_frames(self, x: Tensor) -> Tensor:
        """Apply the layer frame-wise to ``[N, C, T]`` sequences, returning ``[N, out_features, T]``."""
        assert x.ndim == 3, tuple(x.shape)
        return self(x.transpose(1, 2)).transpose(1, 2)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, lr_mul={self.lr_mul}, act={self.activation}"


class MagnitudeEMA(nn.Module):
    """Input gain ``1 / sqrt(EMA of mean(x^2))``: keeps activations near unit scale without normalising.

    Unlike a normalisation layer the gain is a buffer, frozen by default, so the generator stays a fixed
    function of its noise (fully convolutional, window independent). The EMA only moves when a caller asks
    (``update=True``; LongVideoGAN does so in the G forward of the discriminator step) and is updated *before*
    it is used in that call. Under ``torch.distributed`` the batch statistic is averaged over ranks so every
    replica keeps the same buffer.
    """

    def __init__(self, beta: float = 0.999) -> None:
        super().__init__()
        self.beta = beta
        self.register_buffer("magnitude_ema", torch.ones([]))

    def forward(self, x: Tensor, update: bool = False) -> Tensor:
        if update and self.beta < 1.0:
            self._update(x)
        return x * self.magnitude_ema.rsqrt().to(x.dtype)

    @torch.no_grad()
    def _update(self, x: Tensor) -> None:
        magnitude = x.detach().float().square().mean()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(magnitude)
            magnitude /= torch.distributed.get_world_size()
        self.magnitude_ema.lerp_(magnitude.to(self.magnitude_ema.dtype), 1.0 - self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def set_magnitude_ema_beta(module: nn.Module, beta: float) -> None:
    """Set the EMA decay of every :class:`MagnitudeEMA` inside ``module`` (e.g. for a warm-up or a test)."""
    for m in module.modules():
        if isinstance(m, MagnitudeEMA):
            m.beta = beta


STYLE_NORMS = ("none", "clip")


def modulated_conv3d(x: Tensor, weight: Tensor, styles: Tensor, *, demodulate: bool = True,
                     style_norm: str = "none", eps: float = 1e-8) -> Tensor:
    """3D convolution whose input channels are scaled by a style that differs per frame.

    Because the style changes from frame to frame, the modulation is applied to the *activations*
    (``x * s[n, i, t]``) rather than folded into a per-sample weight, and a single ordinary ``conv3d`` with
    zero "same" padding follows. Demodulation then normalises each output channel of frame ``t`` with the
    style of that output frame only: ``d[n, o, t] = rsqrt(sum_{i,k} w[o,i,k]^2 s[n,i,t]^2 + eps)``.

    With ``demodulate`` the weight (per output channel) and the styles are first divided by their max-abs
    value (the weight always, per output channel; the styles depending on ``style_norm``). This keeps
    reduced-precision intermediates in range and cancels out in the demodulation except through ``eps``:
    the result is ``conv(x * s) * rsqrt(sum w^2 s^2 + eps * c^2)`` with ``c`` the style normaliser.

    * ``"clip"``: ``c`` = max-abs per sample over channels *and time*, as the reference does. Through ``eps``
      every frame then depends (weakly, ~1e-6 relative) on every other frame of the window, so outputs are
      not exactly window independent.
    * ``"none"`` (default): ``c = 1``. Each output frame is a function of its own receptive field only,
      which exact random-access generation needs; it differs from ``"clip"`` by ~1e-6 relative. (A per-frame
      ``c`` would not do: the temporal kernel mixes frames, so only a constant ``c`` cancels.) bf16 has
      float32's range, so skipping this normalisation is safe under autocast.

    Without ``demodulate`` this is a plain style-scaled conv with fan-in gain (ToRGB).

    Args:
        x: ``[N, C_in, T, H, W]`` activations.
        weight: ``[C_out, C_in, kt, kh, kw]`` raw weight (fan-in gain applied here).
        styles: ``[N, C_in, T]`` per-frame styles.
    """
    n, c_in, t = x.shape[:3]
    c_out, _, kt, kh, kw = weight.shape
    assert weight.shape[1] == c_in and styles.shape == (n, c_in, t), (x.shape, weight.shape, styles.shape)
    if style_norm not in STYLE_NORMS:
        raise ValueError(f"style_norm must be one of {STYLE_NORMS}, got {style_norm!r}")
    dtype = torch.promote_types(weight.dtype, torch.float32)  # normalise in >= float32 even under autocast
    w = weight.to(dtype)
    s = styles.to(dtype)
    if demodulate:
        w = w / w.abs().amax(dim=(1, 2, 3, 4), keepdim=True)
        if style_norm == "clip":
            s = s / s.abs().amax(dim=(1, 2), keepdim=True)
    w = w / math.sqrt(c_in * kt * kh * kw)
    y = F.conv3d(x * s[..., None, None].to(x.dtype), w.to(x.dtype), padding=(kt // 2, kh // 2, kw // 2))
    if demodulate:
        d = torch.einsum("oi,nit->not", w.square().sum(dim=(2, 3, 4)), s.square()).add(eps).rsqrt()
        d = d[..., None, None].to(y.dtype)
        y = y.mul_(d) if can_overwrite(y) else y * d  # y is this function's own temporary
    return y


class ModulatedConv3d(nn.Module):
    """Per-frame modulated 3D convolution with its own style affine (``w -> styles``, bias init 1).

    No bias or activation: callers add them where the architecture wants (the LR synthesis block adds its
    second bias only after upsampling). See :func:`modulated_conv3d` for ``style_norm``.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int,
                 kernel_size: tuple[int, int, int], *, demodulate: bool = True, style_norm: str = "none") -> None:
        super().__init__()
        if style_norm not in STYLE_NORMS:
            raise ValueError(f"style_norm must be one of {STYLE_NORMS}, got {style_norm!r}")
        self.in_channels, self.out_channels, self.demodulate = in_channels, out_channels, demodulate
        self.style_norm = style_norm
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, *kernel_size))

    def styles(self, w: Tensor) -> Tensor:
        """Per-frame styles ``[N, C_in, T]`` from per-frame latents ``[N, w_dim, T]``."""
        return self.affine.forward_frames(w)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        assert w.shape[0] == x.shape[0] and w.shape[2] == x.shape[2], (tuple(x.shape), tuple(w.shape))
        return modulated_conv3d(x, self.weight, self.styles(w), demodulate=self.demodulate,
                                style_norm=self.style_norm)

    def extra_repr(self) -> str:
        k = tuple(self.weight.shape[2:])
        return (f"{self.in_channels} -> {self.out_channels}, kernel={k}, demodulate={self.demodulate}, "
                f"style_norm={self.style_norm}")
