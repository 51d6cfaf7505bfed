"""LR discriminator: known-answer fixtures from the reference, parameter count, and behaviour."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lvg.lowres.discriminator import (
    DiscriminatorBlock,
    DiscriminatorConfig,
    DiscriminatorEpilogue,
    LowResDiscriminator,
    pad_to_square,
)

FIXTURES = Path(
    os.environ.get("LVG_FIXTURES", Path(__file__).resolve().parents[2] / "shared/fixtures/reference")
)
RTOL = 1e-5  # max|ours - ref| / max|ref|; README: exact float32 re-implementations reach ~1e-6


def load_fixture(name: str) -> dict[str, torch.Tensor]:
    path = FIXTURES / f"{name}.safetensors"
    if not path.exists():
        pytest.fail(f"fixture {path} not available (set LVG_FIXTURES)")
    from safetensors.torch import load_file

    return load_file(str(path))


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape, f"shape {tuple(ours.shape)} != reference {tuple(ref.shape)}"
    return ((ours.double() - ref.double()).abs().max() / ref.double().abs().max()).item()


def load_mapped(module: torch.nn.Module, tensors: dict[str, torch.Tensor], mapping: dict[str, str]) -> None:
    """Copy reference state-dict entries (``param.<ref name>``) into ``module`` under our names.

    The mapping must cover every one of our parameters and every reference parameter; the reference's
    ``_downsample_filter`` buffers are checked against our fixed filter instead of loaded.
    """
    ours = dict(module.named_parameters())
    assert set(mapping.values()) == set(ours), f"unmapped: {set(ours) ^ set(mapping.values())}"
    ref_params = {k for k in tensors if k.startswith("param.")}
    assert ref_params == {f"param.{k}" for k in mapping}, f"unmapped reference: {ref_params ^ set(mapping)}"
    with torch.no_grad():
        for ref_name, our_name in mapping.items():
            src = tensors[f"param.{ref_name}"]
            assert ours[our_name].shape == src.shape, (ref_name, our_name, src.shape, ours[our_name].shape)
            ours[our_name].copy_(src)
    for key, value in tensors.items():
        if key.startswith("buffer.") and key.endswith("_downsample_filter"):
            assert torch.allclose(value, torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8)


BLOCK_MAP = {
    "conv_0.weight": "conv0.weight",
    "conv_0._bias": "conv0.bias",
    "conv_1.weight": "conv1.weight",
    "conv_1._bias": "conv1.bias",
    "conv_skip.weight": "skip.weight",
}
INTERMEDIATE_MAP = {"conv_vid": "from_rgb", "conv_0": "conv0", "conv_1": "conv1", "conv_skip": "skip"}


def check_block(name: str, block: DiscriminatorBlock, mapping: dict[str, str]) -> None:
    t = load_fixture(name)
    load_mapped(block, t, mapping)
    inter: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        y = block(t["input.x"], intermediates=inter)
    errors = {"y": rel_err(y, t["output.y"])}
    for ref_name, our_name in INTERMEDIATE_MAP.items():
        key = f"output.intermediate.{ref_name}"
        if key in t:
            errors[ref_name] = rel_err(inter[our_name], t[key])
    print(name, errors)
    assert max(errors.values()) <= RTOL, errors


def test_fixture_first_block() -> None:
    block = DiscriminatorBlock(4, 8, vid_channels=3, spatial_ksize=3, temporal_ksize=1, temporal_down=False)
    mapping = {**BLOCK_MAP, "conv_vid.weight": "from_rgb.weight", "conv_vid._bias": "from_rgb.bias"}
    check_block("lr_disc_block_first", block, mapping)


def test_fixture_block() -> None:
    block = DiscriminatorBlock(
        8, 16, spatial_ksize=3, temporal_ksize=5, temporal_down=True, spatial_down=True
    )
    check_block("lr_disc_block", block, BLOCK_MAP)


def test_fixture_epilogue() -> None:
    t = load_fixture("lr_disc_epilogue")
    epi = DiscriminatorEpilogue(8, 2, 4, 16, temporal_ksize=3, num_conv1d=4)
    mapping = {f"conv1d_{i}.weight": f"convs.{i}.weight" for i in range(4)}
    mapping |= {f"conv1d_{i}._bias": f"convs.{i}.bias" for i in range(4)}
    mapping |= {"linear_0.weight": "fc.weight", "linear_0.bias": "fc.bias"}
    mapping |= {"linear_1.weight": "out.weight", "linear_1.bias": "out.bias"}
    load_mapped(epi, t, mapping)
    with torch.no_grad():
        logits = epi(t["input.x"])
    err = rel_err(logits, t["output.logits"])
    print("lr_disc_epilogue", err)
    assert err <= RTOL


def test_paper_parameter_count() -> None:
    """Spec §2.8: the reference LR D (seq_length 128, max edge 64) has exactly 46,424,609 parameters."""
    with torch.device("meta"):  # no memory or init cost
        net = LowResDiscriminator(DiscriminatorConfig.paper())
    assert sum(p.numel() for p in net.parameters()) == 46_424_609
    assert net.config.final_size == 4 and net.config.final_length == 16
    assert net.epilogue.convs[0].in_channels == 8192  # fold to [N, 8192, 16]
    assert net.epilogue.fc.in_features == 16_384
    # Spec §3 shapes (space^2 x time): 64^2x128 -> 32^2x128 -> 16^2x64 -> 8^2x32 -> 4^2x16 (shape-only, on meta).
    with torch.device("meta"):
        x = pad_to_square(torch.empty(2, 3, 128, 36, 64), 64)
        shapes = []
        for block in net.blocks:
            x = block(x)
            shapes.append(tuple(x.shape))
        assert net.epilogue(x).shape == (2, 1)
    assert shapes == [(2, 64, 128, 32, 32), (2, 128, 64, 16, 16), (2, 256, 32, 8, 8), (2, 512, 16, 4, 4)]


def test_presets_and_validation() -> None:
    assert DiscriminatorConfig.preset("paper") == DiscriminatorConfig.paper()
    assert DiscriminatorConfig.preset("tiny") == DiscriminatorConfig.tiny()
    with pytest.raises(ValueError):
        DiscriminatorConfig.preset("huge")
    with pytest.raises(ValueError):
        LowResDiscriminator(DiscriminatorConfig(seq_length=12))  # 12 not divisible by 8
    with pytest.raises(ValueError):
        LowResDiscriminator(DiscriminatorConfig(temporal_down=(True, True, True, True)))


def test_tiny_forward_backward() -> None:
    torch.manual_seed(0)
    cfg = DiscriminatorConfig.tiny()
    net = LowResDiscriminator(cfg)
    video = (torch.rand(2, 3, cfg.seq_length, cfg.max_edge, cfg.max_edge) * 2 - 1).requires_grad_()
    logits = net(video)
    assert logits.shape == (2, 1)
    logits.sum().backward()
    assert video.grad is not None and torch.isfinite(video.grad).all() and video.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_non_square_input_is_zero_padded() -> None:
    """36x64 clips (the released models' size) are zero-padded to 64x64, centred (14 rows above/below)."""
    torch.manual_seed(1)
    cfg = DiscriminatorConfig(
        seq_length=8,
        max_edge=64,
        channels=(4, 4, 8, 8, 8),
        temporal_down=(False, True, True, False),
        epilogue_channels=8,
    )
    net = LowResDiscriminator(cfg)
    video = torch.rand(2, 3, 8, 36, 64) * 2 - 1
    padded = pad_to_square(video, 64)
    assert padded.shape == (2, 3, 8, 64, 64)
    assert torch.equal(padded[..., 14:50, :], video)
    assert padded[..., :14, :].abs().sum() == 0 and padded[..., 50:, :].abs().sum() == 0
    with torch.no_grad():
        out = net(video)
        assert out.shape == (2, 1)
        assert torch.equal(out, net(padded))
    with pytest.raises(ValueError):
        pad_to_square(torch.zeros(1, 3, 8, 65, 64), 64)


def test_bf16_autocast_finite() -> None:
    torch.manual_seed(2)
    cfg = DiscriminatorConfig.tiny()
    net = LowResDiscriminator(cfg)
    video = torch.rand(2, 3, cfg.seq_length, 24, 32) * 2 - 1
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(video)
    assert out.shape == (2, 1) and torch.isfinite(out.float()).all()
    with torch.no_grad():
        ref = net(video)
    assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max() + 0.05  # same function, bf16 precision
