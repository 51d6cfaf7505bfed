"""ADA (adaptive p + the "bgc" pipeline) and the SR input degradation, on synthetic tensors (no data).

What is proven here: p rises when D is overconfident on reals and falls otherwise, in steps of ``adjust``
every ``interval`` steps, within ``[0, max_p]``, and its state round-trips exactly; one transform hits every
frame of a clip and both halves of the SR discriminator's input (the LR and HR halves get the same
geometry); the warp is twice differentiable (R1 through the augmentation); p = 0 is the identity; the
degradation keeps shapes, turns each op on with probability ~0.5 and is reproducible from its generator.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lvg.augment.ada import (
    AdaptiveP,
    ada_augment,
    apply_color,
    identity,
    sample_color,
    sample_geometric,
    warp,
)
from lvg.augment.degrade import degrade, sample_degrade_params

pytestmark = pytest.mark.usefixtures("one_thread")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_p_moves_up_when_d_is_overconfident_and_down_otherwise() -> None:
    ada = AdaptiveP(target=0.6, interval=4, adjust=0.0005, max_p=0.5)
    confident, unsure = torch.ones(8), torch.tensor([1.0, -1.0] * 4)  # sign means 1.0 and 0.0
    for step in range(8):
        ada.accumulate(confident)
        changed = ada.maybe_update(step)
        assert changed == (step % 4 == 3)
    assert ada.p == pytest.approx(0.001)  # two adjustments up
    for step in range(8, 12):
        ada.accumulate(unsure)
        ada.maybe_update(step)
    assert ada.p == pytest.approx(0.0005)
    for step in range(12, 40):  # cannot go below 0
        ada.accumulate(unsure)
        ada.maybe_update(step)
    assert ada.p == 0.0
    ada.p = 0.4999
    for step in range(40, 60):  # capped at max_p
        ada.accumulate(confident)
        ada.maybe_update(step)
    assert ada.p == 0.5
    ada.accumulate(confident[:3])
    fresh = AdaptiveP()
    fresh.load_state(ada.state())
    assert fresh.state() == ada.state() == {"p": 0.5, "sign_sum": 3.0, "count": 3.0}
    frozen = AdaptiveP(interval=0)
    frozen.accumulate(confident)
    assert not frozen.maybe_update(3) and frozen.p == 0.0


def test_one_transform_per_clip_hits_every_frame_and_both_halves() -> None:
    # a clip of 8 identical frames stays identical across frames after augmentation
    frame = torch.rand(2, 3, 1, 16, 16) * 2 - 1
    video = frame.expand(2, 3, 8, 16, 16).clone()
    out = ada_augment(video, 1.0, gen(1))
    assert out.shape == video.shape
    assert not torch.allclose(out, video)
    assert torch.equal(out, out[:, :, :1].expand_as(out))
    # different frames: the augmentation equals the same (warp, colour) applied to each frame alone
    video = torch.rand(3, 3, 8, 16, 16) * 2 - 1
    G_inv, C = sample_geometric(3, 16, 16, 0.8, gen(2)), sample_color(3, 0.8, gen(3))
    whole = apply_color(warp(video, G_inv), C)
    for t in range(8):
        single = apply_color(warp(video[:, :, t:t + 1], G_inv), C)
        torch.testing.assert_close(whole[:, :, t:t + 1], single, rtol=0, atol=1e-6)
    # the SR D input: LR half (upsampled) and HR half carry the same picture -> still the same after ADA
    hr = torch.rand(2, 3, 4, 32, 32) * 2 - 1
    both = torch.cat([hr, hr], dim=2)  # what build_input gives when the upsampled LR equals the HR
    out = ada_augment(both, 1.0, gen(4))
    assert torch.equal(out[:, :, :4], out[:, :, 4:])


def test_geometry_is_what_the_matrix_says() -> None:
    video = torch.arange(2 * 3 * 2 * 8 * 8, dtype=torch.float32).reshape(2, 3, 2, 8, 8)
    flip = identity(2)
    flip[:, 0, 0] = -1  # x mirror
    assert torch.equal(warp(video, flip), video.flip(-1))
    shift = identity(2)
    shift[:, 0, 2] = 1  # output x samples input x + 1 (reflected at the border)
    out = warp(video, shift)
    assert torch.equal(out[..., :-1], video[..., 1:]) and torch.equal(out[..., -1], video[..., -1])
    assert torch.equal(warp(video, identity(2)), video)


def test_p_zero_is_identity_and_the_warp_is_twice_differentiable() -> None:
    video = torch.rand(2, 3, 8, 16, 16)
    assert ada_augment(video, 0.0, gen()) is video
    x = video.clone().requires_grad_(True)
    y = ada_augment(x, 1.0, gen(5))
    (g,) = torch.autograd.grad((y ** 2).sum(), x, create_graph=True)
    g.square().sum().backward()  # the R1 pattern: a gradient of a gradient
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_ops_fire_with_probability_p_and_are_reproducible() -> None:
    n = 4000
    G_inv = sample_geometric(n, 32, 32, 0.3, gen(6), xflip=0, rotate90=0, xint=0, rotate=0, aniso=0, xfrac=0)
    scaled = (G_inv[:, 0, 0] != 1).double().mean().item()  # only the isotropic scale is on
    assert scaled == pytest.approx(0.3, abs=0.03)
    C = sample_color(n, 0.0, gen(7))
    assert torch.equal(C, identity(n, 4))
    v = torch.rand(2, 3, 4, 8, 8)
    assert torch.equal(ada_augment(v, 0.5, gen(8)), ada_augment(v, 0.5, gen(8)))


def test_degradation_keeps_shapes_and_fires_each_op_with_p_half() -> None:
    n = 4000
    params = sample_degrade_params(n, 16, 16, 0.5, gen(9))
    assert (params.noise_std > 0).double().mean().item() == pytest.approx(0.5, abs=0.03)
    scale = params.G_inv[:, :2, :2].det().abs()  # rotations keep 1, aniso keeps 1: only iso scale changes it
    assert (scale - 1).abs().gt(1e-9).double().mean().item() == pytest.approx(0.5, abs=0.03)
    translated = params.G_inv[:, :2, 2].abs().sum(1).gt(0).double().mean().item()
    assert translated == pytest.approx(0.5, abs=0.03)
    # small: rotation within 0.016 turn, scale ~ 2^N(0, 0.08)
    assert (scale.log2().abs() / 2).max().item() < 0.08 * 6
    frac_on = params.changed.double().mean().item()
    print(f"degradation: fraction of clips changed at all {frac_on:.3f} (each op p = 0.5)")
    lr = (torch.rand(64, 3, 12, 16, 16) * 2 - 1)
    lr = F.avg_pool3d(lr, (1, 3, 3), stride=1, padding=(0, 1, 1))  # smooth images, so warps change little
    out = degrade(lr, 0.5, gen(10))
    assert out.shape == lr.shape
    changed = (out - lr).abs().amax(dim=(1, 2, 3, 4)) > 0
    assert 0.8 < changed.double().mean().item() <= 1.0  # 1 - 0.5^5 ~ 0.97 of clips touched by some op
    assert (out - lr).abs().mean().item() < 0.1  # mild
    assert torch.equal(degrade(lr, 0.5, gen(10)), out)  # reproducible from the generator
    assert degrade(lr, 0.0, gen(10)) is lr
    # one transform per clip: a clip of identical frames stays identical without the noise op
    frames = lr[:, :, :1].expand(64, 3, 12, 16, 16).clone()
    p = sample_degrade_params(64, 16, 16, 0.5, gen(11))
    p.noise_std.zero_()
    out = degrade(frames, 0.5, gen(11), params=p)
    assert torch.equal(out, out[:, :, :1].expand_as(out))
    assert math.isclose(float(p.changed.double().mean()), 1 - 0.5 ** 3 * (1 - (1 - math.sqrt(0.5))) ** 2,
                        abs_tol=0.1)
