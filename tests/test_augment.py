"""Discriminator augmentations: reference fixtures (from recorded draws) and behaviour."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from lvg.augment import (
    DiffAugmentParams,
    TimeStretchParams,
    VideoAugment,
    diff_augment,
    sample_diffaugment_params,
    sample_time_stretch_params,
    time_stretch,
)
from lvg.augment.diffaugment import (
    adjust_brightness,
    adjust_contrast,
    adjust_saturation,
    cutout,
    cutout_size,
    translate,
    translation_range,
)
from lvg.augment.time_stretch import stretch_clip, stretched_length

FIXTURES = Path(
    os.environ.get("LVG_FIXTURES", Path(__file__).resolve().parents[2] / "shared/fixtures/reference")
)
RTOL = 1e-5  # max|ours - ref| / max|ref|


def load_fixture(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    path = FIXTURES / f"{name}.safetensors"
    if not path.exists():
        pytest.fail(f"fixture {path} not available (set LVG_FIXTURES)")
    from safetensors.torch import load_file

    meta = json.loads((FIXTURES / "fixtures.json").read_text())["fixtures"][name]
    return load_file(str(path)), meta


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape, f"shape {tuple(ours.shape)} != reference {tuple(ref.shape)}"
    return ((ours.double() - ref.double()).abs().max() / ref.double().abs().max()).item()


# ------------------------------------------------------------------------------------------------ fixtures


def test_fixture_diff_augment_from_recorded_draws() -> None:
    t, _ = load_fixture("diff_augment")
    x = t["input.video"]
    d = {k.removeprefix("output.draws."): v for k, v in t.items() if k.startswith("output.draws.")}
    # The recorded draws follow the spec's distributions.
    assert torch.equal(d["brightness_offset"], d["raw_uniform_brightness"] - 0.5)
    assert torch.equal(d["saturation_factor"], d["raw_uniform_saturation"] * 2)
    assert torch.equal(d["contrast_factor"], d["raw_uniform_contrast"] + 0.5)
    r = translation_range(16, 16)
    assert r == 4 and cutout_size(16, 16) == (8, 8)
    assert d["translation_x"].abs().max() <= r and d["translation_y"].abs().max() <= r

    params = DiffAugmentParams(
        brightness=d["brightness_offset"],
        saturation=d["saturation_factor"],
        contrast=d["contrast_factor"],
        translation=torch.stack([d["translation_x"], d["translation_y"]], dim=1),  # x shifts H, y shifts W
        cutout_offset=torch.stack([d["cutout_offset_x"], d["cutout_offset_y"]], dim=1),
    )
    stages = {}
    stages["after_brightness"] = adjust_brightness(x, params.brightness)
    stages["after_saturation"] = adjust_saturation(stages["after_brightness"], params.saturation)
    stages["after_color"] = adjust_contrast(stages["after_saturation"], params.contrast)
    stages["after_translation"] = translate(stages["after_color"], params.translation)
    stages["video"] = cutout(stages["after_translation"], params.cutout_offset)
    errors = {k: rel_err(v, t[f"output.{k}"]) for k, v in stages.items()}
    errors["diff_augment"] = rel_err(diff_augment(x, params), t["output.video"])
    print("diff_augment", errors)
    assert max(errors.values()) <= RTOL, errors


def _stretch_params(entries: list[dict], t: dict[str, torch.Tensor], variant: str) -> TimeStretchParams:
    scale = torch.cat([t[f"output.{variant}.scale_factor.sample{e['sample']}"] for e in entries])
    for e, s in zip(entries, scale.tolist(), strict=True):
        # Our exp2 in float32 reproduces the reference's float32 factor from its exponent.
        assert torch.exp2(torch.tensor(e["exponent_u"], dtype=torch.float32)).item() == s
        assert s == pytest.approx(e["scale_factor_float32"], abs=0)
    return TimeStretchParams(
        scale=scale,
        pad_before=torch.tensor([e["pad_before_p0"] for e in entries]),
        crop_start=torch.tensor([e["crop_start_i0"] for e in entries]),
    )


@pytest.mark.parametrize("variant", ["forced", "seeded"])
def test_fixture_time_stretch(variant: str) -> None:
    """``forced`` uses known factors; ``seeded`` replays the recorded draws of the global-RNG run."""
    t, meta = load_fixture("time_stretch")
    x = t["input.video"]
    entries = meta[variant]
    params = _stretch_params(entries, t, variant)
    errors = {}
    for e in entries:
        i = e["sample"]
        s = params.scale[i].item()
        assert stretched_length(x.shape[2], s) == e["stretched_length"]
        ours = stretch_clip(x[i], s).permute(0, 2, 3, 1)  # reference layout [C, H, W, T_stretched]
        errors[f"stretched{i}"] = rel_err(ours, t[f"output.{variant}.stretched.sample{i}"])
        assert e["pad_after_p1"] == max(0, x.shape[2] - e["stretched_length"] - e["pad_before_p0"])
    errors["video"] = rel_err(time_stretch(x, params), t[f"output.{variant}.video"])
    print("time_stretch", variant, errors)
    assert max(errors.values()) <= RTOL, errors


# ------------------------------------------------------------------------------------------------ behaviour


def test_diffaugment_same_draw_for_every_frame() -> None:
    """A clip of identical frames stays frame-identical; two identical clips get different draws."""
    g = torch.Generator().manual_seed(0)
    frame = torch.rand(1, 3, 1, 20, 24, generator=g) * 2 - 1
    video = frame.expand(4, 3, 6, 20, 24).contiguous()  # 4 identical clips of 6 identical frames
    params = sample_diffaugment_params(4, 20, 24, generator=torch.Generator().manual_seed(1))
    assert params.brightness.unique().numel() == 4 and params.contrast.unique().numel() == 4
    out = diff_augment(video, params)
    assert torch.equal(out, out[:, :, :1].expand_as(out))
    for a in range(4):
        for b in range(a + 1, 4):
            assert not torch.allclose(out[a], out[b])
    # The whole pipeline (with stretch) keeps static clips static, apart from the zero (grey) padding frames.
    aug = VideoAugment()
    params = aug.sample_params(video.shape, torch.Generator().manual_seed(2))
    out = aug(video, params=params)
    for clip in out:
        nonzero = [f for f in range(clip.shape[1]) if clip[:, f].abs().sum() > 0]
        assert nonzero, "a clip lost all its frames"
        assert all(torch.equal(clip[:, f], clip[:, nonzero[0]]) for f in nonzero)


def test_diffaugment_param_ranges() -> None:
    n, h, w = 512, 36, 64
    p = sample_diffaugment_params(n, h, w, generator=torch.Generator().manual_seed(3))
    assert -0.5 <= p.brightness.min() and p.brightness.max() < 0.5
    assert 0 <= p.saturation.min() and p.saturation.max() < 2
    assert 0.5 <= p.contrast.min() and p.contrast.max() < 1.5
    assert translation_range(h, w) == 16 and cutout_size(h, w) == (18, 32)
    assert p.translation.min() == -16 and p.translation.max() == 16  # both axes use the longer side
    assert p.cutout_offset[:, 0].max() <= h and p.cutout_offset[:, 1].max() <= w
    # Cutout zeroes exactly an 18x32 box when it lies inside the image.
    x = torch.ones(1, 3, 2, h, w)
    y = cutout(x, torch.tensor([[18, 32]]))
    assert (y == 0).sum() == 3 * 2 * 18 * 32 and torch.all(y[..., 9:27, 16:48] == 0)
    # Translation moves content and fills with zeros.
    x = torch.zeros(1, 1, 1, h, w)
    x[..., 10, 20] = 1
    y = translate(x, torch.tensor([[3, -5]]))  # out[i, j] = in[i + 3, j - 5]
    assert y[..., 7, 25] == 1 and y.sum() == 1
    assert translate(x, torch.tensor([[16, 0]]))[..., 20:, :].sum() == 0


def _moving_bar(n_frames: int, width: int = 200) -> torch.Tensor:
    """[1, 1, T, 1, W] clip of a one-pixel bright bar moving +1 px per frame (starting at x = 10)."""
    clip = torch.zeros(1, 1, n_frames, 1, width)
    for t in range(n_frames):
        clip[0, 0, t, 0, 10 + t] = 1.0
    return clip


@pytest.mark.parametrize("scale", [0.5, 2.0, 2.0**0.3])
def test_time_stretch_changes_speed(scale: float) -> None:
    """Stretching time by s makes the clip s times longer, so the bar moves 1/s px per output frame.

    (Equivalently: apparent speed is scaled by 1/s and duration by s; since log2 s ~ U(-1, 1) is symmetric,
    the speed factor has the same distribution as s.) Linear blending of two bar positions moves the
    intensity centroid linearly, so the centroid displacement is exactly 1/s in the interior.
    """
    t = 32
    video = _moving_bar(t)
    s32 = torch.tensor([scale], dtype=torch.float32)
    t_s = stretched_length(t, s32.item())
    params = TimeStretchParams(s32, torch.tensor([0]), torch.tensor([0]))
    out = time_stretch(video, params)[0, 0, :, 0]  # [T, W]
    n_valid = min(t, t_s)
    xs = torch.arange(out.shape[1], dtype=torch.float64)
    mass = out[:n_valid].double().sum(1)
    centroid = (out[:n_valid].double() * xs).sum(1) / mass
    # Skip the first/last frames, where the source coordinate is clamped at the clip edges.
    step = centroid.diff()[2:-2]
    assert torch.allclose(step, torch.full_like(step, 1 / s32.item()), atol=1e-5), step
    assert torch.allclose(mass[2:-2], torch.ones_like(mass[2:-2]), atol=1e-6)  # no intensity lost
    if t_s < t:
        assert out[n_valid:].abs().sum() == 0  # padded with zero (grey) frames


def test_time_stretch_pad_and_crop_offsets() -> None:
    video = torch.arange(1, 9, dtype=torch.float32).reshape(1, 1, 8, 1, 1).expand(2, 1, 8, 1, 1)
    params = TimeStretchParams(torch.tensor([0.5, 1.0]), torch.tensor([3, 0]), torch.tensor([0, 0]))
    out = time_stretch(video, params)[:, 0, :, 0, 0]
    assert torch.equal(out[0, :3], torch.zeros(3)) and torch.equal(out[0, 7:], torch.zeros(1))
    assert torch.equal(out[1], video[1, 0, :, 0, 0])  # s = 1 is the identity
    with pytest.raises(ValueError):
        time_stretch(
            video, TimeStretchParams(torch.tensor([0.5, 1.0]), torch.tensor([5, 0]), torch.tensor([0, 0]))
        )
    p = sample_time_stretch_params(4096, 16, generator=torch.Generator().manual_seed(4))
    assert p.scale.min() >= 0.5 and p.scale.max() < 2.0
    assert abs(p.scale.log2().mean().item()) < 0.05  # log2 s ~ U(-1, 1)
    lengths = torch.tensor([stretched_length(16, s) for s in p.scale.tolist()])
    assert torch.all(p.pad_before <= (16 - lengths).clamp(min=0))
    assert torch.all(p.crop_start <= (lengths - 16).clamp(min=0))
    assert p.pad_before.max() > 0 and p.crop_start.max() > 0


def test_determinism_with_generator() -> None:
    video = torch.rand(3, 3, 16, 12, 20, generator=torch.Generator().manual_seed(5)) * 2 - 1
    aug = VideoAugment()
    a = aug(video, torch.Generator().manual_seed(7))
    b = aug(video, torch.Generator().manual_seed(7))
    c = aug(video, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Resumable: a generator restored from a saved state continues the same stream.
    g = torch.Generator().manual_seed(9)
    aug(video, g)
    state = g.get_state()
    d = aug(video, g)
    g2 = torch.Generator()
    g2.set_state(state)
    assert torch.equal(aug(video, g2), d)
    # Explicit params reproduce the drawn result.
    params = aug.sample_params(video.shape, torch.Generator().manual_seed(7))
    assert torch.equal(aug(video, params=params), a)


def test_gradients_flow_for_r1() -> None:
    """R1 differentiates D(augment(x)) w.r.t. the pre-augmentation x: the pipeline must be differentiable."""
    aug = VideoAugment()
    video = (torch.rand(2, 3, 8, 8, 10, generator=torch.Generator().manual_seed(10)) * 2 - 1).requires_grad_()
    out = aug(video, torch.Generator().manual_seed(11))
    (grad,) = torch.autograd.grad((out**2).sum(), video, create_graph=True)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    grad.square().sum().backward()  # double backward, as R1's penalty needs
    assert video.grad is not None and torch.isfinite(video.grad).all()

    # Exact gradients (float64 finite differences) with fixed draws: one shrunk, one stretched clip.
    x = torch.rand(
        2, 3, 6, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(12)
    ).requires_grad_()
    diff = sample_diffaugment_params(2, 5, 6, generator=torch.Generator().manual_seed(13))
    stretch = TimeStretchParams(torch.tensor([0.7, 1.6]), torch.tensor([1, 0]), torch.tensor([0, 2]))
    assert stretched_length(6, 0.7) == 4 and stretched_length(6, 1.6) == 9
    params = aug.sample_params(x.shape, torch.Generator().manual_seed(0))
    params.diff, params.stretch = diff, stretch
    assert torch.autograd.gradcheck(lambda v: aug(v, params=params), (x,), eps=1e-6, atol=1e-6)


def test_pipeline_disabled_stages() -> None:
    video = torch.rand(2, 3, 8, 6, 6)
    assert torch.equal(VideoAugment(policy=(), max_log2_scale=0)(video, torch.Generator()), video)
    with pytest.raises(ValueError):
        diff_augment(video, policy=("colour",))
    assert math.isclose(translation_range(64, 64), 16)
