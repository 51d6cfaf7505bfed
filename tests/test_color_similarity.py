"""Colour similarity exactly as the reference (evaluation.md §4): known answers on constructed videos, the
rounding bins, agreement with a direct numpy implementation, and the streaming unbiased statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvg.metrics.color_similarity import (
    NUM_BINS,
    bin_index,
    color_histogram,
    color_similarity,
    quantize,
    similarity_curve,
)


def _level_value(k: int) -> float:
    """A value in [-1, 1] at the centre of level k (0..19)."""
    return 2 * (k / 19) - 1


def _solid(levels: list[tuple[int, int, int]], h: int = 4, w: int = 6) -> torch.Tensor:
    """Video [1, 3, T, h, w] whose frame t is a solid colour at the given (r, g, b) levels."""
    v = torch.tensor([[_level_value(c) for c in rgb] for rgb in levels], dtype=torch.float32)  # [T, 3]
    return v.T[None, :, :, None, None].expand(1, 3, len(levels), h, w).contiguous()


def _exact_half(k: int) -> np.float32:
    """A float32 v whose x = (v/2 + 0.5) * 19, computed in float32, is exactly k + 0.5."""
    base = np.float32(2 * ((k + 0.5) / 19) - 1)
    candidates = base + np.spacing(np.abs(base)) * np.arange(-4000, 4001, dtype=np.float32)
    x = (candidates / np.float32(2) + np.float32(0.5)) * np.float32(19)  # float32 throughout, as torch
    exact = candidates[x == np.float32(k + 0.5)]
    assert exact.size, f"no float32 value maps exactly onto {k} + 0.5"
    return exact[0]


def _numpy_similarity(video: np.ndarray) -> np.ndarray:
    """Direct transcription of the reference: [N, 3, T, H, W] float32 -> [N, T]."""
    n, _, t, h, w = video.shape
    q = np.clip(np.floor((video / np.float32(2) + np.float32(0.5)) * np.float32(19) + np.float32(0.5)), 0, 19)
    q = q.astype(np.int64)
    idx = (q[:, 0] * 20 + q[:, 1]) * 20 + q[:, 2]  # [N, T, H, W]
    out = np.zeros((n, t))
    for i in range(n):
        h0 = np.bincount(idx[i, 0].ravel(), minlength=8000)
        for j in range(t):
            ht = np.bincount(idx[i, j].ravel(), minlength=8000)
            out[i, j] = np.minimum(h0, ht).sum() / (h * w)
    return out


# ---------------------------------------------------------------------------------------------------------
# histogram and bins
# ---------------------------------------------------------------------------------------------------------

def test_histogram_counts_every_pixel_in_the_documented_bin() -> None:
    frames = _solid([(3, 7, 11), (19, 0, 5)])[0].transpose(0, 1)  # [T, 3, H, W]
    hist = color_histogram(frames)
    assert hist.shape == (2, NUM_BINS) and hist.dtype == torch.int64
    assert hist[0, (3 * 20 + 7) * 20 + 11] == 24 and hist[0].sum() == 24
    assert hist[1, (19 * 20 + 0) * 20 + 5] == 24 and hist[1].sum() == 24
    # Arbitrary leading batch dimensions are kept.
    assert color_histogram(torch.zeros(2, 5, 3, 4, 4)).shape == (2, 5, NUM_BINS)
    assert bin_index(torch.full((3, 2, 2), -1.0)).unique().tolist() == [0]
    assert bin_index(torch.full((3, 2, 2), 1.0)).unique().tolist() == [NUM_BINS - 1]


def test_bins_are_centred_and_end_bins_half_width() -> None:
    step = 1 / 19  # bin width in [0, 1] units is 1/19; in [-1, 1] units 2/19
    cases = {
        -1.0: 0, -1 + 0.9 * step: 0, -1 + 1.1 * step: 1,  # bottom bin covers only half a width
        1.0: 19, 1 - 0.9 * step: 19, 1 - 1.1 * step: 18,  # and so does the top one
        _level_value(7): 7, _level_value(7) + 0.9 * step: 7, _level_value(7) + 1.1 * step: 8,
        _level_value(7) - 0.9 * step: 7, _level_value(7) - 1.1 * step: 6,
        -3.0: 0, 1.5: 19,  # clamped
    }
    v = torch.tensor(list(cases), dtype=torch.float32)
    assert quantize(v).tolist() == list(cases.values())


@pytest.mark.parametrize("k", [2, 4, 8, 10, 18])  # even k with a float32 value exactly on the half
def test_exact_halves_round_up_not_to_even(k: int) -> None:
    """floor(x + 0.5): a value whose x = (v/2 + 0.5) * 19 is exactly k + 0.5 goes to k + 1 (torch.round, which
    rounds halves to even, would give k for even k)."""
    found = _exact_half(k)
    v = torch.tensor([found], dtype=torch.float32)
    assert float((v / 2 + 0.5) * 19) == k + 0.5
    assert quantize(v).item() == k + 1
    assert torch.round((v / 2 + 0.5) * 19).item() == k  # what the wrong rounding would give


# ---------------------------------------------------------------------------------------------------------
# similarity: known answers
# ---------------------------------------------------------------------------------------------------------

def test_constant_video_is_all_ones() -> None:
    video = torch.rand(2, 3, 1, 5, 7).mul(2).sub(1).expand(2, 3, 9, 5, 7).contiguous()
    s = color_similarity(video)
    assert s.shape == (2, 9) and s.dtype == torch.float32
    assert torch.equal(s, torch.ones(2, 9))


def test_each_frame_a_different_solid_colour_gives_zero_after_t0() -> None:
    s = color_similarity(_solid([(0, 0, 0), (1, 0, 0), (0, 0, 1), (19, 19, 19), (10, 3, 4)]))
    assert s.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]


def test_half_and_half_frames_give_one_half() -> None:
    a, b = _level_value(4), _level_value(15)
    f0 = torch.full((3, 6, 8), a)
    f1 = f0.clone()
    f1[:, :, 4:] = b  # right half another colour
    f2 = torch.full((3, 6, 8), b)
    f3 = f1.flip(-1)  # the same two halves, swapped: same histogram as f1
    video = torch.stack([f0, f1, f2, f3], dim=1)[None]
    assert color_similarity(video).tolist() == [[1.0, 0.5, 0.0, 0.5]]
    # Similarity is a histogram property: the positions of the colours do not matter.
    video2 = torch.stack([f1, f3, f0, f2], dim=1)[None]
    assert color_similarity(video2).tolist() == [[1.0, 1.0, 0.5, 0.5]]


def test_agrees_with_a_direct_numpy_implementation() -> None:
    g = torch.Generator().manual_seed(0)
    video = torch.rand(3, 3, 6, 10, 12, generator=g) * 2 - 1
    # Smooth colour drift plus values exactly on level centres and half points, and out-of-range ones.
    video[:, :, :, :2] = _level_value(5)
    video[:, :, 3:, :, :3] = float(_exact_half(8))  # x = 8.5 exactly: level 9
    video[0, 0, 2] = 1.2
    s = color_similarity(video).numpy()
    ref = _numpy_similarity(video.numpy())
    np.testing.assert_allclose(s, ref, rtol=0, atol=1e-6)
    assert (s[:, 0] == 1).all() and (s[:, 1:] < 1).all()


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="N, 3, T, H, W"):
        color_similarity(torch.zeros(3, 4, 5, 5))
    with pytest.raises(ValueError, match="3, H, W"):
        color_histogram(torch.zeros(4, 5, 5))


# ---------------------------------------------------------------------------------------------------------
# streaming curve
# ---------------------------------------------------------------------------------------------------------

def test_curve_is_mean_and_unbiased_std_streamed() -> None:
    g = torch.Generator().manual_seed(1)
    clips = [torch.rand(3, 5, 6, 6, generator=g) * 2 - 1 for _ in range(7)]
    # Items may be single clips or batches.
    items = [clips[0], torch.stack(clips[1:4]), clips[4], torch.stack(clips[5:])]
    mean, std, n = similarity_curve(iter(items))
    assert n == 7
    all_s = torch.cat([color_similarity(c[None]) for c in clips]).to(torch.float64)
    torch.testing.assert_close(mean, all_s.mean(0), rtol=0, atol=1e-12)
    torch.testing.assert_close(std, all_s.std(0, unbiased=True), rtol=0, atol=1e-12)
    assert mean[0] == 1 and std[0] == 0


def test_curve_std_is_the_n_minus_1_one() -> None:
    a = _solid([(0, 0, 0), (0, 0, 0), (0, 0, 0)])  # S = [1, 1, 1]
    b = _solid([(0, 0, 0), (5, 0, 0), (0, 0, 0)])  # S = [1, 0, 1]
    mean, std, n = similarity_curve([a, b])
    assert n == 2
    assert mean.tolist() == [1.0, 0.5, 1.0]
    assert std[1].item() == pytest.approx(1 / np.sqrt(2))  # n-1: 0.7071; n would give 0.5
    mean1, std1, n1 = similarity_curve([a])
    assert n1 == 1 and torch.isnan(std1).all()


def test_curve_rejects_mismatched_lengths_and_empty_input() -> None:
    with pytest.raises(ValueError, match="same number of frames"):
        similarity_curve([torch.zeros(3, 4, 2, 2), torch.zeros(3, 5, 2, 2)])
    with pytest.raises(ValueError, match="at least one clip"):
        similarity_curve([])
