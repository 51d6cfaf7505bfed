"""The super-resolution generator (paper Sec. 3.2; spec model.md §6): LR video + z -> HR video.

An alias-free (StyleGAN3 "config T") synthesis network without Fourier features, conditioned on the LR video:
every HR frame is synthesised on its own from the 9-frame LR window around it and a per-video latent, so the
network has no temporal layers and a clip of any length can be processed in overlapping chunks.

Layer schedule (all derived from the config, :func:`layer_schedule`): with ``L = num_layers`` and
``e_i = min(i / (L - num_critical), 1)`` for ``i = 0 .. L``,

* cutoff ``f_c,i = first_cutoff * (R / 2 / first_cutoff) ** e_i`` (``R = max(H, W)``, the image resolution);
* stopband ``f_t,i = first_stopband * (R / 2 * last_stopband_rel / first_stopband) ** e_i``;
* sampling rate ``s_i = 2 ** ceil(log2(min(2 f_t,i, R)))``; transition half-width
  ``max(f_t,i, s_i / 2) - f_c,i``;
* size: ``s_i * W / R + 2 margin`` by ``s_i * H / R + 2 margin``, except the last two layers (exactly ``H x W``);
* channels ``rint(min(channel_base / 2 / f_c,i, channel_max))``; the last layer (ToRGB) has 3.

Layer ``i`` maps the grid of layer ``i - 1`` (layer 0: its own) to its own. Its input is the previous
features **followed by** the 27 conditioning channels resampled to the input grid (layer 0: conditioning
alone). Each layer: magnitude-EMA input gain -> modulated 3x3 conv with full padding (``k - 1``) ->
:func:`~lvg.nn.filtered.filtered_lrelu` (bias, upsample to ``2 * max(s_in, s_out)`` with a Kaiser filter of
``6 * up`` taps designed for the input cutoff, leaky ReLU, Kaiser low-pass for the output cutoff and
decimation; cropping/padding chosen so the output has the layer's size, sample positions symmetric). The last
layer is ToRGB: 1x1 conv, no demodulation, styles scaled by ``1 / sqrt(fan_in)``, linear. The output is
multiplied by ``output_scale``.

The 16:9 models keep the square image resolution ``R`` (256) for every frequency and only shrink the height
of each grid (``s_i * 144 / 256 + 20`` rows); the conditioning is resampled from the LR image replicate-padded
to a square (see :mod:`lvg.superres.conditioning`).

Deviation from StyleGAN3's arithmetic, on purpose: before demodulation StyleGAN3 divides the styles by their
RMS over the *whole batch*; here the RMS is per sample (= per frame). Demodulation cancels this except through
its ``1e-8``, so the effect is ~1e-8 relative, and it makes every HR frame a function of its own window and
latent only (bit-exact chunking, no cross-sample coupling). Parameters are unaffected.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.lowres.mapping import normalize_2nd_moment
from lvg.nn.filtered import design_lowpass_filter, filtered_lrelu
from lvg.nn.layers import FullyConnected, MagnitudeEMA
from lvg.superres.conditioning import SRConditioning, stack_windows

__all__ = [
    "LayerSpec",
    "SRGenerator",
    "SRGeneratorConfig",
    "SRMapping",
    "SRSynthesisLayer",
    "count_parameters",
    "layer_schedule",
    "modulated_conv2d",
]


@dataclass(frozen=True)
class SRGeneratorConfig:
    """Hyperparameters of :class:`SRGenerator`; ``paper()`` and ``tiny()`` are the presets.

    Sizes are ``(height, width)``. ``max(hr_height, hr_width)`` is the image resolution ``R`` of the schedule
    and must be a power of two; ``max(lr_height, lr_width)`` sets the conditioning scales (each layer's input
    sampling rate divided by it must be a power of two).
    """

    lr_height: int = 36
    lr_width: int = 64
    hr_height: int = 144
    hr_width: int = 256
    img_channels: int = 3
    temporal_context: int = 4  # LR frames each side of the output frame
    # mapping network
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    mapping_lr_mul: float = 0.01
    # synthesis network (StyleGAN3 config T without Fourier features)
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14  # plus ToRGB
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2 ** 2.1
    last_stopband_rel: float = 2 ** 0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3
    filter_size: int = 6  # low-pass taps per unit of resampling factor
    lrelu_upsampling: int = 2
    conv_clamp: float | None = 256.0
    magnitude_ema_beta: float = 0.999
    num_fp16_res: int = 4  # layers with sampling rate * 2**num_fp16_res > R are marked use_fp16
    lr_skip: bool = False  # add the upsampled centre LR frame to the output (not the paper's; see synthesize)

    def __post_init__(self) -> None:
        r = self.resolution
        if r & (r - 1):
            raise ValueError(f"max(hr_height, hr_width) must be a power of two, got {r}")
        if self.num_layers <= self.num_critical or self.num_critical < 1:
            raise ValueError("need num_layers > num_critical >= 1")
        if self.temporal_context < 0:
            raise ValueError("temporal_context must be >= 0")

    @property
    def resolution(self) -> int:
        return max(self.hr_height, self.hr_width)

    @property
    def window(self) -> int:
        return 2 * self.temporal_context + 1

    @property
    def cond_channels(self) -> int:
        return self.img_channels * self.window

    @classmethod
    def paper(cls, square: bool = False, **overrides) -> SRGeneratorConfig:
        """The reference SR generator: 36x64 -> 144x256 (``square=True``: 64x64 -> 256x256); 27,169,940
        parameters either way."""
        base = dict(lr_height=64, hr_height=256) if square else {}
        return cls(**(base | overrides))

    @classmethod
    def tiny(cls, square: bool = True, **overrides) -> SRGeneratorConfig:
        """Few channels and 4 + 1 layers, fast on a CPU: 16x16 -> 32x32, or (``square=False``) 18x32 -> 36x64."""
        size = dict(lr_height=16, lr_width=16, hr_height=32, hr_width=32) if square else dict(
            lr_height=18, lr_width=32, hr_height=36, hr_width=64)
        base = dict(z_dim=32, w_dim=32, channel_base=512, channel_max=16, num_layers=4, num_critical=2,
                    margin_size=4)
        return cls(**(size | base | overrides))

    @classmethod
    def preset(cls, name: str, **overrides) -> SRGeneratorConfig:
        presets = {"paper": cls.paper, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown SR generator preset {name!r} (choose from {sorted(presets)})")
        return presets[name](**overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SRGeneratorConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown SRGeneratorConfig keys: {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class LayerSpec:
    """Everything that fixes one synthesis layer (sizes are ``(height, width)``)."""

    index: int
    name: str
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool
    feature_channels: int  # channels coming from the previous layer (0 for layer 0)
    cond_channels: int
    out_channels: int
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    up: int
    down: int
    up_taps: int
    down_taps: int
    conv_kernel: int
    padding: tuple[int, int, int, int]  # (x0, x1, y0, y1) of the upsampling upfirdn

    @property
    def in_channels(self) -> int:
        return self.feature_channels + self.cond_channels


def layer_schedule(cfg: SRGeneratorConfig) -> list[LayerSpec]:
    """The ``num_layers + 1`` layer specs (see the module docstring for the formulas)."""
    n, r = cfg.num_layers, cfg.resolution
    exponents = np.minimum(np.arange(n + 1) / (n - cfg.num_critical), 1.0)
    last_cutoff = r / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, r))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max)).astype(int)
    channels[-1] = cfg.img_channels

    sizes = []
    for i, s in enumerate(rates):
        if i >= n - 1:
            sizes.append((cfg.hr_height, cfg.hr_width))
            continue
        hw = []
        for edge in (cfg.hr_height, cfg.hr_width):
            content = s * edge / r
            if content != int(content):
                raise ValueError(f"sampling rate {s} gives a non-integer grid {content} for edge {edge}/{r}")
            hw.append(int(content) + 2 * cfg.margin_size)
        sizes.append((hw[0], hw[1]))

    specs = []
    for i in range(n + 1):
        prev = max(i - 1, 0)
        is_torgb = i == n
        in_rate, out_rate = int(rates[prev]), int(rates[i])
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else cfg.lrelu_upsampling)
        up, down = tmp_rate // in_rate, tmp_rate // out_rate
        assert in_rate * up == tmp_rate and out_rate * down == tmp_rate
        up_taps = cfg.filter_size * up if up > 1 and not is_torgb else 1
        down_taps = cfg.filter_size * down if down > 1 and not is_torgb else 1
        k = 1 if is_torgb else cfg.conv_kernel
        pads = []
        for axis in (1, 0):  # x (width) first
            in_n, out_n = sizes[prev][axis], sizes[i][axis]
            total = (out_n - 1) * down + 1  # wanted size before decimation
            total -= (in_n + k - 1) * up  # size after the full conv and zero insertion
            total += up_taps + down_taps - 2  # shrinkage of the two filters
            lo = (total + up) // 2  # symmetric sample positions
            pads += [lo, total - lo]
        specs.append(LayerSpec(
            index=i,
            name=f"L{i}_{sizes[i][1]}_{sizes[i][0]}_{channels[i]}",
            is_torgb=is_torgb,
            is_critically_sampled=i >= n - cfg.num_critical,
            use_fp16=bool(rates[i] * 2 ** cfg.num_fp16_res > r),
            feature_channels=0 if i == 0 else int(channels[prev]),
            cond_channels=cfg.cond_channels,
            out_channels=int(channels[i]),
            in_size=sizes[prev],
            out_size=sizes[i],
            in_sampling_rate=in_rate,
            out_sampling_rate=out_rate,
            in_cutoff=float(cutoffs[prev]),
            out_cutoff=float(cutoffs[i]),
            in_half_width=float(half_widths[prev]),
            out_half_width=float(half_widths[i]),
            up=up,
            down=down,
            up_taps=up_taps,
            down_taps=down_taps,
            conv_kernel=k,
            padding=(pads[0], pads[1], pads[2], pads[3]),
        ))
    return specs


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, *, padding: int, demodulate: bool = True,
                     eps: float = 1e-8) -> Tensor:
    """Per-sample modulated 2D convolution, modulating the activations (one shared ``conv2d``).

    With ``demodulate``, the weight is first divided by its RMS per output channel and the styles by their RMS
    per sample, then ``y = conv(x * s, w) * rsqrt(sum_{i,k} (w s)^2 + eps)`` per sample and output channel.
    Without it (ToRGB) ``y = conv(x * s, w)``; callers put any fan-in gain into ``s``.

    Args:
        x: ``[M, C_in, H, W]``; weight: ``[C_out, C_in, k, k]``; styles: ``[M, C_in]``.
    """
    m, c_in = x.shape[:2]
    assert weight.shape[1] == c_in and styles.shape == (m, c_in), (x.shape, weight.shape, styles.shape)
    dtype = torch.promote_types(weight.dtype, torch.float32)
    w = weight.to(dtype)
    s = styles.to(dtype)
    if demodulate:
        w = w * w.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    y = F.conv2d(x * s[:, :, None, None].to(x.dtype), w.to(x.dtype), padding=padding)
    if demodulate:
        d = (s.square() @ w.square().sum(dim=(2, 3)).t()).add(eps).rsqrt()  # [M, C_out]
        y = y * d[:, :, None, None].to(y.dtype)
    return y


class SRSynthesisLayer(nn.Module):
    """One alias-free synthesis layer (or ToRGB) with conditioning concatenated to its input."""

    def __init__(self, spec: LayerSpec, w_dim: int, *, conv_clamp: float | None, magnitude_ema_beta: float) -> None:
        super().__init__()
        self.spec = spec
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, spec.in_channels, bias_init=1.0)
        k = spec.conv_kernel
        self.weight = nn.Parameter(torch.randn(spec.out_channels, spec.in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(spec.out_channels))
        self.magnitude = MagnitudeEMA(magnitude_ema_beta)
        self._weight_cache: tuple[tuple, Tensor, Tensor] | None = None  # see _folded_weight
        self.register_buffer("up_filter", _lowpass(spec.up_taps, spec.in_cutoff, spec.in_half_width * 2,
                                                   spec.in_sampling_rate * spec.up), persistent=False)
        self.register_buffer("down_filter", _lowpass(spec.down_taps, spec.out_cutoff, spec.out_half_width * 2,
                                                     spec.out_sampling_rate * spec.down), persistent=False)

    def forward(self, x: Tensor | None, cond: Tensor, w: Tensor, *, update_ema: bool = False) -> Tensor:
        spec = self.spec
        x = cond if x is None else torch.cat([x, cond.to(x.dtype)], dim=1)
        assert x.shape[1:] == (spec.in_channels, *spec.in_size), (tuple(x.shape), spec.in_channels, spec.in_size)
        styles = self.affine(w)
        if spec.is_torgb:
            styles = styles * (1 / math.sqrt(spec.in_channels * spec.conv_kernel ** 2))
        pad, demodulate, bias = spec.conv_kernel - 1, not spec.is_torgb, self.bias
        if x.shape[0] == 1 and not (torch.is_grad_enabled() or update_ema):
            # One frame, no autograd (inference): input gain, styles, demodulation and bias folded into the
            # weights, so the conv reads the input as is (three activation-sized passes fewer).
            x, bias = F.conv2d(x, self._folded_weight(styles).to(x.dtype), bias.to(x.dtype), padding=pad), None
        else:
            x = self.magnitude(x, update=update_ema)
            x = modulated_conv2d(x, self.weight, styles, padding=pad, demodulate=demodulate)
        gain, slope = (1.0, 1.0) if spec.is_torgb else (math.sqrt(2.0), 0.2)
        fu = self.up_filter if self.up_filter.numel() > 1 else None
        fd = self.down_filter if self.down_filter.numel() > 1 else None
        x = filtered_lrelu(x, fu, fd, bias, up=spec.up, down=spec.down, padding=spec.padding, gain=gain,
                           slope=slope, clamp=self.conv_clamp)
        assert x.shape[1:] == (spec.out_channels, *spec.out_size), (tuple(x.shape), spec)
        return x

    def _folded_weight(self, styles: Tensor) -> Tensor:
        """``w'`` with ``conv2d(x, w') == modulated_conv2d(magnitude(x), w, styles)`` (up to rounding) for one
        sample: ``w' = w_n * (g s_n)[None, :] * d[:, None]``, ``g`` the input gain. ``w_n`` and its squared sums
        depend on the weight only, so they are cached until the parameter changes (in-place updates bump its
        version)."""
        w, g = self.weight, self.magnitude.magnitude_ema.rsqrt()
        if self.spec.is_torgb:
            return w.float() * (styles[0].float() * g)[None, :, None, None]
        key = (w.data_ptr(), w._version, w.device)
        if self._weight_cache is None or self._weight_cache[0] != key:
            wn = w.detach().float()
            wn = wn * wn.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
            self._weight_cache = (key, wn, wn.square().sum(dim=(2, 3)))
        _, wn, wsq = self._weight_cache
        s = styles.float()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
        d = (s.square() @ wsq.t()).add(1e-8).rsqrt()  # [1, C_out], as in modulated_conv2d
        return wn * (d[0, :, None] * (s[0] * g)[None, :])[:, :, None, None]

    def extra_repr(self) -> str:
        s = self.spec
        return (f"{s.name}: {s.feature_channels}+{s.cond_channels} -> {s.out_channels}, {s.in_size} -> "
                f"{s.out_size}, rate {s.in_sampling_rate} -> {s.out_sampling_rate}, up={s.up}, down={s.down}, "
                f"torgb={s.is_torgb}, critical={s.is_critically_sampled}, fp16={s.use_fp16}")


def _lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> Tensor:
    """Designed taps, or a single 1 for the identity (kept as a buffer so the module moves devices as one)."""
    taps = design_lowpass_filter(numtaps, cutoff, width, fs)
    return torch.ones(1) if taps is None else taps


class SRMapping(nn.Module):
    """``z [N, z_dim]`` -> ``w [N, w_dim]``: 2nd-moment normalisation, then lrelu FC layers (lr_mul 0.01)."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int = 2, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.z_dim, self.w_dim = z_dim, w_dim
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(FullyConnected(a, b, lr_mul=lr_mul, activation="lrelu")
                                    for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, z: Tensor) -> Tensor:
        assert z.ndim == 2 and z.shape[1] == self.z_dim, (tuple(z.shape), self.z_dim)
        x = normalize_2nd_moment(z.float(), dim=1)
        for layer in self.layers:
            x = layer(x)
        return x


class SRGenerator(nn.Module):
    """LongVideoGAN's super-resolution network: ``G(lr_video [N, 3, T + 8, h, w], z [N, z_dim])`` ->
    ``[N, 3, T, H, W]``, HR frame ``t`` from LR frames ``t .. t + 8`` (input indexing) and ``z``."""

    def __init__(self, cfg: SRGeneratorConfig | None = None) -> None:
        super().__init__()
        cfg = cfg if cfg is not None else SRGeneratorConfig.paper()
        self.cfg = cfg
        self.specs = layer_schedule(cfg)
        self.mapping = SRMapping(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_mul)
        self.conditioning = SRConditioning(
            (cfg.lr_height, cfg.lr_width), [s.in_sampling_rate for s in self.specs],
            [s.in_size for s in self.specs], temporal_context=cfg.temporal_context, margin=cfg.margin_size,
            img_channels=cfg.img_channels)
        self.layers = nn.ModuleList(
            SRSynthesisLayer(s, cfg.w_dim, conv_clamp=cfg.conv_clamp, magnitude_ema_beta=cfg.magnitude_ema_beta)
            for s in self.specs)

    @property
    def layer_names(self) -> list[str]:
        return [s.name for s in self.specs]

    def synthesize(self, conds: list[Tensor], w: Tensor, *, update_ema: bool = False) -> Tensor:
        """Per-layer conditioning (``[M, 27, H_i, W_i]`` each) and per-frame ``w [M, w_dim]`` -> ``[M, 3, H, W]``."""
        assert len(conds) == len(self.layers)
        # Channels-last throughout: oneDNN's fast layout for the convolutions, and concatenating features with
        # conditioning of a different memory format is slow.
        cl = {id(c): c.contiguous(memory_format=torch.channels_last) for c in conds}
        conds = [cl[id(c)] for c in conds]
        x = None
        for layer, cond in zip(self.layers, conds, strict=True):
            x = layer(x, cond, w, update_ema=update_ema)
        assert x is not None
        x = x * self.cfg.output_scale
        if self.cfg.lr_skip:
            # Not in the reference (spec model.md §6: no path passes the LR input through). With it, the network
            # only adds detail to the LR frame, Kaiser-upsampled to the output (ToRGB's conditioning, window
            # centre: channels t, t + window, t + 2 window of the channel-major stack). At a CPU budget of ~110
            # steps, the paper's design still drew mostly its own frames, and our super-resolved videos scored
            # worse than their LR input under every world detector (stop 27).
            k, win = self.cfg.temporal_context, self.cfg.window
            x = x + conds[-1][:, [k + c * win for c in range(self.cfg.img_channels)]].to(x.dtype)
        return x.to(torch.promote_types(x.dtype, torch.float32))  # float32 out, also under autocast

    def synthesize_frames(self, lr_windows: Tensor, w: Tensor, *, update_ema: bool = False) -> Tensor:
        """One HR frame per stacked LR window: ``[M, 27, h, w]`` (see :func:`stack_windows`) and
        ``w [M, w_dim]`` -> ``[M, 3, H, W]``."""
        assert w.shape == (lr_windows.shape[0], self.cfg.w_dim), (tuple(w.shape), tuple(lr_windows.shape))
        return self.synthesize(self.conditioning(lr_windows), w, update_ema=update_ema)

    def forward(self, lr_video: Tensor, z: Tensor, *, update_ema: bool = False) -> Tensor:
        cfg = self.cfg
        assert lr_video.ndim == 5 and lr_video.shape[1] == cfg.img_channels, tuple(lr_video.shape)
        assert tuple(lr_video.shape[-2:]) == (cfg.lr_height, cfg.lr_width), (
            f"expected LR frames {cfg.lr_height}x{cfg.lr_width}, got {tuple(lr_video.shape[-2:])}")
        n, t = lr_video.shape[0], lr_video.shape[2] - 2 * cfg.temporal_context
        if t < 1:
            raise ValueError(f"need at least {cfg.window} LR frames, got {lr_video.shape[2]}")
        assert z.shape == (n, cfg.z_dim), (tuple(z.shape), n, cfg.z_dim)
        if torch.is_grad_enabled() or update_ema:  # training: one pass (the EMA sees the whole batch)
            w = self.mapping(z).repeat_interleave(t, dim=0)  # one z per video, repeated for every frame
            frames = self.synthesize(self.conditioning.forward_video(lr_video), w, update_ema=update_ema)
            return frames.reshape(n, t, *frames.shape[1:]).transpose(1, 2)
        return self._forward_inference(lr_video, z)

    # Inference splits a call into fixed pieces (a function of its frame count only, so streaming stays
    # bit-exact): LR resampling per COND_FRAMES output frames, synthesis per SYNTH_FRAMES. Frames are
    # independent, so this only bounds memory (< 1 GiB peak RSS for the paper preset at any length); one frame per
    # synthesis pass is also the fastest on CPU (the 4x-upsampled activations stay cache- and page-friendly).
    COND_FRAMES = 32
    SYNTH_FRAMES = 1

    def _forward_inference(self, lr_video: Tensor, z: Tensor) -> Tensor:
        n, span = lr_video.shape[0], 2 * self.cfg.temporal_context
        t = lr_video.shape[2] - span
        w = self.mapping(z)
        outs = []
        for c0 in range(0, t, self.COND_FRAMES):
            c1 = min(c0 + self.COND_FRAMES, t)
            videos = self.conditioning.resample_video(lr_video[:, :, c0:c1 + span])
            for s0 in range(0, c1 - c0, self.SYNTH_FRAMES):
                m = min(self.SYNTH_FRAMES, c1 - c0 - s0)
                frames = self.synthesize(self.conditioning.windows(videos, s0, s0 + m), w.repeat_interleave(m, 0))
                outs.append(frames.reshape(n, m, *frames.shape[1:]).transpose(1, 2))
        return torch.cat(outs, dim=2)

    @torch.no_grad()
    def forward_chunked(self, lr_video: Tensor, z: Tensor, frames_per_chunk: int = 16) -> Tensor:
        """Inference on long clips: chunks of ``frames_per_chunk`` output frames (LR windows overlapping by
        ``2 * temporal_context``), concatenated. Equals :meth:`forward` up to float rounding."""
        k = self.cfg.temporal_context
        t = lr_video.shape[2] - 2 * k
        outs = [self(lr_video[:, :, t0:min(t0 + frames_per_chunk, t) + 2 * k], z)
                for t0 in range(0, t, frames_per_chunk)]
        return torch.cat(outs, dim=2)

    @staticmethod
    def stack_windows(lr_video: Tensor, temporal_context: int = 4) -> Tensor:
        return stack_windows(lr_video, temporal_context)


def count_parameters(module: nn.Module) -> int:
    """``sum(p.numel())`` over parameters (buffers such as magnitude EMAs and filters are not counted)."""
    return sum(p.numel() for p in module.parameters())
