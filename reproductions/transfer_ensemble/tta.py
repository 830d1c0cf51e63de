"""The paper's test-time views (section II.D): the image, its horizontal flip, its vertical flip, a
contrast-enhanced copy rotated by 90 degrees, and a sharpened copy.

Each view maps the model's output back to the image's frame (a flip is its own inverse, the rotation
is undone, the photometric changes need nothing), so the five maps can be averaged; with the five
fold models of a row (``--run-dir`` given five times) that is the paper's 25 predictions per model.
The views register as ``--tta five`` of the shared evaluate and predict commands.

Where the paper gives no parameters (ours, stated once here): the contrast enhancement is a linear
histogram stretch of each channel from its 1st to its 99th percentile to 0-255, the augmentation's
"linear histogram equalization" in its deterministic form; the sharpening is an unsharp mask with a
Gaussian of sigma 1 pixel and amount 1 (``x + 1.0 * (x - blur(x))``).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from common.training.tasks.predict import HFLIP, IDENTITY, TTA_SETS, VFLIP, View

__all__ = ["contrast_stretch", "sharpen", "ROT90_CONTRAST", "SHARPEN", "FIVE_VIEWS"]

STRETCH_PERCENTILES = (1.0, 99.0)
SHARPEN_SIGMA = 1.0
SHARPEN_AMOUNT = 1.0


def contrast_stretch(images: np.ndarray, low: float = STRETCH_PERCENTILES[0],
                     high: float = STRETCH_PERCENTILES[1]) -> np.ndarray:
    """Per image and channel, map the ``low``-th..``high``-th percentile linearly to 0..255 (uint8)."""
    x = np.asarray(images, np.float32)
    lo = np.percentile(x, low, axis=(1, 2), keepdims=True)
    hi = np.percentile(x, high, axis=(1, 2), keepdims=True)
    out = (x - lo) * (255.0 / np.maximum(hi - lo, 1.0))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def sharpen(images: np.ndarray, sigma: float = SHARPEN_SIGMA, amount: float = SHARPEN_AMOUNT) -> np.ndarray:
    """Unsharp masking of a uint8 batch [B, H, W, C]: ``x + amount * (x - gaussian(x, sigma))``."""
    x = np.asarray(images, np.float32)
    blur = ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0))
    return np.clip(np.rint(x + amount * (x - blur)), 0, 255).astype(np.uint8)


def _rot90(x):
    return np.rot90(x, k=1, axes=(1, 2))


def _unrot90(y):
    return np.rot90(y, k=-1, axes=(1, 2))


ROT90_CONTRAST = View("rot90_contrast", lambda x: contrast_stretch(_rot90(x)), _unrot90)
SHARPEN = View("sharpen", sharpen, lambda y: y)
FIVE_VIEWS = (IDENTITY, HFLIP, VFLIP, ROT90_CONTRAST, SHARPEN)

TTA_SETS.setdefault("five", FIVE_VIEWS)
