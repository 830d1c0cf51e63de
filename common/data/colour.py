"""Colour spaces and ImageNet input normalisation, vectorised over a batch.

`to_colour_space` maps RGB images (uint8, or float in [0, 1]) to float32 channels in [0, 1]:
``"rgb"``; ``"lab"`` (CIELAB, D65, as AER-Net's input: L/100, (a+128)/255, (b+128)/255);
``"hsv"``; ``"hsv_rgb"`` (6 channels: H, S, V, R, G, B); ``"grey"`` (1 channel, ITU-R 709 luma).
"""
from __future__ import annotations

import numpy as np

COLOUR_SPACES = ("rgb", "lab", "hsv", "hsv_rgb", "grey")
PREPROCESS_MODES = ("torch", "caffe", "tf", "none")
_CHANNELS = {"rgb": 3, "lab": 3, "hsv": 3, "hsv_rgb": 6, "grey": 1}
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def channels(space: str) -> int:
    """Number of channels `to_colour_space` returns for ``space``."""
    _check(space)
    return _CHANNELS[space]


def _check(space: str) -> None:
    if space not in _CHANNELS:
        raise ValueError(f"unknown colour space {space!r}; choose one of {', '.join(COLOUR_SPACES)}")


def _rgb01(images) -> np.ndarray:
    x = np.asarray(images)
    if x.shape[-1] != 3:
        raise ValueError(f"expected RGB images with 3 channels last, got shape {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    return np.clip(x.astype(np.float32), 0, 1)


def to_colour_space(images_uint8, space: str) -> np.ndarray:
    """Convert RGB images to a colour space, float32 with every channel in [0, 1].

    Args:
        images_uint8: ``[..., H, W, 3]`` uint8 RGB (float input is taken to be in [0, 1]).
        space: one of `COLOUR_SPACES`.

    Returns:
        ``[..., H, W, C]`` float32, C = `channels(space)`.
    """
    _check(space)
    from skimage import color                      # imported here: keeps `import common.data` light

    rgb = _rgb01(images_uint8)
    if space == "rgb":
        return rgb
    if space == "grey":
        return color.rgb2gray(rgb).astype(np.float32)[..., None]
    if space == "lab":
        lab = color.rgb2lab(rgb).astype(np.float32)
        lab[..., 0] /= 100.0
        lab[..., 1:] = (lab[..., 1:] + 128.0) / 255.0
        return np.clip(lab, 0.0, 1.0)
    hsv = color.rgb2hsv(rgb).astype(np.float32)
    return hsv if space == "hsv" else np.concatenate([hsv, rgb], axis=-1)


def imagenet_preprocess(images_float01_or_uint8, mode: str) -> np.ndarray:
    """Normalise RGB images as ``keras.applications`` ``preprocess_input`` does.

    Args:
        images_float01_or_uint8: ``[..., 3]`` RGB, uint8 (0-255) or float in [0, 1].
        mode: ``"torch"`` (x/255, minus ImageNet mean, over std), ``"caffe"`` (RGB->BGR, minus the
            BGR mean on 0-255), ``"tf"`` (x/127.5 - 1), or ``"none"`` (float32 on the 0-255 scale,
            for models that normalise inside, e.g. keras EfficientNet).

    Returns:
        float32 array of the same shape.
    """
    if mode not in PREPROCESS_MODES:
        raise ValueError(f"unknown preprocessing mode {mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")
    x = _rgb01(images_float01_or_uint8) * np.float32(255)
    if mode == "torch":
        return (x / np.float32(255) - _TORCH_MEAN) / _TORCH_STD
    if mode == "caffe":
        return x[..., ::-1] - _CAFFE_MEAN_BGR
    if mode == "tf":
        return x / np.float32(127.5) - np.float32(1)
    return x
