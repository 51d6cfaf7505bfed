"""TATS-lite: a time-agnostic 3D VQ tokenizer + a GPT over its tokens (spec evaluation.md §5.4).

A clean-room, toy-scale re-implementation of the two ideas that define TATS:

* **Time-agnostic tokenizer** (stage 1). A conv3d encoder downsamples time by ``t_down`` and space by
  ``s_down``; a vector quantiser maps every latent position to one of ``codebook_size`` codes; a conv3d
  decoder maps the codes back to pixels. Every temporal padding is *replicate* padding (never zeros) and the
  normalisation is per frame (group norm over channels and space, never over time), so nothing marks where a
  window starts or ends: the tokens of a window equal the tokens of the same frames inside a longer video
  wherever the encoder's receptive field stays inside the window, and a static video gets the same tokens at
  every latent time step, the window edges included. Quantiser: factorised, l2-normalised codes (the codebook
  lookup is a cosine-similarity argmax over ``code_dim``-dimensional unit vectors), codebook + commitment
  loss, straight-through gradients, and restarts of dead codes onto random encoder outputs (as TATS's VQGAN
  does; without them a short run collapses onto a handful of codes). Losses: L1 reconstruction + VQ losses + (after ``gan_start`` of stage 1)
  a small hinge video-GAN loss from a 3D-conv PatchGAN discriminator. TATS also uses a perceptual (LPIPS)
  loss and an image discriminator: the perceptual loss needs pretrained VGG weights the project cannot
  download, so both are left out.
* **GPT over the tokens** (stage 2, tokenizer frozen): a causal transformer with a learned start token and a
  learned positional embedding over one window of ``train_frames // t_down`` latent frames x ``h x w``
  tokens, trained with cross-entropy on the tokens of real ``train_frames``-frame clips.

Long videos (:meth:`TATSGenerator.frames`): latent frame ``k`` is sampled token by token (temperature, top-k,
a private ``torch.Generator`` seeded from the video seed) conditioned on the latent frames ``max(0, k - W +
1) .. k - 1`` (``W`` = latent frames per window): the first window is plain autoregressive sampling, later
latent frames slide the window (drop the oldest latent frame, sample the next one). The same procedure runs
for every ``k`` whatever length is asked for, so a longer call only appends. Latents are decoded in fixed
chunks of ``decode_chunk`` latent frames with ``decode_radius`` latent frames of real context on each side
(the decoder's temporal receptive field; at the start of the video the replicate padding), so each output
frame is the same function of the same latents in every call:
frames ``t0 .. t0 + n - 1`` are exactly the corresponding frames of a longer call from 0.

Training (:class:`TATSTrainer`, the ``baselines.tats`` section through the shared loop): each step reads
``micro_batch`` clips of ``train_frames`` consecutive real frames. Steps ``< stage1_steps`` train the tokenizer
(and the discriminator), later steps the GPT. ``stage1_steps = round(stage_split * steps)`` is fixed when a
run starts and kept in its checkpoints, so resuming (also with more ``steps``) continues the same schedule
and the extra steps go to the GPT. No EMA: the exported generator is the trained tokenizer + GPT (TATS has
none). R1 is not used (TATS's GAN uses the hinge loss without R1); ``r1_*`` and ``ema_*`` are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.augment.diffaugment import diff_augment
from lvg.baselines.common import BaselineAlgorithm, BaselineTrainConfig, build_networks
from lvg.config import parse_resolution
from lvg.nn.presets import PresetConfig
from lvg.train import distributed as dist
from lvg.train.distributed import DistInfo
from lvg.train.gan import AUGMENT, adam
from lvg.train.loop import BatchSource

__all__ = ["TATSConfig", "TATSDiscriminatorConfig", "TATSGenerator", "TATSDiscriminator", "TATSTrainer", "build",
           "METHOD", "ALGORITHM", "GENERATOR", "CONFIG"]

METHOD = "tats"
RESTART = 3  # rank_seed purpose of the code-restart stream (after lvg.train.gan's DATA, LATENT, AUGMENT)


def _is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def _video_seed(seed: int) -> int:
    """The sampling stream of video ``seed`` (a 63-bit seed derived with numpy's SeedSequence)."""
    s = np.random.SeedSequence([int(seed), 0x7A75]).generate_state(1, np.uint64)[0]
    return int(s >> np.uint64(1))


# ---------------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class TATSConfig(PresetConfig):
    """Tokenizer + GPT sizes and the sampling settings (everything the exported generator needs)."""

    height: int = 64
    width: int = 64
    train_frames: int = 8  # frames of a training clip = one GPT window (paper: 16)
    t_down: int = 2  # temporal downsampling (power of 2; paper: 4)
    s_down: int = 8  # spatial downsampling (power of 2; paper: 8)
    ch: int = 8  # tokenizer channels at full resolution, doubled per level ...
    ch_max: int = 64  # ... up to this
    res_blocks: int = 1  # residual blocks at the latent resolution (encoder and decoder each)
    codebook_size: int = 256  # paper: 16384
    code_dim: int = 8  # dimension of the (l2-normalised) codes
    commit_weight: float = 0.25  # beta of the commitment loss
    restart_threshold: float = 0.03  # codes used below this share of uniform use are restarted; 0 = never
    gpt_width: int = 64
    gpt_layers: int = 2
    gpt_heads: int = 2
    gpt_lr: float = 1e-3  # stage-2 Adam learning rate (stage 1 uses lr_g, the discriminator lr_d)
    temperature: float = 1.0
    top_k: int = 0  # 0 = sample from the whole codebook
    decode_chunk: int = 16  # latent frames decoded together when rendering long videos

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(train_frames=16, t_down=4, s_down=8, ch=64, ch_max=256, res_blocks=2,
                      codebook_size=16384, code_dim=32, gpt_width=1024, gpt_layers=24, gpt_heads=16,
                      gpt_lr=3e-4, top_k=2048),
    }

    def validate(self) -> None:
        for k in ("t_down", "s_down"):
            if not _is_pow2(getattr(self, k)):
                raise ValueError(f"{k} must be a power of 2, got {getattr(self, k)}")
        if self.t_down > self.s_down:
            raise ValueError(f"t_down ({self.t_down}) must not exceed s_down ({self.s_down})")
        if self.train_frames % self.t_down or self.train_frames < self.t_down:
            raise ValueError(f"train_frames ({self.train_frames}) must be a multiple of t_down ({self.t_down})")
        if self.height % self.s_down or self.width % self.s_down:
            raise ValueError(f"{self.height}x{self.width} is not divisible by s_down = {self.s_down}")
        if self.gpt_width % self.gpt_heads:
            raise ValueError(f"gpt_width ({self.gpt_width}) must be divisible by gpt_heads ({self.gpt_heads})")
        if self.temperature <= 0 or self.top_k < 0 or self.codebook_size < 2:
            raise ValueError("temperature must be > 0, top_k >= 0, codebook_size >= 2")
        if min(self.ch, self.ch_max, self.code_dim, self.gpt_width, self.gpt_layers, self.decode_chunk) < 1 or self.res_blocks < 0:
            raise ValueError("channel counts and layer counts must be positive")

    @property
    def window(self) -> int:
        """Latent frames in one GPT window (= one training clip)."""
        return self.train_frames // self.t_down

    @property
    def latent_hw(self) -> tuple[int, int]:
        return self.height // self.s_down, self.width // self.s_down


@dataclass(frozen=True)
class TATSDiscriminatorConfig(PresetConfig):
    height: int = 64
    width: int = 64
    frames: int = 8
    ch: int = 16
    ch_max: int = 64
    gan_weight: float = 0.1  # weight of the adversarial term in the tokenizer loss
    gan_start: float = 0.5  # the GAN starts after this fraction of stage 1

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        "paper": dict(ch=64, ch_max=512),
    }

    def validate(self) -> None:
        if not 0 <= self.gan_start <= 1 or self.gan_weight < 0:
            raise ValueError("gan_start must be in [0, 1] and gan_weight >= 0")


# ---------------------------------------------------------------------------------------------- layers
class TConv3d(nn.Module):
    """Conv3d with replicate padding in time (no zeros: time-agnostic) and zero padding in space."""

    def __init__(self, c_in: int, c_out: int, kt: int = 3, ks: int = 3, st: int = 1, ss: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv3d(c_in, c_out, (kt, ks, ks), stride=(st, ss, ss))
        self.kt, self.st, self.pt = kt, st, kt - st  # total temporal padding: length T -> T / st
        self.ps = (ks - ss) // 2
        self.radius = kt - 1 - self.pt // 2  # temporal reach (either side) in input positions

    def forward(self, x: Tensor) -> Tensor:
        if self.ps:
            x = F.pad(x, (self.ps,) * 4 + (0, 0))
        if self.pt:
            x = F.pad(x, (0, 0, 0, 0, self.pt // 2, self.pt - self.pt // 2), mode="replicate")
        return self.conv(x)


class FrameGroupNorm(nn.Module):
    """Group norm with statistics over (channels of a group, H, W) of each frame: never across time."""

    def __init__(self, channels: int, groups: int = 8, eps: float = 1e-6) -> None:
        super().__init__()
        self.groups, self.eps = math.gcd(groups, channels), eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        g = x.reshape(n, self.groups, c // self.groups, t, h * w)
        var, mean = torch.var_mean(g, dim=(2, 4), keepdim=True, unbiased=False)
        g = (g - mean) * torch.rsqrt(var + self.eps)
        return g.reshape(n, c, t, h, w) * self.weight.view(1, c, 1, 1, 1) + self.bias.view(1, c, 1, 1, 1)


class ResBlock3d(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = FrameGroupNorm(ch), TConv3d(ch, ch)
        self.norm2, self.conv2 = FrameGroupNorm(ch), TConv3d(ch, ch)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Upsample(nn.Module):
    def __init__(self, ft: int, fs: int) -> None:
        super().__init__()
        self.scale = (ft, fs, fs)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")


def _channels(cfg: TATSConfig, level: int) -> int:
    return min(cfg.ch * 2 ** level, cfg.ch_max)


def _temporal_radius(layers: list[nn.Module], rate: float) -> float:
    """Conservative temporal reach (in units of the first layer's input positions) of a chain of layers.

    ``rate`` = input positions per position at the current layer; k-tap convs add ``(k - 1) * rate``.
    """
    total = 0.0
    for m in layers:
        if isinstance(m, TConv3d):
            total += m.radius * rate
            rate *= m.st
        elif isinstance(m, Upsample):
            if m.scale[0] > 1:
                total += rate  # nearest: output frame j reads input floor(j / f)
                rate /= m.scale[0]
    return total


class Encoder(nn.Module):
    def __init__(self, cfg: TATSConfig) -> None:
        super().__init__()
        levels, t_levels = int(math.log2(cfg.s_down)), int(math.log2(cfg.t_down))
        layers: list[nn.Module] = [TConv3d(3, _channels(cfg, 0))]
        for i in range(levels):
            kt, st = (4, 2) if i < t_levels else (3, 1)
            layers.append(TConv3d(_channels(cfg, i), _channels(cfg, i + 1), kt=kt, ks=4, st=st, ss=2))
        self.down = nn.ModuleList(layers)
        c = _channels(cfg, levels)
        self.blocks = nn.Sequential(*[ResBlock3d(c) for _ in range(cfg.res_blocks)])
        self.norm_out = FrameGroupNorm(c)
        self.conv_out = nn.Conv3d(c, cfg.code_dim, 1)
        convs = list(self.down) + [conv for b in self.blocks for conv in (b.conv1, b.conv2)]
        self.radius = math.ceil(_temporal_radius(convs, 1.0))  # in frames

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.down):
            x = layer(x) if i == 0 else layer(F.silu(x))
        x = self.blocks(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg: TATSConfig) -> None:
        super().__init__()
        levels, t_levels = int(math.log2(cfg.s_down)), int(math.log2(cfg.t_down))
        c = _channels(cfg, levels)
        self.conv_in = TConv3d(cfg.code_dim, c)
        self.blocks = nn.Sequential(*[ResBlock3d(c) for _ in range(cfg.res_blocks)])
        ups: list[nn.Module] = []
        for i in reversed(range(levels)):
            ups += [Upsample(2 if i < t_levels else 1, 2), TConv3d(_channels(cfg, i + 1), _channels(cfg, i))]
        self.up = nn.ModuleList(ups)
        self.norm_out = FrameGroupNorm(_channels(cfg, 0))
        self.conv_out = TConv3d(_channels(cfg, 0), 3)
        chain = [self.conv_in, *[conv for b in self.blocks for conv in (b.conv1, b.conv2)], *ups, self.conv_out]
        self.radius = math.ceil(_temporal_radius(chain, 1.0))  # in latent frames

    def forward(self, z: Tensor) -> Tensor:
        x = self.blocks(self.conv_in(z))
        for layer in self.up:
            x = layer(x) if isinstance(layer, Upsample) else F.silu(layer(x))
        return self.conv_out(F.silu(self.norm_out(x)))


class Quantizer(nn.Module):
    """Nearest code by cosine similarity (unit-norm codes and inputs); straight-through gradients.

    Dead codes are restarted (as in TATS's VQGAN): ``usage`` is a moving average (decay ``USAGE_DECAY`` per
    training step) of each code's share of the batch's positions relative to uniform use (1 = uniform);
    codes below ``restart_threshold`` are moved onto random encoder outputs of the current batch.
    """

    USAGE_DECAY = 0.9

    def __init__(self, size: int, dim: int, beta: float, restart_threshold: float = 0.0) -> None:
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(size, dim))
        self.register_buffer("usage", torch.ones(size))
        self.beta, self.restart_threshold = beta, restart_threshold

    def codes(self) -> Tensor:
        return F.normalize(self.codebook, dim=1)

    def lookup(self, idx: Tensor) -> Tensor:
        """``[N, t, h, w]`` indices -> ``[N, D, t, h, w]`` unit codes."""
        return self.codes()[idx].permute(0, 4, 1, 2, 3)

    def indices(self, z: Tensor) -> Tensor:
        """``[N, D, t, h, w]`` (unit vectors) -> ``[N, t, h, w]`` nearest code indices."""
        flat = z.permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1])
        return (flat @ self.codes().t()).argmax(dim=1).reshape(z.shape[0], *z.shape[2:])

    @torch.no_grad()
    def restart_dead(self, z: Tensor, idx: Tensor, gen: torch.Generator) -> int:
        """Update ``usage`` from one training batch and restart dead codes; returns how many were restarted.

        Every rank gets rank 0's replacement vectors (the codebook stays identical across ranks)."""
        size = self.codebook.shape[0]
        counts = torch.bincount(idx.flatten(), minlength=size).float()
        if dist.is_distributed():
            torch.distributed.all_reduce(counts)
        self.usage.mul_(self.USAGE_DECAY).add_(counts / counts.sum() * size, alpha=1 - self.USAGE_DECAY)
        dead = (self.usage < self.restart_threshold).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        flat = z.detach().float().permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1])
        pick = torch.randint(flat.shape[0], (dead.numel(),), generator=gen)
        new = flat[pick.to(flat.device)].contiguous()
        if dist.is_distributed():
            torch.distributed.broadcast(new, src=0)
        self.codebook[dead] = new.to(self.codebook.dtype)
        self.usage[dead] = 1.0
        return int(dead.numel())

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(z_q, indices, vq_loss)``; ``z_q`` is exactly ``lookup(indices)`` unless ``z`` needs gradients."""
        idx = self.indices(z.detach())
        zq = self.lookup(idx)
        loss = (zq - z.detach()).square().mean() + self.beta * (z - zq.detach()).square().mean()
        if z.requires_grad:
            zq = z + (zq - z).detach()
        return zq, idx, loss


# ---------------------------------------------------------------------------------------------- GPT
class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: Tensor, cache: dict[str, Tensor] | None = None) -> Tensor:
        n, t, c = x.shape
        q, k, v = (y.view(n, t, self.heads, c // self.heads).transpose(1, 2)
                   for y in self.qkv(self.ln1(x)).split(c, dim=2))
        past = cache is not None and "k" in cache
        if past:
            if t != 1:
                raise ValueError("cached attention takes one token at a time")
            k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
        if cache is not None:
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(q, k, v, is_causal=not past and t > 1)
        x = x + self.proj(y.transpose(1, 2).reshape(n, t, c))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Causal transformer over ``[SOS, token_0, ..., token_{L-1}]`` with learned positions."""

    def __init__(self, vocab: int, length: int, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.length = length  # tokens per window (positions: SOS + length - 1 conditioning tokens)
        self.tok = nn.Embedding(vocab, width)
        self.sos = nn.Parameter(torch.randn(width) * 0.02)
        self.pos = nn.Parameter(torch.randn(length, width) * 0.02)
        self.blocks = nn.ModuleList([_Block(width, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        nn.init.normal_(self.tok.weight, std=0.02)

    def forward(self, tokens: Tensor, *, sos: bool = True, pos0: int = 0,
                cache: list[dict[str, Tensor]] | None = None) -> Tensor:
        """Logits ``[N, T, vocab]`` for the positions ``pos0 ..`` (position 0 = SOS when ``sos``)."""
        x = self.tok(tokens)
        if sos:
            x = torch.cat([self.sos.expand(tokens.shape[0], 1, -1), x], dim=1)
        t = x.shape[1]
        if pos0 + t > self.length:
            raise ValueError(f"GPT window holds {self.length} positions, asked for {pos0} .. {pos0 + t - 1}")
        x = x + self.pos[pos0:pos0 + t]
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i])
        return self.head(self.ln(x))


# ---------------------------------------------------------------------------------------------- generator
class TATSGenerator(nn.Module):
    """The exported model: time-agnostic VQ tokenizer + GPT; :meth:`frames` renders any frame range."""

    def __init__(self, cfg: TATSConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)
        self.quantizer = Quantizer(cfg.codebook_size, cfg.code_dim, cfg.commit_weight, cfg.restart_threshold)
        h, w = cfg.latent_hw
        self.gpt = GPT(cfg.codebook_size, cfg.window * h * w, cfg.gpt_width, cfg.gpt_layers, cfg.gpt_heads)

    @property
    def decode_radius(self) -> int:
        """Latent frames of context each side that a decoded latent frame can depend on."""
        return self.decoder.radius

    def tokenizer_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder.parameters(), *self.quantizer.parameters(), *self.decoder.parameters()]

    # tokenizer -------------------------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """``[N, 3, T, H, W]`` (T a multiple of t_down) -> unit latents ``[N, D, T / t_down, h, w]``."""
        return F.normalize(self.encoder(x), dim=1)

    def quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.quantizer(z)

    def encode_indices(self, x: Tensor) -> Tensor:
        return self.quantizer.indices(self.encode(x))

    def lookup(self, idx: Tensor) -> Tensor:
        return self.quantizer.lookup(idx)

    def decode(self, zq: Tensor) -> Tensor:
        """``[N, D, t, h, w]`` -> ``[N, 3, t * t_down, H, W]`` (not clamped)."""
        return self.decoder(zq)

    # sampling --------------------------------------------------------------------------------------
    @torch.no_grad()
    def latent_tokens(self, seed: int | Sequence[int], count: int) -> Tensor:
        """The first ``count`` latent frames ``[count, h, w]`` of video ``seed`` (sliding-window GPT), or
        ``[N, count, h, w]`` for a list of seeds sampled together: one GPT forward per token for the whole
        batch, each video drawing from its own generator (a batch computes the logits with other float
        rounding than one video alone, so a token can differ from the single-video sampling)."""
        cfg = self.cfg
        h, w = cfg.latent_hw
        hw, win = h * w, cfg.window
        dev = self.gpt.pos.device
        seeds = [seed] if isinstance(seed, int) else [int(s) for s in seed]
        n = len(seeds)
        gens = [torch.Generator().manual_seed(_video_seed(s)) for s in seeds]
        out = torch.empty(n, count, hw, dtype=torch.long)
        for k in range(count):
            ctx = out[:, max(0, k - win + 1):k].reshape(n, -1).to(dev)
            cache: list[dict[str, Tensor]] = [{} for _ in self.gpt.blocks]
            logits = self.gpt(ctx, sos=True, cache=cache)[:, -1]
            pos = ctx.shape[1] + 1
            for j in range(hw):
                tok = self._sample(logits.float(), gens)
                out[:, k, j] = tok
                if j + 1 < hw:
                    logits = self.gpt(tok[:, None].to(dev), sos=False, pos0=pos, cache=cache)[:, -1]
                    pos += 1
        out = out.reshape(n, count, h, w)
        return out[0] if isinstance(seed, int) else out

    def _sample(self, logits: Tensor, gens: list[torch.Generator]) -> Tensor:
        """One token per row of ``logits`` ``[N, vocab]`` (temperature, top-k), row ``i`` by inverse-CDF
        sampling with a uniform from its own generator: the rows never share a random stream."""
        logits = logits.cpu() / self.cfg.temperature
        if 0 < self.cfg.top_k < logits.shape[1]:
            kth = torch.topk(logits, self.cfg.top_k, dim=1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        cdf = torch.softmax(logits.double(), dim=1).cumsum(dim=1)
        u = torch.stack([torch.rand((), generator=g, dtype=torch.float64) for g in gens])
        return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).squeeze(1).clamp_max(logits.shape[1] - 1)

    @torch.no_grad()
    def decode_chunk(self, zq: Tensor, c: int) -> Tensor:
        """Frames of latent chunk ``c`` (latent frames ``cC .. cC + C - 1``, C = ``decode_chunk``) from
        ``zq [1, D, L, h, w]``: decoded from latents ``max(0, cC - R) .. cC + C + R - 1`` (R =
        :attr:`decode_radius`) and cropped, so a chunk's frames never depend on what else is decoded."""
        win, r, td = self.cfg.decode_chunk, self.decode_radius, self.cfg.t_down
        a, b = max(0, c * win - r), (c + 1) * win + r
        if b > zq.shape[2]:
            raise ValueError(f"chunk {c} needs {b} latent frames, got {zq.shape[2]}")
        x = self.decode(zq[:, :, a:b])
        s = (c * win - a) * td
        return x[0, :, s:s + win * td]

    @torch.no_grad()
    def frames(self, seed: int, t0: int, num_frames: int) -> Tensor:
        """Frames ``t0 .. t0 + num_frames - 1`` of video ``seed``: ``[3, num_frames, H, W]`` in [-1, 1]."""
        if t0 < 0 or num_frames < 0:
            raise ValueError(f"t0 and num_frames must be >= 0, got {t0}, {num_frames}")
        if num_frames == 0:
            return torch.zeros(3, 0, self.cfg.height, self.cfg.width, device=self.gpt.pos.device)
        return self._render(self.latent_tokens(seed, self._latents_needed(t0, num_frames)), t0, num_frames)

    @torch.no_grad()
    def frames_batch(self, seeds: Sequence[int], t0s: Sequence[int], num_frames: int) -> list[Tensor]:
        """:meth:`frames` of several videos, their tokens sampled together (see :meth:`latent_tokens`)."""
        if not seeds or min(t0s) < 0 or num_frames < 1:
            raise ValueError("give at least one seed, t0 >= 0 and num_frames >= 1")
        tokens = self.latent_tokens(list(seeds), max(self._latents_needed(t, num_frames) for t in t0s))
        return [self._render(tok, t, num_frames) for tok, t in zip(tokens, t0s, strict=True)]

    def _latents_needed(self, t0: int, num_frames: int) -> int:
        per_chunk = self.cfg.decode_chunk * self.cfg.t_down
        return ((t0 + num_frames - 1) // per_chunk + 1) * self.cfg.decode_chunk + self.decode_radius

    def _render(self, tokens: Tensor, t0: int, num_frames: int) -> Tensor:
        per_chunk = self.cfg.decode_chunk * self.cfg.t_down
        c0, c1 = t0 // per_chunk, (t0 + num_frames - 1) // per_chunk
        zq = self.lookup(tokens[None].to(self.gpt.pos.device))
        video = torch.cat([self.decode_chunk(zq, c) for c in range(c0, c1 + 1)], dim=1)
        s = t0 - c0 * per_chunk
        return video[:, s:s + num_frames].clamp(-1, 1)


# ---------------------------------------------------------------------------------------------- discriminator
class TATSDiscriminator(nn.Module):
    """3D-conv PatchGAN on whole clips: strided convs (time halved while > 2 frames) down to 4x4 patches."""

    def __init__(self, cfg: TATSDiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        levels = max(1, int(math.log2(min(cfg.height, cfg.width))) - 2)
        layers: list[nn.Module] = []
        c_in, t = 3, cfg.frames
        for i in range(levels):
            c_out = min(cfg.ch * 2 ** i, cfg.ch_max)
            st = 2 if t > 2 else 1
            layers += [TConv3d(c_in, c_out, kt=4 if st == 2 else 3, ks=4, st=st, ss=2), nn.LeakyReLU(0.2)]
            c_in, t = c_out, t // st
        layers.append(TConv3d(c_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Patch logits ``[N, P]``."""
        return self.net(x).flatten(1)


# ---------------------------------------------------------------------------------------------- training
def build(tc: BaselineTrainConfig) -> tuple[TATSGenerator, TATSDiscriminator]:
    """Tokenizer + GPT and the discriminator of a ``baselines.tats`` section, initialised from its seed only."""
    h, w = parse_resolution(tc.resolution)

    def configs() -> tuple[TATSConfig, TATSDiscriminatorConfig]:
        g = TATSConfig.preset(tc.preset, height=h, width=w, **tc.generator)
        return g, TATSDiscriminatorConfig.preset(tc.preset, height=h, width=w, frames=g.train_frames,
                                                 **tc.discriminator)

    return build_networks(tc, METHOD, configs, TATSGenerator, TATSDiscriminator)


class TATSTrainer(BaselineAlgorithm):
    """TATS-lite as an :class:`lvg.train.loop.Algorithm`: tokenizer steps, then GPT steps."""

    method = METHOD
    loss_names = ("loss_rec", "loss_vq", "code_perplexity", "codes_restarted", "loss_G_adv", "loss_D", "loss_gpt")
    data_max_gap = 1  # consecutive real frames
    STREAMS: ClassVar[dict[str, tuple[int, bool]]] = {"augment": (AUGMENT, True),
                                                      "restart": (RESTART, False)}  # restarts: same on all ranks

    def __init__(self, tc: BaselineTrainConfig, info: DistInfo | None = None) -> None:
        super().__init__(tc, info)  # batch split, RNG streams "augment" and "restart"
        G, D = build(tc)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        self.G_ema = self.G  # no EMA (TATS has none): the exported model is the trained one
        self.networks: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.opt_tok = adam(self.G.tokenizer_parameters(), tc.lr_g, betas=(0.5, 0.9))
        self.opt_D = adam(self.D.parameters(), tc.lr_d, betas=(0.5, 0.9))
        self.opt_gpt = adam(self.G.gpt.parameters(), self.G.cfg.gpt_lr, betas=(0.9, 0.95))
        self.optimizers = {"tokenizer": self.opt_tok, "D": self.opt_D, "gpt": self.opt_gpt}
        # with a compute budget (budget_s) stage 1 ends, and the tokenizer's GAN loss starts, when their shares
        # of it are spent (on_clock); until then both sit at the step bound
        budgeted = tc.budget_s is not None
        self.stage1_steps = tc.steps if budgeted else min(tc.steps, max(0, round(tc.stage_split * tc.steps)))
        self.gan_from: int | None = tc.steps if budgeted else None

    @property
    def num_frames(self) -> int:
        return self.G.cfg.train_frames

    def gan_start(self) -> int:
        return self.gan_from if self.gan_from is not None else round(self.D.cfg.gan_start * self.stage1_steps)

    def on_clock(self, step: int, train_s: float, budget_s: float | None) -> None:
        """Budgeted runs: the GAN loss from ``gan_start`` of stage 1's share, the GPT from ``stage_split``."""
        if budget_s is None:
            return
        stage1_s = self.tc.stage_split * budget_s
        if step < self.gan_from and train_s >= self.D.cfg.gan_start * stage1_s:
            self.gan_from = step
        if step < self.stage1_steps and train_s >= stage1_s:
            self.stage1_steps = step

    def rank_state(self) -> dict[str, Any]:
        return super().rank_state() | {"stage1_steps": self.stage1_steps, "gan_from": self.gan_from}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        super().load_rank_state(state)
        self.stage1_steps = int(state["stage1_steps"])  # the schedule the run started with
        self.gan_from = state.get("gan_from")

    def _D(self, video: Tensor) -> Tensor:
        if self.tc.augment:
            video = diff_augment(video, generator=self.rng["augment"])
        with self.autocast():
            return self.D(video).float()

    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]:
        real = batches.next()["video"].float()
        if step < self.stage1_steps:
            return self._step_tokenizer(real, gan=step >= self.gan_start() and self.D.cfg.gan_weight > 0)
        return self._step_gpt(real)

    def _step_tokenizer(self, real: Tensor, gan: bool) -> dict[str, float]:
        G = self.G
        G.requires_grad_(False)
        for p in G.tokenizer_parameters():
            p.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_tok.zero_grad(set_to_none=True)
        with self.autocast():
            z = G.encode(real)
            zq, idx, loss_vq = G.quantize(z)
            recon = G.decode(zq)
        recon, loss_vq = recon.float(), loss_vq.float()
        loss_rec = (recon - real).abs().mean()
        loss = loss_rec + loss_vq
        out = {"loss_rec": float(loss_rec.detach()), "loss_vq": float(loss_vq.detach())}
        if gan:
            adv = -self._D(recon).mean()
            loss = loss + self.D.cfg.gan_weight * adv
            out["loss_G_adv"] = float(adv.detach())
        loss.backward()
        dist.all_reduce_grads(G.tokenizer_parameters())
        self.opt_tok.step()
        counts = torch.bincount(idx.flatten(), minlength=G.cfg.codebook_size).double()
        p = counts / counts.sum()
        out["code_perplexity"] = float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))
        if G.cfg.restart_threshold > 0:
            out["codes_restarted"] = float(G.quantizer.restart_dead(z, idx, self.rng["restart"]))
        if gan:
            self.D.requires_grad_(True)
            self.opt_D.zero_grad(set_to_none=True)
            loss_d = F.relu(1 - self._D(real)).mean() + F.relu(1 + self._D(recon.detach())).mean()
            loss_d.backward()
            dist.all_reduce_grads(self.D.parameters())
            self.opt_D.step()
            out["loss_D"] = float(loss_d.detach())
        return out

    def _step_gpt(self, real: Tensor) -> dict[str, float]:
        G = self.G
        G.requires_grad_(False)
        G.gpt.requires_grad_(True)
        with torch.no_grad(), self.autocast():
            tokens = G.encode_indices(real).flatten(1)
        self.opt_gpt.zero_grad(set_to_none=True)
        with self.autocast():
            logits = G.gpt(tokens[:, :-1], sos=True)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tokens.reshape(-1))
        loss.backward()
        dist.all_reduce_grads(G.gpt.parameters())
        self.opt_gpt.step()
        return {"loss_gpt": float(loss.detach())}

    def export_extra(self) -> dict[str, Any]:
        return {"stage1_steps": self.stage1_steps}


CONFIG, GENERATOR, ALGORITHM = TATSConfig, TATSGenerator, TATSTrainer
