"""lvg.data.resample.lanczos_resize is Pillow's LANCZOS resize, bit for bit: down and up, each axis alone and
both, odd sizes, the crop views preprocessing hands it, and images with hard edges (where the negative lobes
drive sums past 0 and 255, so the clipping is exercised)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lvg.data.preprocess import crop_box, crop_resize
from lvg.data.resample import coefficients, lanczos_resize


def pil(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.LANCZOS))


def images(h: int, w: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    edges = np.where(rng.random((h, w, 1)) < 0.5, 0, 255).astype(np.uint8).repeat(3, -1)  # binary: clipping
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), (x + y) % 256], -1).astype(np.uint8)
    return [noise, edges, smooth]


@pytest.mark.parametrize(("src", "dst"), [
    ((288, 288), (256, 256)), ((288, 288), (64, 64)), ((288, 512), (144, 256)), ((72, 128), (36, 64)),
    ((37, 53), (16, 16)), ((16, 16), (37, 53)), ((50, 50), (50, 23)), ((50, 50), (17, 50)), ((9, 7), (64, 64)),
    ((1080, 1920), (64, 114)), ((3, 5), (1, 1)),
])
def test_equals_pillow(src: tuple[int, int], dst: tuple[int, int]) -> None:
    for k, img in enumerate(images(*src, seed=sum(src) + sum(dst))):
        ours, ref = lanczos_resize(img, *dst), pil(img, *dst)
        assert ours.shape == ref.shape == (*dst, 3)
        assert ours.dtype == np.uint8
        assert np.array_equal(ours, ref), (src, dst, k, int(np.abs(ours.astype(int) - ref).max()))


def test_crop_views_and_same_size() -> None:
    frame = images(288, 512, seed=3)[0]
    for size in [(256, 256), (64, 64), (144, 256)]:
        x0, y0, x1, y1 = box = crop_box(288, 512, *size)
        view = frame[y0:y1, x0:x1]
        assert view.flags.c_contiguous == (size == (144, 256))  # the square crops are strided views
        assert np.array_equal(lanczos_resize(view, *size), np.asarray(crop_resize(frame, box, *size)))
    same = lanczos_resize(frame, 288, 512)
    assert np.array_equal(same, frame) and same is not frame  # a copy, as Pillow's resize returns


def test_weights_sum_to_one_in_fixed_point_and_bad_input_is_refused() -> None:
    for n_in, n_out in [(288, 256), (288, 64), (16, 37)]:
        first, weights = coefficients(n_in, n_out)
        assert first.shape == (n_out,) and weights.shape[0] == n_out
        assert np.all(np.abs(weights.sum(1) - (1 << 22)) <= weights.shape[1])  # rounding of each tap
    with pytest.raises(ValueError, match="uint8"):
        lanczos_resize(np.zeros((4, 4, 3), np.float32), 2, 2)
    with pytest.raises(ValueError, match="positive"):
        coefficients(4, 0)
