"""LR video generator: presets, parameter counts, counter-based noise and window independence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lvg.lowres.filter_bank import FFT_MIN_TAPS, FilterBank, fft_correlate_valid
from lvg.lowres.generator import GeneratorConfig, VideoGenerator, count_parameters, counter_noise
from lvg.nn.layers import set_magnitude_ema_beta
from lvg.nn.resample import center_crop, center_crop_space, downsample2x, upsample2x_linear, upsample2x_space


def calibrate(gen: VideoGenerator) -> VideoGenerator:
    """Set every magnitude EMA to one batch's statistics (beta 0), as training would: with random weights the
    activations otherwise shrink block after block and outputs are ~0.01, too small to test anything."""
    set_magnitude_ema_beta(gen, 0.0)
    with torch.no_grad():
        gen([11, 12], num_frames=64, update_ema=True)
    set_magnitude_ema_beta(gen, 0.999)
    return gen.eval()


@pytest.fixture(scope="module")
def tiny() -> VideoGenerator:
    torch.manual_seed(0)
    return calibrate(VideoGenerator(GeneratorConfig.tiny()))


@pytest.mark.parametrize(("height", "width", "expected"), [(64, 64, 83_217_987), (36, 64, 83_215_939)])
def test_paper_parameter_count(height: int, width: int, expected: int) -> None:
    with torch.device("meta"):
        gen = VideoGenerator(GeneratorConfig.paper(height=height, width=width))
    assert count_parameters(gen) == expected
    assert gen.cfg.temporal_emb_dim == 1024 and gen.cfg.temporal_scale == 32 and gen.cfg.spatial_scale == 16
    assert gen.filter_bank.kernel_size == 5000


def test_tiny_forward_shape_and_scale(tiny: VideoGenerator) -> None:
    with torch.no_grad():
        video = tiny([1, 2], num_frames=32)
    assert video.shape == (2, 3, 32, 32, 32)
    assert torch.isfinite(video).all()
    assert 0.05 < video.std() < 2.0
    assert not torch.allclose(video[0], video[1])  # different seeds, different videos


def test_window_is_independent_of_request(tiny: VideoGenerator) -> None:
    """Frames [37, 77) generated alone equal the same frames of [0, 96) (unaligned t0 on the 1/32 grid)."""
    with torch.no_grad():
        long = tiny(7, t0=0, num_frames=96)
        part = tiny(7, t0=37, num_frames=40)
    assert part.shape[2] == 40
    torch.testing.assert_close(part, long[:, :, 37:77], atol=1e-5, rtol=1e-5)


def test_window_is_exact_in_float64() -> None:
    """In float64 the match is to rounding (1e-14): no hidden dependence on the window (margins suffice)."""
    torch.manual_seed(1)
    gen = calibrate(VideoGenerator(GeneratorConfig.tiny(noise_block=100))).double()
    with torch.no_grad():
        long = gen(noise=gen.sample_noise(3, -50, 150).double(), t0=-50, num_frames=150)
        part = gen(noise=gen.sample_noise(3, 61, 23).double(), t0=61, num_frames=23)
    torch.testing.assert_close(part, long[:, :, 111:134], atol=1e-10, rtol=0)


def test_time_shift_equivariance(tiny: VideoGenerator) -> None:
    """Shifting the noise by k (a multiple of 32) shifts the video by k; the t0 API covers any k."""
    k = 32
    noise = tiny.sample_noise(5, 0, 96)
    with torch.no_grad():
        full = tiny(noise=noise, t0=0, num_frames=96)
        shifted = tiny(noise=noise[:, :, k:], t0=0, num_frames=96 - k)  # t0 is only a label for the grid phase
        general = tiny(5, t0=13, num_frames=50)
    torch.testing.assert_close(shifted, full[:, :, k:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(general, full[:, :, 13:63], atol=1e-5, rtol=1e-5)


def test_counter_noise_is_indexed_by_absolute_frame() -> None:
    long = counter_noise(9, -300, 1000, channels=3, block=128)
    assert long.shape == (3, 1000)
    torch.testing.assert_close(counter_noise(9, 17, 200, channels=3, block=128), long[:, 317:517], atol=0, rtol=0)
    assert not torch.equal(counter_noise(10, 17, 200, 3, 128), long[:, 317:517])
    assert abs(long.mean()) < 0.1 and abs(long.std() - 1) < 0.1


def test_sample_noise_matches_plan(tiny: VideoGenerator) -> None:
    win = tiny.plan([3, 30], 32)
    assert (win.start, win.num_frames, win.offsets) == (0, 64, (3, 30))
    noise = tiny.sample_noise([1, 2], [3, 30], 32)
    assert noise.shape == (2, tiny.cfg.noise_channels, win.noise_length)
    assert win.noise_length == tiny.noise_length(64)
    with pytest.raises(ValueError, match="noise has shape"):
        tiny(noise=noise[:, :, 1:], t0=[3, 30], num_frames=32)


def test_per_sample_phase_crop(tiny: VideoGenerator) -> None:
    """Training's random phase: one call with t0 per sample equals per-sample calls."""
    t0 = tiny.sample_phase(2, generator=torch.Generator().manual_seed(0)).tolist()
    t0[1] = 31 if t0[0] != 31 else 0  # make sure the two phases differ
    with torch.no_grad():
        batch = tiny([4, 8], t0=t0, num_frames=32)
        single = [tiny(s, t0=t, num_frames=32) for s, t in zip([4, 8], t0, strict=True)]
    torch.testing.assert_close(batch, torch.cat(single), atol=1e-5, rtol=1e-5)


def test_ablation_footprint_and_seq_length() -> None:
    """Table 2 ablations: other filter footprints and training lengths are config values."""
    torch.manual_seed(2)
    cfg = GeneratorConfig.tiny(min_footprint=4, max_footprint=64, seq_length=48, height=16, width=16)
    gen = VideoGenerator(cfg)
    assert gen.filter_bank.kernel_size == 64
    assert int((gen.filter_bank.filters != 0).sum(dim=1)[0]) == 4
    with torch.no_grad():
        video = gen(torch.tensor([3, 4]))
    assert video.shape == (2, 3, 48, 16, 16) and torch.isfinite(video).all()
    assert gen.sample_noise(0).shape[2] == gen.noise_length(64)  # 48 frames + phase grid -> 64 aligned


@pytest.mark.parametrize(("length", "taps"), [(1, 1), (7, 7), (300, 17), (1000, 999), (1025, 256)])
def test_fft_correlation_is_conv1d(length: int, taps: int) -> None:
    """The FFT path computes F.conv1d's valid cross-correlation (float64: to rounding), at any length."""
    g = torch.Generator().manual_seed(length)
    x, f = torch.randn(3, length, generator=g, dtype=torch.float64), torch.randn(5, taps, generator=g,
                                                                                  dtype=torch.float64)
    ours = fft_correlate_valid(x, f)
    assert ours.shape == (3, 5, length - taps + 1)
    torch.testing.assert_close(ours, F.conv1d(x.unsqueeze(1), f.unsqueeze(1)), rtol=0, atol=1e-10)


def test_long_filter_bank_uses_fft_and_matches_float64() -> None:
    """The default's 1024-16384 bank goes through the FFT and is closer to the exact (float64) sum than the
    direct float32 convolution it replaces."""
    bank = FilterBank(4, 16, 1024, 16384)
    assert bank.kernel_size >= FFT_MIN_TAPS
    noise = torch.randn(2, 4, 96 + bank.kernel_size - 1, generator=torch.Generator().manual_seed(0))
    out = bank(noise)
    exact = bank(noise.double())
    direct = (F.conv1d(noise.reshape(8, 1, -1), bank.filters.unsqueeze(1)) * bank.scale[:, None]).reshape(out.shape)
    assert out.dtype == torch.float32 and exact.dtype == torch.float64 and out.shape == (2, 64, 96)
    err = ((out.double() - exact).abs().max() / exact.abs().max()).item()
    err_direct = ((direct.double() - exact).abs().max() / exact.abs().max()).item()
    assert err < 2e-6 and err < err_direct, (err, err_direct)


def test_bf16_autocast(tiny: VideoGenerator) -> None:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        video = tiny(1, t0=5, num_frames=20)
    assert video.shape == (1, 3, 20, 32, 32)
    assert torch.isfinite(video.float()).all()


def test_training_step_gradients_and_ema_update() -> None:
    torch.manual_seed(3)
    gen = VideoGenerator(GeneratorConfig.tiny(height=16, width=16))
    ema_before = gen.temporal_blocks[0].gain0.magnitude_ema.clone()
    video = gen(noise=torch.randn(2, 4, gen.plan(0, 32).noise_length), num_frames=32, update_ema=True)
    video.square().mean().backward()
    grads = [p.grad for p in gen.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert gen.mapping.layers[0].weight.grad.abs().sum() > 0 and gen.const.grad.abs().sum() > 0
    assert not torch.equal(gen.temporal_blocks[0].gain0.magnitude_ema, ema_before)  # moved (beta 0.999)
    with torch.no_grad():
        gen(0, num_frames=32)
    moved = gen.temporal_blocks[0].gain0.magnitude_ema.clone()
    with torch.no_grad():
        gen(0, num_frames=32)  # update_ema defaults to False
    assert torch.equal(gen.temporal_blocks[0].gain0.magnitude_ema, moved)


def test_config_roundtrip_and_validation() -> None:
    cfg = GeneratorConfig.preset("tiny", seq_length=64)
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    assert GeneratorConfig.preset("paper").temporal_emb_dim == 1024
    with pytest.raises(ValueError, match="unknown generator preset"):
        GeneratorConfig.preset("huge")
    with pytest.raises(ValueError, match="equal lengths"):
        GeneratorConfig(temporal_up=(True,))
    with pytest.raises(ValueError, match="unknown GeneratorConfig keys"):
        GeneratorConfig.from_dict({"bogus": 1})


def test_state_dict_has_no_derived_buffers(tiny: VideoGenerator) -> None:
    """Filters are rebuilt from the config; the state dict holds parameters and magnitude EMAs only."""
    keys = set(tiny.state_dict())
    assert not any("filter" in k or "taps" in k for k in keys)
    extra = keys - {name for name, _ in tiny.named_parameters()}
    assert extra and all(k.endswith("magnitude_ema") for k in extra)


# ---- fixed-filter resampling helpers (shared with the discriminators) -----------------------------------
def test_upsample2x_linear_is_upfirdn() -> None:
    """Zero insertion + [1,3,3,1]/8 * 2 with padding (2, 1), written as a transposed conv for comparison."""
    x = torch.randn(2, 3, 7)
    kernel = torch.tensor([1.0, 3.0, 3.0, 1.0]).div(4).reshape(1, 1, 4).repeat(3, 1, 1)
    ref = torch.nn.functional.conv_transpose1d(x, kernel, stride=2, groups=3)[..., 1:-1]  # 16 -> 2 * 7
    torch.testing.assert_close(upsample2x_linear(x, dim=2), ref)
    video = torch.randn(1, 2, 3, 4, 5)
    assert upsample2x_space(video).shape == (1, 2, 3, 8, 10)
    torch.testing.assert_close(upsample2x_space(video), upsample2x_linear(upsample2x_linear(video, 3), 4))


def test_downsample2x_is_padded_binomial() -> None:
    """out[k] = sum_j f[j] xpad[2k + j], xpad = 1 zero + x + 1 zero, f = [1,3,3,1]/8, per axis."""
    x = torch.randn(2, 3, 6, 8, 10)
    y = downsample2x(x, dims=(2, 3, 4))
    assert y.shape == (2, 3, 3, 4, 5)
    xp = torch.nn.functional.pad(x[0, 0, 0, 0], (1, 1))
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    row = downsample2x(x[:, :, :1, :1], dims=(-1,))[0, 0, 0, 0]
    torch.testing.assert_close(row, torch.stack([(f * xp[2 * k:2 * k + 4]).sum() for k in range(5)]))


def test_center_crop_start() -> None:
    x = torch.arange(10)
    assert center_crop(x, 7, dim=0).tolist() == list(range(1, 8))  # start floor(3 / 2) = 1
    assert center_crop_space(torch.zeros(1, 6, 8), 5, 8).shape == (1, 5, 8)
    with pytest.raises(ValueError):
        center_crop(x, 11, dim=0)
