"""Super-resolution networks: conditioning against the reference fixture, parameter counts, the layer
schedule, per-frame independence and chunking, tiny-preset smoke tests, and the discriminator's LR dropout."""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lvg.nn.filtered import design_lowpass_filter, filtered_lrelu, upfirdn2d
from lvg.superres.conditioning import KaiserDownsample, KaiserUpsample, SRConditioning, stack_windows
from lvg.superres.discriminator import SRDiscriminator, SRDiscriminatorConfig
from lvg.superres.generator import SRGenerator, SRGeneratorConfig, count_parameters, layer_schedule

FIXTURES = Path(os.environ.get("LVG_FIXTURES", Path(__file__).resolve().parents[2] / "shared/fixtures/reference"))
RTOL = 1e-5  # max|ours - ref| / max|ref|; README: exact float32 re-implementations reach ~1e-6
STORED_CHANNELS = [0, 13, 26]  # the fixture keeps these of the 27 conditioning channels


@cache
def _load(name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(FIXTURES / f"{name}.safetensors"))


def load_fixture(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    if not (FIXTURES / f"{name}.safetensors").exists() or not (FIXTURES / "fixtures.json").exists():
        pytest.fail(f"fixture {name} not found under {FIXTURES} (set LVG_FIXTURES)")
    return _load(name), json.loads((FIXTURES / "fixtures.json").read_text())["fixtures"][name]


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape, f"shape {tuple(ours.shape)} != reference {tuple(ref.shape)}"
    return ((ours.double() - ref.double()).abs().max() / ref.double().abs().max()).item()


# ---------------------------------------------------------------------------------------------------------
# Conditioning against the reference


def test_sr_conditioning_matches_reference() -> None:
    t, meta = load_fixture("sr_conditioning")
    table = meta["layer_table"]
    args = meta["constructor_args"]
    lr_size = (args["lr_height"], args["lr_width"])
    rates = [row["in_sampling_rate"] for row in table]
    sizes = [(row["in_size_wh"][1], row["in_size_wh"][0]) for row in table]

    # our generator's own schedule must reproduce the reference's layer table
    specs = layer_schedule(SRGeneratorConfig.paper())
    assert [s.in_sampling_rate for s in specs] == rates
    assert [s.in_size for s in specs] == sizes
    assert [s.name for s in specs] == [row["layer_name"] for row in table]

    cond = SRConditioning(lr_size, rates, sizes, temporal_context=args["temporal_context"],
                          margin=args["margin_size"])
    lr = t["input.lr_window"]  # [1, 3, 9, 36, 64]: one output frame
    via_windows = cond(stack_windows(lr, args["temporal_context"]))
    via_video = cond.forward_video(lr)
    stored = sorted({row["stored_as"] for row in table})
    assert stored == sorted(k for k in t if k.startswith("output.cond."))
    errors = {}
    for i, row in enumerate(table):
        assert list(via_windows[i].shape) == [1, 27, *sizes[i]] == [1, 27, *row["cond_shape"][2:]]
        ref = t[row["stored_as"]]
        errors[row["layer_name"]] = rel_err(via_windows[i][:, STORED_CHANNELS], ref)
        assert torch.equal(via_video[i], via_windows[i])
    assert max(errors.values()) <= RTOL, errors


@pytest.mark.parametrize("name,module,ref_index", [
    ("down4", KaiserDownsample(4), 0), ("down2", KaiserDownsample(2), 4),
    ("up2", KaiserUpsample(2), 8), ("up4", KaiserUpsample(4), 11),
])
def test_kaiser_resamplers_match_reference(name: str, module: torch.nn.Module, ref_index: int) -> None:
    t, _ = load_fixture("sr_conditioning")
    assert rel_err(module.filter, t[f"buffer.resamples.{ref_index}.filter"]) <= 1e-7
    assert rel_err(module(t[f"input.resample_{name}"]), t[f"output.resample_{name}"]) <= RTOL


def test_stack_windows_is_channel_major() -> None:
    n, t, h, w = 2, 3, 4, 5
    video = torch.arange(n * 3 * (t + 8) * h * w, dtype=torch.float32).reshape(n, 3, t + 8, h, w)
    win = stack_windows(video)
    assert win.shape == (n * t, 27, h, w)
    for b in range(n):
        for f in range(t):
            for c in range(3):
                for s in range(9):
                    assert torch.equal(win[b * t + f, c * 9 + s], video[b, c, f + s])


# ---------------------------------------------------------------------------------------------------------
# Primitives in lvg.nn.filtered


def _upfirdn2d_naive(x, f, up, down, pad, gain):
    """Zero insertion, pad/crop, 2D outer-product filter (true convolution), decimation: the definition."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad
    z = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    z[:, :, ::up, ::up] = x
    z = F.pad(z, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    z = z[:, :, max(-py0, 0):z.shape[2] - max(-py1, 0), max(-px0, 0):z.shape[3] - max(-px1, 0)]
    k = (torch.outer(f, f) * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(z, k, groups=c)[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad,taps", [
    (1, 1, (2, 1, 0, 3), 5), (2, 1, (9, 8, 9, 8), 12), (4, 1, (-6, -9, -6, -9), 24), (1, 2, (0, 0, 0, 0), 12),
    (1, 2, (1, 1, 1, 1), 4), (2, 2, (-5, -6, -3, -2), 12), (4, 2, (3, 0, 5, 2), 24), (1, 1, (1, -2, 0, 0), 1),
])
def test_upfirdn2d_matches_definition(up: int, down: int, pad: tuple, taps: int) -> None:
    g = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(2, 3, 15, 17, generator=g, dtype=torch.float64)
    f = torch.rand(taps, generator=g, dtype=torch.float64)
    ours = upfirdn2d(x, f, up=up, down=down, padding=pad, gain=up * up)
    ref = _upfirdn2d_naive(x, f, up, down, pad, up * up)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, atol=1e-12)


def test_filtered_lrelu_keeps_dc_and_applies_lrelu() -> None:
    """Unit-DC Kaiser filters: a constant input c comes out as lrelu(c + b) * sqrt(2) away from the borders."""
    fu = design_lowpass_filter(12, 2.0, 8.0, 32.0)
    fd = design_lowpass_filter(12, 2.0, 8.0, 32.0)
    assert fu is not None and fd is not None and abs(fu.sum().item() - 1) < 1e-6
    assert design_lowpass_filter(1, 2.0, 8.0, 32.0) is None
    x = torch.full((1, 2, 24, 24), 0.5)
    b = torch.tensor([0.25, -1.0])
    y = filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=(9, 8, 9, 8), clamp=256.0)
    assert y.shape == (1, 2, 22, 22)
    centre = y[0, :, 9:13, 9:13]
    assert torch.allclose(centre[0], torch.full_like(centre[0], 0.75 * math.sqrt(2)), atol=1e-5)
    assert torch.allclose(centre[1], torch.full_like(centre[1], -0.5 * 0.2 * math.sqrt(2)), atol=1e-5)
    clamped = filtered_lrelu(x * 1e4, fu, fd, None, up=2, down=2, padding=(9, 8, 9, 8), clamp=256.0)
    assert clamped.abs().max() <= 256.0 * 1.0001


# ---------------------------------------------------------------------------------------------------------
# Parameter counts and schedule of the paper presets (meta device: no memory, fast)


@pytest.mark.parametrize("square", [False, True])
def test_paper_generator_parameter_count(square: bool) -> None:
    with torch.device("meta"):
        g = SRGenerator(SRGeneratorConfig.paper(square=square))
    assert count_parameters(g) == 27_169_940
    assert count_parameters(g.mapping) == 2 * (512 * 512 + 512)


@pytest.mark.parametrize("square", [False, True])
def test_paper_discriminator_parameter_count(square: bool) -> None:
    with torch.device("meta"):
        d = SRDiscriminator(SRDiscriminatorConfig.paper(square=square))
    assert count_parameters(d) == 23_997_825
    assert [d.cfg.channels_at(r) for r in (256, 128, 64, 32, 16, 8, 4)] == [64, 128, 256, 512, 512, 512, 512]


def test_paper_schedule_matches_spec() -> None:
    specs = layer_schedule(SRGeneratorConfig.paper())
    assert len(specs) == 15 and specs[-1].is_torgb
    assert sum(s.is_critically_sampled and not s.is_torgb for s in specs) == 2  # + ToRGB, as in SG3
    assert [s.out_sampling_rate for s in specs] == [16, 16, 16, 32, 32, 64, 64, 128, 128, 128] + [256] * 5
    assert [s.out_channels for s in specs] == [512] * 9 + [362, 256, 181, 128, 128, 3]
    assert [(s.out_size[1], s.out_size[0]) for s in specs] == (
        [(36, 29)] * 3 + [(52, 38)] * 2 + [(84, 56)] * 2 + [(148, 92)] * 3 + [(276, 164)] * 3 + [(256, 144)] * 2)
    assert specs[0].in_channels == 27 and all(s.in_channels == p.out_channels + 27 for p, s in zip(specs[:-1], specs[1:], strict=True))
    assert sum(s.use_fp16 for s in specs) == 12
    # every layer lands exactly on its output grid (checked by the padding formula's invariant)
    for s in specs:
        for axis, (p0, p1) in ((1, s.padding[:2]), (0, s.padding[2:])):
            pre = (s.in_size[axis] + s.conv_kernel - 1) * s.up + p0 + p1 - s.up_taps + 1
            assert (pre - s.down_taps + 1 + s.down - 1) // s.down == s.out_size[axis]


def test_paper_layers_are_centre_aligned() -> None:
    """Each layer's grids share their centre: a mirror-symmetric input gives a mirror-symmetric output through
    the full 3x3 conv (centre tap), the Kaiser up/down filters, the padding and the nonlinearity."""
    from lvg.superres.generator import _lowpass

    g = torch.Generator().manual_seed(0)
    for s in layer_schedule(SRGeneratorConfig.paper()):
        x = torch.randn(1, 1, *s.in_size, generator=g, dtype=torch.float64)
        x = x + x.flip(-1) + x.flip(-2) + x.flip(-1, -2)
        k = s.conv_kernel
        x = F.pad(x, [(k - 1) // 2] * 4)  # full k x k conv with only the centre tap
        fu = _lowpass(s.up_taps, s.in_cutoff, s.in_half_width * 2, s.in_sampling_rate * s.up).double()
        fd = _lowpass(s.down_taps, s.out_cutoff, s.out_half_width * 2, s.out_sampling_rate * s.down).double()
        y = filtered_lrelu(x, fu if s.up_taps > 1 else None, fd if s.down_taps > 1 else None, up=s.up,
                           down=s.down, padding=s.padding)
        assert y.shape[-2:] == s.out_size, s.name
        assert torch.allclose(y, y.flip(-1), atol=1e-12) and torch.allclose(y, y.flip(-2), atol=1e-12), s.name


def test_config_round_trip() -> None:
    g = SRGeneratorConfig.tiny(square=False)
    assert SRGeneratorConfig.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    d = SRDiscriminatorConfig.paper()
    assert SRDiscriminatorConfig.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    with pytest.raises(ValueError):
        SRGeneratorConfig.preset("huge")
    with pytest.raises(ValueError):
        SRGeneratorConfig.from_dict({"bogus": 1})


# ---------------------------------------------------------------------------------------------------------
# Generator behaviour (tiny preset)


@cache
def _tiny_g(square: bool = True) -> SRGenerator:
    torch.manual_seed(0)
    g = SRGenerator(SRGeneratorConfig.tiny(square=square)).eval()
    with torch.no_grad():  # non-trivial biases and EMA gains, so they matter in the checks
        for layer in g.layers:
            layer.bias.normal_(0, 0.1)
            layer.magnitude.magnitude_ema.fill_(1.3)
    return g


def _lr(cfg: SRGeneratorConfig, n: int, t: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, t + 8, cfg.lr_height, cfg.lr_width, generator=g) * 2 - 1


@torch.no_grad()
def test_each_hr_frame_sees_only_its_window() -> None:
    g = _tiny_g()
    lr, z = _lr(g.cfg, 2, 4, 1), torch.randn(2, g.cfg.z_dim, generator=torch.Generator().manual_seed(2))
    base = g(lr, z)
    t = 1  # output frame t uses input frames t .. t + 8 (= LR frames t - 4 .. t + 4 around it)
    for frame in (0, 1, 5, 9, 10):  # just outside, first, middle, last, just outside
        pert = lr.clone()
        pert[0, :, frame] += 0.5
        out = g(pert, z)
        changed = (out[0, :, t] != base[0, :, t]).any().item()
        assert changed == (t <= frame <= t + 8), frame
        assert torch.equal(out[1], base[1])  # other videos are untouched
    z2 = z.clone()
    z2[0] += 1.0
    out = g(lr, z2)
    assert (out[0] != base[0]).flatten(1).any(dim=1).all() and torch.equal(out[1], base[1])


@torch.no_grad()
def test_lr_skip_adds_the_upsampled_centre_frame() -> None:
    g = _tiny_g()
    skip = SRGenerator(SRGeneratorConfig.tiny(lr_skip=True)).eval()
    skip.load_state_dict(g.state_dict())  # the option adds no parameters
    assert SRGeneratorConfig.from_dict(skip.cfg.to_dict()).lr_skip and not g.cfg.lr_skip
    y, x = torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16), indexing="ij")
    lr = torch.stack([torch.stack([0.5 * x + 0.05 * t, 0.5 * y, 0.4 * x * y - 0.03 * t]) for t in range(12)], 1)[None]
    z = torch.randn(1, g.cfg.z_dim, generator=torch.Generator().manual_seed(3))
    added = skip(lr, z) - g(lr, z)  # [1, 3, 4, 32, 32]: output frame t is centred on LR frame t + 4
    up = F.interpolate(lr[0, :, 4:8].transpose(0, 1), size=(32, 32), mode="bilinear", align_corners=False)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))  # the borders: replicate padding differs
    assert (added[0].transpose(0, 1)[inner] - up[inner]).abs().max() < 1e-3
    assert (added[0].transpose(0, 1) - up).abs().mean() < 0.01


@torch.no_grad()
def test_chunked_generation_equals_one_pass() -> None:
    g = _tiny_g()
    lr, z = _lr(g.cfg, 1, 8, 3), torch.randn(1, g.cfg.z_dim, generator=torch.Generator().manual_seed(4))
    full = g(lr, z)
    chunked = g.forward_chunked(lr, z, frames_per_chunk=3)  # chunks of 3, 3, 2 output frames
    assert chunked.shape == full.shape == (1, 3, 8, 32, 32)
    assert torch.allclose(chunked, full, rtol=0, atol=1e-6)
    # same chunk shape at two offsets: the shared frames are bit-identical
    a, b = g(lr[:, :, 0:12], z), g(lr[:, :, 3:15], z)
    assert torch.equal(a[:, :, 3:], b[:, :, :1])
    # the per-frame API computes the same function as forward
    w = g.mapping(z).repeat_interleave(4, dim=0)
    frames = g.synthesize_frames(stack_windows(lr[:, :, 0:12]), w)
    assert torch.allclose(frames.reshape(1, 4, 3, 32, 32).transpose(1, 2), a, rtol=0, atol=1e-6)


@pytest.mark.parametrize("n", [1, 2])
def test_inference_pieces_compute_the_training_function(n: int) -> None:
    """Without autograd, forward resamples the LR clip per COND_FRAMES output frames and synthesises
    SYNTH_FRAMES at a time (one frame of one video: modulation folded into the weights); with autograd it is
    one pass through modulated_conv2d. Same function up to rounding, whatever the piece sizes."""
    g = _tiny_g()
    for i, layer in enumerate(g.layers):  # a non-trivial input gain, which the folded weights must carry
        layer.magnitude.magnitude_ema.fill_(0.5 + 0.1 * i)
    lr, z = _lr(g.cfg, n, 7, 8), torch.randn(n, g.cfg.z_dim, generator=torch.Generator().manual_seed(9))
    ref = g(lr, z).detach()  # autograd on: the training path
    for cond_frames, synth_frames in ((32, 1), (3, 2), (1, 1)):
        g.COND_FRAMES, g.SYNTH_FRAMES = cond_frames, synth_frames
        with torch.no_grad():
            out = g(lr, z)
        assert out.shape == ref.shape and (out - ref).abs().max() < 1e-5 * ref.abs().max(), (cond_frames, synth_frames)
    assert g.layers[1]._weight_cache is not None  # the weight normalisation is computed once and reused
    x = torch.randn(2, 5, 15, 17, dtype=torch.float64)
    f = torch.rand(12, dtype=torch.float64)
    cl = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(upfirdn2d(x, f, up=2, padding=3, gain=4), upfirdn2d(cl, f, up=2, padding=3, gain=4))


@pytest.mark.parametrize("square", [True, False])
def test_tiny_generator_forward_backward_autocast(square: bool) -> None:
    torch.manual_seed(5)
    cfg = SRGeneratorConfig.tiny(square=square)
    g = SRGenerator(cfg)
    lr, z = _lr(cfg, 2, 3, 6), torch.randn(2, cfg.z_dim)
    out = g(lr, z, update_ema=True)
    assert out.shape == (2, 3, 3, cfg.hr_height, cfg.hr_width) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and 0 < out.abs().max() < 10
    assert all(layer.magnitude.magnitude_ema.item() != 1.0 for layer in g.layers)
    out.square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert g.layers[0].weight.grad.abs().sum() > 0 and g.mapping.layers[0].weight.grad.abs().sum() > 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out16 = g(lr, z)
    assert out16.dtype == torch.float32 and torch.isfinite(out16).all()
    ref = g(lr, z).detach()
    assert (out16 - ref).abs().max() < 0.1 * ref.abs().max()


# ---------------------------------------------------------------------------------------------------------
# Discriminator (tiny preset)


@pytest.mark.parametrize("square", [True, False])
def test_tiny_discriminator_forward_backward_autocast(square: bool) -> None:
    torch.manual_seed(7)
    cfg = SRDiscriminatorConfig.tiny(square=square)
    d = SRDiscriminator(cfg)
    lr = torch.rand(3, 3, 4, cfg.lr_height, cfg.lr_width) * 2 - 1
    hr = torch.rand(3, 3, 4, cfg.hr_height, cfg.hr_width, requires_grad=True)
    video = d.build_input(lr, hr)
    assert video.shape == (3, 3, 8, cfg.hr_height, cfg.hr_width) and torch.equal(video[:, :, 4:], hr)
    const = d.build_input(torch.full_like(lr, 0.3), hr.detach())
    assert torch.allclose(const[:, :, :4], torch.full_like(const[:, :, :4], 0.3))
    logits = d(video, generator=torch.Generator().manual_seed(0))
    assert logits.shape == (3, 1) and torch.isfinite(logits).all()
    grad = torch.autograd.grad(logits.sum(), [hr, *d.parameters()])
    assert all(torch.isfinite(gr).all() for gr in grad) and grad[0].abs().sum() > 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.isfinite(d(video.detach(), drop_lr=False)).all()


def test_discriminator_lr_dropout() -> None:
    d = SRDiscriminator(SRDiscriminatorConfig.tiny())
    n = 4000
    video = torch.rand(n, 3, 8, 2, 2) + 0.5  # strictly positive, so zeros can only come from the dropout
    out = d.drop_lr_half(video, torch.Generator().manual_seed(123))
    zeroed = (out[:, :, :4] == 0).flatten(1).all(dim=1)
    kept = torch.equal(out[~zeroed][:, :, :4], video[~zeroed][:, :, :4])
    assert kept and torch.equal(out[:, :, 4:], video[:, :, 4:])  # HR half and kept LR halves untouched
    assert not (out[~zeroed][:, :, :4] == 0).any()
    frac = zeroed.float().mean().item()
    assert abs(frac - 0.9) < 5 * math.sqrt(0.09 / n), frac  # 1 - lr_cond_prob, within 5 sigma
    again = d.drop_lr_half(video, torch.Generator().manual_seed(123))
    assert torch.equal(again, out)  # the explicit generator makes it reproducible
    mask = d.lr_keep_mask(n, torch.Generator().manual_seed(123))
    assert torch.equal(mask, ~zeroed)

    # forward: dropout on in training mode (or drop_lr=True) equals scoring the manually zeroed input
    torch.manual_seed(8)
    cfg = d.cfg
    small = torch.rand(6, 3, 8, cfg.hr_height, cfg.hr_width)
    keep = d.lr_keep_mask(6, torch.Generator().manual_seed(9))
    manual = small.clone()
    manual[~keep, :, :4] = 0
    with torch.no_grad():
        trained = d.train()(small, generator=torch.Generator().manual_seed(9))
        assert torch.equal(trained, d.eval()(manual))
        assert torch.equal(d(small), d(small, drop_lr=False))  # eval mode: no dropout by default
        assert torch.equal(d(small, drop_lr=True, generator=torch.Generator().manual_seed(9)), trained)
