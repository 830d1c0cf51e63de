"""Colour spaces and ImageNet preprocessing."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import color

from common.data import COLOUR_SPACES, imagenet_preprocess, synthetic, to_colour_space


@pytest.fixture(scope="module")
def batch():
    images = synthetic.generate(3, (24, 24))[0]
    corners = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 255, 255]]],
                       np.uint8).reshape(1, 2, 3, 3)
    padded = np.zeros((1, 24, 24, 3), np.uint8)
    padded[:, :2, :3] = corners
    return np.concatenate([images, padded])


@pytest.mark.parametrize("space, channels", [("rgb", 3), ("lab", 3), ("hsv", 3), ("hsv_rgb", 6), ("grey", 1)])
def test_ranges_and_shapes(batch, space, channels):
    out = to_colour_space(batch, space)
    assert out.dtype == np.float32 and out.shape == batch.shape[:3] + (channels,)
    assert out.min() >= 0 and out.max() <= 1
    single = to_colour_space(batch[0], space)                   # one image works too
    assert np.allclose(single, out[0], atol=1e-6)


def test_lab_scaling_matches_skimage(batch):
    lab = color.rgb2lab(batch / 255.0)
    out = to_colour_space(batch, "lab")
    assert np.allclose(out[..., 0], lab[..., 0] / 100, atol=1e-4)
    assert np.allclose(out[..., 1:], (lab[..., 1:] + 128) / 255, atol=1e-4)
    assert np.allclose(to_colour_space(batch[-1:, :1, :1], "lab")[0, 0, 0], [0, 128 / 255, 128 / 255], atol=1e-4)


def test_hsv_rgb_stacks_hsv_then_rgb(batch):
    out = to_colour_space(batch, "hsv_rgb")
    assert np.allclose(out[..., :3], color.rgb2hsv(batch / 255.0), atol=1e-5)
    assert np.allclose(out[..., 3:], batch / 255.0, atol=1e-6)
    assert set(COLOUR_SPACES) == {"rgb", "lab", "hsv", "hsv_rgb", "grey"}
    with pytest.raises(ValueError, match="unknown colour space 'xyz'"):
        to_colour_space(batch, "xyz")


@pytest.mark.parametrize("mode", ["torch", "caffe", "tf"])
def test_imagenet_matches_keras(batch, mode):
    from keras.applications import imagenet_utils
    expected = imagenet_utils.preprocess_input(batch.astype(np.float32).copy(), mode=mode)
    assert np.allclose(imagenet_preprocess(batch, mode), expected, atol=1e-4)
    assert np.allclose(imagenet_preprocess(batch / 255.0, mode), expected, atol=1e-3)   # float [0,1] input


def test_imagenet_none_is_0_255(batch):
    out = imagenet_preprocess(batch, "none")
    assert out.dtype == np.float32 and np.array_equal(out, batch.astype(np.float32))
    with pytest.raises(ValueError, match="unknown preprocessing mode"):
        imagenet_preprocess(batch, "bgr")
