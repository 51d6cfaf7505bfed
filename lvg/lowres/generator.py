"""The low-resolution video generator (paper Sec. 3.1; the reference's ``VideoGenerator``).

Data flow: white noise -> filter bank (temporal embedding) -> per-frame mapping -> full-rate w -> per-block
w schedule -> synthesis (learned constant + temporal input at 1/32 of the frame rate, temporal blocks that
upsample time, spatial-only blocks, ToRGB). There is no global latent: all randomness is the noise.

Beyond the reference, noise is **counter-based**: noise sample ``n`` (an absolute frame index, any integer)
of channel ``c`` depends only on ``(seed, n)``. It is drawn in blocks of ``noise_block`` samples, block ``b``
from a ``torch.Generator`` seeded with a hash of ``(seed, b)``, always on the CPU (so it does not depend on
the device). Any window ``[t0, t0 + T)`` of an endless video can therefore be generated alone.

Window semantics. The synthesis network works on a grid at 1/32 of the frame rate (``temporal_scale``);
frame ``f`` sits at phase ``f mod 32`` of it. A request is served by synthesising the *aligned superset*
``[floor(t0 / 32) * 32, ceil((t0 + T) / 32) * 32)`` and cropping, so every frame is computed at its absolute
phase and equals the same frame of any longer request (up to float rounding), for any ``t0``. Exactness also
needs (1) the w schedule's zero-padded Kaiser borders to stay out of every crop: ``latent_margin`` extra
1/32-rate frames of w per side (at least 5 for the 12-tap filter) do that; and (2) no per-window statistic
inside the network: ``style_norm="none"`` drops the reference's per-clip max-abs style normalisation, which
the demodulation cancels except through its eps (a ~1e-6 relative, window-dependent effect). With
``latent_margin=0, style_norm="clip"``, :meth:`synthesize` is exactly the reference's forward pass for a given
noise tensor (whose output then depends slightly on the window); the parameters are the same either way.
Magnitude-EMA updates (``update_ema=True``, training only) use batch statistics and are the one deliberate
exception to window independence. Float rounding still differs between window sizes (conv kernels pick
algorithms by shape): a streaming caller that wants bit-identical frames should synthesise fixed-size,
aligned chunks.

Training-time phase randomisation (the reference crops ``T + 32`` generated frames at a random ``t0`` in
``[0, 32)`` per sample) is ``G(seeds, t0=G.sample_phase(N), num_frames=T)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lvg.lowres.filter_bank import FilterBank
from lvg.lowres.mapping import MappingNetwork
from lvg.lowres.synthesis import SeqLengths, SynthesisBlock, ToRGB, compute_seq_lengths, latent_schedule
from lvg.nn.layers import SQRT_HALF, STYLE_NORMS, FullyConnected
from lvg.nn.resample import kaiser_lowpass_taps

SeedLike = int | Sequence[int] | Tensor
#: Frames per pass through the spatial-only blocks. They have no temporal kernel, so frames are independent
#: there; slicing bounds the largest activations (full resolution, every frame) to this many frames whatever
#: the window, and keeps them small enough to be reused by the allocator instead of page-faulted in fresh.
#: A fixed constant, so a window of a given length is always computed the same way (bit-identical frames).
SPATIAL_SLICE = 16
FrameIndex = int | Sequence[int] | Tensor


@dataclass(frozen=True)
class GeneratorConfig:
    """Hyperparameters of :class:`VideoGenerator`; ``paper()`` and ``tiny()`` are the presets.

    Block layout: ``temporal_channels[i]``, ``temporal_up[i]`` and ``temporal_spatial_up[i]`` describe
    temporal block ``i`` (3-tap time kernels); ``spatial_channels[j]`` and ``spatial_up[j]`` the spatial-only
    blocks (1-tap time kernels). Output sizes of the blocks follow from ``height``/``width``: a block with
    ``r`` spatial upsamplings still to come outputs ``ceil(height / r) x ceil(width / r)`` (centre crop).
    """

    height: int = 64
    width: int = 64
    # temporal noise and filter bank (Sec. 3.1); the embedding has noise_channels * num_filters channels
    noise_channels: int = 8
    num_filters: int = 128
    min_footprint: int = 125  # frames; the reference's sampling rates 250 .. 10000 are 2x these
    max_footprint: int = 5000
    # mapping network
    w_dim: int = 1024
    mapping_layers: int = 2
    mapping_lr_mul: float = 0.01
    # synthesis network
    input_channels: int = 512
    temporal_channels: tuple[int, ...] = (512, 512, 512, 512, 256, 256)
    temporal_up: tuple[bool, ...] = (True, True, True, True, True, False)
    temporal_spatial_up: tuple[bool, ...] = (False, True, False, True, False, False)
    spatial_channels: tuple[int, ...] = (128, 128, 64, 64)
    spatial_up: tuple[bool, ...] = (True, False, True, False)
    temporal_ksize: int = 3
    spatial_ksize: int = 3
    temporal_padding: int = 8  # frames of margin per side at every temporal level
    latent_margin: int = 8  # extra 1/temporal_scale-rate w frames per side (0 = reference, >= 5 = exact windows)
    style_norm: str = "none"  # "clip" = reference arithmetic; "none" = exactly window independent
    output_scale: float = 0.25
    clamp: float = 256.0
    # counter-based noise and training
    noise_block: int = 1024  # noise samples per counter block
    seq_length: int = 128  # training clip length (Table 2 ablates it)

    def __post_init__(self) -> None:
        n_t = len(self.temporal_channels)
        if len(self.temporal_up) != n_t or len(self.temporal_spatial_up) != n_t:
            raise ValueError("temporal_channels, temporal_up and temporal_spatial_up must have equal lengths")
        if len(self.spatial_up) != len(self.spatial_channels):
            raise ValueError("spatial_channels and spatial_up must have equal lengths")
        if not 1 <= self.min_footprint <= self.max_footprint:
            raise ValueError(f"bad footprint range {self.min_footprint}..{self.max_footprint}")
        if self.style_norm not in STYLE_NORMS:
            raise ValueError(f"style_norm must be one of {STYLE_NORMS}, got {self.style_norm!r}")
        if self.latent_margin < 0 or self.temporal_padding < 0 or self.noise_block < 1:
            raise ValueError("latent_margin, temporal_padding must be >= 0 and noise_block >= 1")

    @property
    def temporal_emb_dim(self) -> int:
        return self.noise_channels * self.num_filters

    @property
    def temporal_scale(self) -> int:
        """Frame-rate ratio between the output and the synthesis input (32 in the paper)."""
        return 2 ** sum(self.temporal_up)

    @property
    def spatial_scale(self) -> int:
        return 2 ** (sum(self.temporal_spatial_up) + sum(self.spatial_up))

    @classmethod
    def paper(cls, height: int = 64, width: int = 64, **overrides) -> GeneratorConfig:
        """The reference network (83,217,987 parameters at 64x64, 83,215,939 at 36x64).

        ``paper(latent_margin=0, style_norm="clip")`` also reproduces the reference's arithmetic exactly.
        """
        return cls(height=height, width=width, **overrides)

    @classmethod
    def tiny(cls, **overrides) -> GeneratorConfig:
        """Same block structure with few channels, 16 short filters and 32x32 output: fast on a CPU."""
        base = dict(
            height=32, width=32, noise_channels=4, num_filters=16, min_footprint=8, max_footprint=256,
            w_dim=32, input_channels=32, temporal_channels=(32, 32, 32, 32, 16, 16),
            spatial_channels=(16, 16, 8, 8), seq_length=32,
        )
        return cls(**(base | overrides))

    @classmethod
    def preset(cls, name: str, **overrides) -> GeneratorConfig:
        presets = {"paper": cls.paper, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown generator preset {name!r} (choose from {sorted(presets)})")
        return presets[name](**overrides)

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists); :meth:`from_dict` inverts it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown GeneratorConfig keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# --------------------------------------------------------------------------------------------------------
# Counter-based noise

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def block_seed(seed: int, block: int) -> int:
    """63-bit seed of noise block ``block`` (any integer, negative too) of video ``seed``."""
    return _splitmix64(_splitmix64(seed & _MASK64) ^ (block & _MASK64)) >> 1


def counter_noise(seed: int, start: int, length: int, channels: int, block: int = 1024) -> Tensor:
    """Noise samples ``[start, start + length)`` (absolute indices) of video ``seed``: ``[channels, length]``.

    Sample ``n`` is entry ``n mod block`` of the standard-normal block ``floor(n / block)``, drawn on the CPU
    from a generator seeded by :func:`block_seed`, so it depends on ``(seed, n)`` only.
    """
    first, last = start // block, (start + length - 1) // block
    parts = []
    for b in range(first, last + 1):
        g = torch.Generator(device="cpu").manual_seed(block_seed(seed, b))
        parts.append(torch.randn(channels, block, generator=g, device="cpu", dtype=torch.float32))
    noise = torch.cat(parts, dim=1)
    offset = start - first * block
    return noise[:, offset:offset + length]


def _int_list(x: SeedLike | FrameIndex) -> list[int]:
    if isinstance(x, Tensor):
        return [int(v) for v in x.reshape(-1).tolist()]
    if isinstance(x, int):
        return [x]
    return [int(v) for v in x]


@dataclass(frozen=True)
class Window:
    """How a request ``(t0 per sample, num_frames)`` is served on the absolute 1/temporal_scale grid.

    Attributes:
        start: first frame of the aligned superset (a multiple of ``temporal_scale``).
        num_frames: frames synthesised (a multiple of ``temporal_scale``).
        offsets: per-sample ``t0 - start``: where each sample's crop begins in the superset.
        out_frames: frames returned per sample.
        noise_start: absolute index of the first noise sample needed.
        noise_length: noise samples needed (:meth:`VideoGenerator.noise_length` of ``num_frames``).
    """

    start: int
    num_frames: int
    offsets: tuple[int, ...]
    out_frames: int
    noise_start: int
    noise_length: int


# --------------------------------------------------------------------------------------------------------
class VideoGenerator(nn.Module):
    """LongVideoGAN's low-resolution generator: seeds (or noise) -> video ``[N, 3, T, H, W]`` in about [-1, 1].

    Submodules: ``filter_bank``, ``mapping``, ``w_to_input`` (w at the input rate -> temporal input),
    ``const`` (learned ``[C, h0, w0]`` constant), ``temporal_blocks``, ``spatial_blocks``, ``to_rgb``.
    """

    def __init__(self, cfg: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or GeneratorConfig()
        self.filter_bank = FilterBank(cfg.noise_channels, cfg.num_filters, cfg.min_footprint, cfg.max_footprint)
        self.mapping = MappingNetwork(cfg.temporal_emb_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_mul)
        self.w_to_input = FullyConnected(cfg.w_dim, cfg.input_channels)
        self.register_buffer("latent_taps", kaiser_lowpass_taps(), persistent=False)

        sizes = self._block_out_sizes()
        s0 = cfg.spatial_scale
        self.const = nn.Parameter(torch.randn(cfg.input_channels, math.ceil(cfg.height / s0),
                                              math.ceil(cfg.width / s0)))
        chans = [cfg.input_channels, *cfg.temporal_channels]
        self.temporal_blocks = nn.ModuleList(
            SynthesisBlock(chans[i], chans[i + 1], cfg.w_dim, temporal_ksize=cfg.temporal_ksize,
                           spatial_ksize=cfg.spatial_ksize, temporal_up=cfg.temporal_up[i],
                           spatial_up=cfg.temporal_spatial_up[i], out_size=sizes[i], clamp=cfg.clamp,
                           style_norm=cfg.style_norm)
            for i in range(len(cfg.temporal_channels))
        )
        chans = [chans[-1], *cfg.spatial_channels]
        n_t = len(cfg.temporal_channels)
        self.spatial_blocks = nn.ModuleList(
            SynthesisBlock(chans[j], chans[j + 1], cfg.w_dim, temporal_ksize=1, spatial_ksize=cfg.spatial_ksize,
                           spatial_up=cfg.spatial_up[j], out_size=sizes[n_t + j], clamp=cfg.clamp,
                           style_norm=cfg.style_norm)
            for j in range(len(cfg.spatial_channels))
        )
        self.to_rgb = ToRGB(chans[-1], cfg.w_dim, clamp=cfg.clamp)

    def _block_out_sizes(self) -> list[tuple[int, int]]:
        """Output size of every block: ``ceil(size / r)`` with ``r`` the spatial upsamplings still to come."""
        ups = [*self.cfg.temporal_spatial_up, *self.cfg.spatial_up]
        sizes, r = [], 1
        for up in reversed(ups):
            sizes.append((math.ceil(self.cfg.height / r), math.ceil(self.cfg.width / r)))
            r *= 2 if up else 1
        return sizes[::-1]

    # ---- length bookkeeping -----------------------------------------------------------------------------
    @property
    def temporal_scale(self) -> int:
        return self.cfg.temporal_scale

    def seq_lengths(self, num_frames: int) -> SeqLengths:
        """The reference's per-level lengths for ``num_frames`` output frames (without ``latent_margin``)."""
        return compute_seq_lengths(num_frames, self.cfg.temporal_up, self.cfg.temporal_padding,
                                   self.filter_bank.kernel_size)

    def emb_length(self, num_frames: int) -> int:
        """Temporal-embedding frames for ``num_frames`` output frames, ``latent_margin`` included."""
        return self.seq_lengths(num_frames).emb_length + 2 * self.cfg.latent_margin * self.temporal_scale

    def noise_length(self, num_frames: int) -> int:
        """Noise samples :meth:`synthesize` needs for ``num_frames`` output frames."""
        return self.filter_bank.noise_length(self.emb_length(num_frames))

    def plan(self, t0: FrameIndex, num_frames: int) -> Window:
        """The aligned superset and crops that serve frames ``[t0_i, t0_i + num_frames)`` of every sample."""
        if num_frames < 1:
            raise ValueError(f"num_frames must be positive, got {num_frames}")
        t0s, s = _int_list(t0), self.temporal_scale
        start = min(t0s) // s * s
        end = -(-(max(t0s) + num_frames) // s) * s
        margin = (self.cfg.temporal_padding + self.cfg.latent_margin) * s
        return Window(start=start, num_frames=end - start, offsets=tuple(t - start for t in t0s),
                      out_frames=num_frames, noise_start=start - margin, noise_length=self.noise_length(end - start))

    # ---- noise ------------------------------------------------------------------------------------------
    def sample_noise(self, seeds: SeedLike, t0: FrameIndex = 0, num_frames: int | None = None) -> Tensor:
        """Exactly the noise span that :meth:`forward` needs for ``(t0, num_frames)``: ``[N, C, L]``.

        One video per seed; ``t0`` is shared or per sample. Drawn on the CPU, returned on this module's
        device, float32.
        """
        win = self.plan(t0, self.cfg.seq_length if num_frames is None else num_frames)
        rows = [counter_noise(seed, win.noise_start, win.noise_length, self.cfg.noise_channels,
                              self.cfg.noise_block) for seed in _int_list(seeds)]
        return torch.stack(rows).to(self.const.device)

    def sample_phase(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """Random per-sample ``t0`` in ``[0, temporal_scale)``: hides the phase of the 1/32 grid in training."""
        return torch.randint(0, self.temporal_scale, (batch_size,), generator=generator)

    # ---- forward ----------------------------------------------------------------------------------------
    def forward(self, seeds: SeedLike | None = None, *, noise: Tensor | None = None, t0: FrameIndex = 0,
                num_frames: int | None = None, update_ema: bool = False) -> Tensor:
        """Frames ``[t0_i, t0_i + num_frames)`` of the video of each seed (or of the given noise).

        Args:
            seeds: one int per video (int, sequence or integer tensor); ignored when ``noise`` is given.
            noise: ``[N, C, L]`` as returned by :meth:`sample_noise` for the same ``t0``/``num_frames``
                (or any noise of that shape, e.g. ``torch.randn`` during training).
            t0: first absolute frame, shared or one per sample; need not be a multiple of 32.
            num_frames: frames per sample (default ``cfg.seq_length``).
            update_ema: move the magnitude-EMA input gains towards this batch's statistics (D step only).

        Returns:
            ``[N, 3, num_frames, height, width]``.
        """
        num_frames = self.cfg.seq_length if num_frames is None else num_frames
        if noise is None:
            if seeds is None:
                raise ValueError("give seeds or noise")
            noise = self.sample_noise(seeds, t0, num_frames)
        win = self.plan(t0, num_frames)
        n = noise.shape[0]
        offsets = win.offsets * n if len(win.offsets) == 1 else win.offsets
        if len(offsets) != n:
            raise ValueError(f"{len(offsets)} t0 values for {n} videos")
        if noise.shape[1:] != (self.cfg.noise_channels, win.noise_length):
            raise ValueError(f"noise has shape {tuple(noise.shape)}, expected "
                             f"[N, {self.cfg.noise_channels}, {win.noise_length}] for t0={t0}, T={num_frames}")
        video = self.synthesize(noise, win.num_frames, update_ema=update_ema)
        if len(set(offsets)) == 1:
            return video[:, :, offsets[0]:offsets[0] + num_frames]
        return torch.stack([v[:, o:o + num_frames] for v, o in zip(video, offsets, strict=True)])

    def synthesize(self, noise: Tensor, num_frames: int, *, update_ema: bool = False) -> Tensor:
        """Noise ``[N, C, noise_length(num_frames)]`` -> video ``[N, 3, num_frames, H, W]`` (no window logic).

        Output frame ``i`` sits at absolute frame ``i`` when noise sample 0 is absolute index
        ``-(temporal_padding + latent_margin) * temporal_scale``; with ``latent_margin=0`` this is the
        reference's forward pass for the same noise.
        """
        cfg = self.cfg
        assert noise.shape[1:] == (cfg.noise_channels, self.noise_length(num_frames)), tuple(noise.shape)
        lengths = self.seq_lengths(num_frames)
        w = self.mapping(self.filter_bank(noise.to(self.const.device)))
        ws = latent_schedule(w, lengths, cfg.temporal_up, self.latent_taps)
        temporal_input = self.w_to_input.forward_frames(ws.temporal_input)  # [N, C, L0]
        x = (self.const[None, :, None] + temporal_input[..., None, None]) * SQRT_HALF
        for block, w_i, out_len in zip(self.temporal_blocks, ws.temporal, lengths.block_out_lengths, strict=True):
            x = block(x, w_i, out_frames=out_len, update_ema=update_ema)
        if update_ema:  # the magnitude EMAs need the statistics of the whole batch
            video = self._spatial(x, ws.spatial, update_ema=True)
        else:
            video = torch.cat([self._spatial(x[:, :, t:t + SPATIAL_SLICE], ws.spatial[:, :, t:t + SPATIAL_SLICE])
                               for t in range(0, num_frames, SPATIAL_SLICE)], dim=2)
        assert video.shape[2:] == (num_frames, cfg.height, cfg.width), tuple(video.shape)
        return video

    def _spatial(self, x: Tensor, w: Tensor, *, update_ema: bool = False) -> Tensor:
        """The spatial-only blocks and ToRGB on frames ``[N, C, T, h, w]`` with their styles ``[N, w_dim, T]``."""
        for block in self.spatial_blocks:
            x = block(x, w, update_ema=update_ema)
        return self.to_rgb(x, w, update_ema=update_ema) * self.cfg.output_scale


def count_parameters(module: nn.Module) -> int:
    """``sum(p.numel())`` over parameters (buffers such as magnitude EMAs are not counted)."""
    return sum(p.numel() for p in module.parameters())
