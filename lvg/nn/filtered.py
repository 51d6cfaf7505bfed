"""Separable FIR up/down-sampling of images and the alias-suppressing "filtered leaky ReLU", in pure PyTorch.

These are the 2D signal-processing primitives of alias-free (StyleGAN3-style) synthesis layers, written from
their mathematical definitions (no custom CUDA ops):

* :func:`upfirdn2d`: upsample by zero insertion, pad (negative = crop), convolve with a separable FIR
  filter, keep every ``down``-th sample. Sample ``k`` of the input lands on sample ``up * k`` of the
  zero-inserted signal (followed by ``up - 1`` zeros); the filter is applied as a *true* convolution.
  Upsampling is computed as a strided transposed convolution (the polyphase form: no multiplications by the
  inserted zeros), downsampling as a strided convolution.
* :func:`filtered_lrelu`: ``bias -> upsample (gain up^2) -> leaky ReLU x gain, clamp -> low-pass + decimate``.
  The nonlinearity runs at a higher sampling rate, where the harmonics it creates fit below the new
  Nyquist frequency, and the low-pass removes them before returning to the output rate.
* :func:`design_lowpass_filter`: Kaiser-window low-pass taps (``scipy.signal.firwin`` with a transition
  width), or ``None`` for a single tap (identity).

Images are ``[N, C, H, W]``; paddings are ``(x0, x1, y0, y1)`` (width first), as in upfirdn conventions.
Filters are 1D tensors applied along both axes (separable), or ``None`` for the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lvg.nn.resample import kaiser_lowpass_taps

__all__ = ["design_lowpass_filter", "filtered_lrelu", "upfirdn2d", "upfirdn2d_output_size"]


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float) -> Tensor | None:
    """Kaiser-window low-pass FIR of ``numtaps`` taps (float64 design, float32 result); ``None`` if 1 tap."""
    if numtaps == 1:
        return None
    return kaiser_lowpass_taps(int(numtaps), float(cutoff), float(width), float(fs))


def _pad4(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return (padding,) * 4
    p = tuple(int(v) for v in padding)
    if len(p) == 2:
        return (p[0], p[0], p[1], p[1])
    if len(p) != 4:
        raise ValueError(f"padding must have 1, 2 or 4 entries, got {padding!r}")
    return p  # type: ignore[return-value]


def upfirdn2d_output_size(size: int, taps: int, up: int, down: int, pad0: int, pad1: int) -> int:
    """Length along one axis after :func:`upfirdn2d`: ``(size*up + pad0 + pad1 - taps + 1 + down - 1) // down``."""
    return (size * up + pad0 + pad1 - taps + down) // down


def _every(x: Tensor, axis: int, step: int) -> Tensor:
    """Keep samples ``0, step, 2*step, ...`` of ``axis`` (2 or 3)."""
    if step == 1:
        return x
    return x[:, :, ::step] if axis == 2 else x[:, :, :, ::step]


def _upfirdn_axis(x: Tensor, f: Tensor | None, axis: int, up: int, down: int, pad0: int, pad1: int,
                  gain: float) -> Tensor:
    """upfirdn along ``axis`` (2 = H, 3 = W) of a ``[B, 1, H, W]`` tensor."""
    n = x.shape[axis]
    lo, hi = (2, 3) if axis == 2 else (0, 1)  # F.pad order: (W0, W1, H0, H1)
    pads = [0, 0, 0, 0]
    if f is None and gain == 1.0 and up == 1:
        pads[lo], pads[hi] = pad0, pad1
        return _every(F.pad(x, pads) if any(pads) else x, axis, down)
    if f is None:
        f = torch.ones(1, dtype=torch.float32, device=x.device)
    taps = f.numel()
    kshape = [1, 1, 1, 1]
    kshape[axis] = taps
    stride = [1, 1]
    if up > 1:
        # Polyphase: conv_transpose(x, f, stride=up)[q] = sum_i x[i] f[q - up*i] is the full true convolution
        # of the zero-inserted signal, of length (n - 1) * up + taps. upfirdn's output sample m is
        # full[m + taps - 1 - pad0] (zero outside), and there are n * up + pad0 + pad1 - taps + 1 of them.
        stride[axis - 2] = up
        kernel = (f * gain).to(device=x.device, dtype=x.dtype).reshape(kshape)
        full = F.conv_transpose2d(x, kernel, stride=tuple(stride))
        pads[lo] = pad0 - (taps - 1)
        pads[hi] = n * up + pad1 - ((n - 1) * up + taps)
        return _every(F.pad(full, pads) if any(pads) else full, axis, down)  # negative pads crop
    # No upsampling: pad (or crop), then correlate with the flipped filter (= true convolution), strided.
    pads[lo], pads[hi] = pad0, pad1
    xp = F.pad(x, pads) if any(pads) else x
    stride[axis - 2] = down
    kernel = (f.flip(0) * gain).to(device=x.device, dtype=x.dtype).reshape(kshape)
    return F.conv2d(xp, kernel, stride=tuple(stride))


def upfirdn2d(x: Tensor, f: Tensor | None, *, up: int = 1, down: int = 1,
              padding: int | Sequence[int] = 0, gain: float = 1.0) -> Tensor:
    """Upsample, pad, FIR-filter (separable 1D ``f``, true convolution) and downsample ``[N, C, H, W]``.

    ``padding`` is ``(x0, x1, y0, y1)`` (or one int / ``(x, y)``), applied after zero insertion; negative
    values crop. ``gain`` is the total 2D gain: each axis's filter is scaled by ``sqrt(gain)`` (so an upsampler
    passes ``gain=up**2`` to keep DC). ``f=None`` means the one-tap identity filter. Each channel is filtered
    independently; the output has ``upfirdn2d_output_size`` samples per axis.
    """
    assert x.ndim == 4, tuple(x.shape)
    if f is not None:
        assert f.ndim == 1, "only separable (1D) filters are supported"
    px0, px1, py0, py1 = _pad4(padding)
    n, c, h, w = x.shape
    axis_gain = gain ** 0.5
    y = x.reshape(n * c, 1, h, w)
    y = _upfirdn_axis(y, f, 2, up, down, py0, py1, axis_gain)
    y = _upfirdn_axis(y, f, 3, up, down, px0, px1, axis_gain)
    return y.reshape(n, c, y.shape[2], y.shape[3])


def filtered_lrelu(x: Tensor, fu: Tensor | None, fd: Tensor | None, b: Tensor | None = None, *, up: int = 1,
                   down: int = 1, padding: int | Sequence[int] = 0, gain: float = 2.0 ** 0.5,
                   slope: float = 0.2, clamp: float | None = None) -> Tensor:
    """Bias, upsample with ``fu`` (gain ``up**2``, with ``padding``), leaky ReLU x ``gain``, clamp, then
    low-pass with ``fd`` and decimate by ``down``.

    ``slope=1, gain=1`` makes it a linear (bias + resample + clamp) layer, as a ToRGB layer uses it. The bias is
    added before padding, so padded samples stay zero (not bias) before the nonlinearity.
    """
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2)
    if slope != 1.0:
        x = F.leaky_relu(x, slope)
    if gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)
