"""Geometric, photometric and noise transforms on an image/mask pair.

Geometric transforms (flips, :class:`Affine` and its one-parameter forms) move the image and every mask
channel with the same matrix; masks are resampled nearest-neighbour, so they stay in ``{0, 1}``. All other
transforms change the image only and return the mask untouched.

Where albumentations has the operation it does the work (flips, affine warp, CLAHE, channel shift,
intensity scaling, Gaussian and salt-and-pepper noise, Gaussian blur, unsharp masking), driven by the
caller's generator (see :class:`~common.augment.core.AlbumentationsTransform`). Written here: gamma
(albumentations' uint8 lookup table truncates, so its gamma 1.0 is not the identity), speckle noise,
contrast change by linear histogram stretching and the axial / radial illumination gradients (albumentations'
``Illumination`` caps the strength at 0.2 and its radial mode is a Gaussian bump).
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from .core import A, AlbumentationsTransform, Transform, value_range

BORDERS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "constant": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
}


def _lut(image: np.ndarray, table: np.ndarray) -> np.ndarray:
    return cv2.LUT(image, np.clip(np.rint(table), 0, 255).astype(np.uint8)).reshape(image.shape)


# ----------------------------------------------------------------------------------------------- geometric
class HorizontalFlip(AlbumentationsTransform):
    """Left-right mirror of image and mask (``A.HorizontalFlip``).

    Args:
        p: probability of flipping.
    """

    def __init__(self, p: float = 0.5):
        super().__init__(A.HorizontalFlip(p=1.0), p=p)

    def _fields(self) -> dict:
        return {"p": self.p}


class VerticalFlip(AlbumentationsTransform):
    """Top-bottom mirror of image and mask (``A.VerticalFlip``).

    Args:
        p: probability of flipping.
    """

    def __init__(self, p: float = 0.5):
        super().__init__(A.VerticalFlip(p=1.0), p=p)

    def _fields(self) -> dict:
        return {"p": self.p}


class Affine(AlbumentationsTransform):
    """Rotation, isotropic zoom, translation and shear in one warp (``A.Affine``), same matrix for the mask.

    Args:
        rotate: degrees; ``r`` draws from ``[-r, r]``, a pair from that range.
        scale: zoom factor range (``>1`` enlarges the content).
        translate: fraction of width/height; ``t`` draws each axis from ``[-t, t]``.
        shear: x-shear angle in RADIANS (the Keras ``ImageDataGenerator`` convention that "shear 0.3" of
            the transfer-ensemble paper follows: 0.3 rad is about 17 degrees); ``s`` draws from ``[-s, s]``.
        border: how uncovered pixels are filled, for image and mask alike: ``"reflect"`` (default, no
            black corners), ``"constant"`` (0) or ``"replicate"``.
        p: probability of applying the warp.
    """

    def __init__(self, rotate=0.0, scale=(1.0, 1.0), translate=0.0, shear=0.0, border: str = "reflect",
                 p: float = 0.5):
        if border not in BORDERS:
            raise ValueError(f"border must be one of {sorted(BORDERS)}, got {border!r}")
        self.rotate = value_range(rotate, "rotate", symmetric=True)
        self.scale = value_range(scale, "scale")
        self.translate = value_range(translate, "translate", symmetric=True)
        self.shear = value_range(shear, "shear", symmetric=True)
        self.border = border
        transform = A.Affine(
            rotate=self.rotate,
            scale=self.scale,
            keep_ratio=True,
            translate_percent={"x": self.translate, "y": self.translate},
            shear={"x": tuple(math.degrees(s) for s in self.shear), "y": (0.0, 0.0)},
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=cv2.INTER_NEAREST,
            border_mode=BORDERS[border],
            fill=0,
            fill_mask=0,
            p=1.0,
        )
        super().__init__(transform, p=p)

    def _fields(self) -> dict:
        return {"rotate": self.rotate, "scale": self.scale, "translate": self.translate,
                "shear": self.shear, "border": self.border, "p": self.p}


class Rotate(Affine):
    """Rotation by an angle drawn from ``[-limit, limit]`` degrees."""

    def __init__(self, limit=40.0, border: str = "reflect", p: float = 0.5):
        super().__init__(rotate=limit, border=border, p=p)


class Zoom(Affine):
    """Isotropic zoom by a factor drawn from ``scale``."""

    def __init__(self, scale=(0.7, 1.3), border: str = "reflect", p: float = 0.5):
        super().__init__(scale=scale, border=border, p=p)


class Translate(Affine):
    """Shift by up to ``limit`` of the width / height along each axis."""

    def __init__(self, limit=0.1, border: str = "reflect", p: float = 0.5):
        super().__init__(translate=limit, border=border, p=p)


class Shear(Affine):
    """x-shear by an angle drawn from ``[-limit, limit]`` radians."""

    def __init__(self, limit=0.3, border: str = "reflect", p: float = 0.5):
        super().__init__(shear=limit, border=border, p=p)


# --------------------------------------------------------------------------------------------- photometric
class Gamma(Transform):
    """Gamma correction ``out = 255 * (in / 255) ** gamma`` (rounded lookup table; ``gamma = 1`` is exact
    identity, ``< 1`` brightens, ``> 1`` darkens; same as ``skimage.exposure.adjust_gamma``).

    Args:
        gammas: the values to choose from uniformly (SLSNet §4.3: 0.5, 1.0, 1.5), or one number.
        p: probability of applying.
    """

    def __init__(self, gammas: Sequence[float] | float = (0.5, 1.0, 1.5), p: float = 0.5):
        super().__init__(p)
        self.gammas = (float(gammas),) if np.isscalar(gammas) else tuple(float(g) for g in gammas)
        if not self.gammas or min(self.gammas) <= 0:
            raise ValueError(f"gammas must be positive numbers, got {gammas}")

    def sample(self, rng: np.random.Generator) -> float:
        return self.gammas[int(rng.integers(len(self.gammas)))]

    def apply(self, image, mask, rng):
        gamma = self.sample(rng)
        return _lut(image, 255.0 * (np.arange(256) / 255.0) ** gamma), mask

    def _fields(self) -> dict:
        return {"gammas": self.gammas, "p": self.p}


class CLAHE(Transform):
    """Contrast-limited adaptive histogram equalisation (``A.CLAHE``: OpenCV's CLAHE on the L channel of
    CIELAB for RGB input, so hue is kept), clip limit in OpenCV units drawn uniformly from ``clip_limit``.

    OpenCV turns the limit into a whole number of pixels per histogram bin, ``max(1, int(clip * tile_area /
    256))``; on 16 x 16-pixel tiles (the usual 8 x 8 grid on a 128-pixel image) every limit in [1, 2) acts as
    1. So by default the grid adapts to the image: tiles of at least 32 pixels a side, at most 8 per axis
    (8 x 8 from 256 pixels up, 4 x 4 at 128), and limits between 1 and 2 give different contrasts.

    Args:
        clip_limit: range of the contrast limit (SLSNet §4.3: between 1.00 and 2.00), or one number.
        tile_grid_size: tiles per (row, column), or ``None`` for the size-dependent grid above.
        p: probability of applying.
    """

    MIN_TILE = 32
    MAX_TILES = 8

    def __init__(self, clip_limit=(1.0, 2.0), tile_grid_size: tuple[int, int] | None = None, p: float = 0.5):
        super().__init__(p)
        self.clip_limit = value_range(clip_limit, "clip_limit")
        if self.clip_limit[0] < 1.0:
            raise ValueError(f"CLAHE clip limit must be >= 1, got {clip_limit}")
        self.tile_grid_size = None if tile_grid_size is None else tuple(int(t) for t in tile_grid_size)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Tiles per (row, column) used for an image of this size."""
        if self.tile_grid_size is not None:
            return self.tile_grid_size
        return tuple(int(np.clip(side // self.MIN_TILE, 1, self.MAX_TILES)) for side in (height, width))

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(*self.clip_limit))

    def apply(self, image, mask, rng):
        clip = self.sample(rng)
        grid = self.grid(*image.shape[:2])
        transform = A.CLAHE(clip_limit=(clip, clip), tile_grid_size=grid, p=1.0)
        return transform(image=image)["image"], mask  # deterministic once the range is a single value

    def _fields(self) -> dict:
        return {"clip_limit": self.clip_limit, "tile_grid_size": self.tile_grid_size, "p": self.p}


class ChannelShift(AlbumentationsTransform):
    """Adds an independent offset from ``[-limit, limit]`` (0–255 units) to each colour channel
    (``A.RGBShift``): the "random shift in color channels" of the transfer-ensemble paper."""

    def __init__(self, limit: float = 20.0, p: float = 0.5):
        self.limit = float(limit)
        band = (-self.limit, self.limit)
        super().__init__(A.RGBShift(r_shift_limit=band, g_shift_limit=band, b_shift_limit=band, p=1.0), p=p)

    def _fields(self) -> dict:
        return {"limit": self.limit, "p": self.p}


class IntensityScale(AlbumentationsTransform):
    """Multiplies all pixels by one factor drawn from ``scale`` (``A.MultiplicativeNoise`` with one
    multiplier per image), clipped to 0–255."""

    def __init__(self, scale=(0.7, 1.3), p: float = 0.5):
        self.scale = value_range(scale, "scale")
        super().__init__(A.MultiplicativeNoise(multiplier=self.scale, per_channel=False, elementwise=False,
                                               p=1.0), p=p)

    def _fields(self) -> dict:
        return {"scale": self.scale, "p": self.p}


class ContrastStretch(Transform):
    """Contrast change by linear histogram stretching (transfer-ensemble paper, "decreasing and increasing
    image contrast using linear histogram equalization").

    Increase: the grey levels between the ``a``-th and ``(100 - b)``-th percentiles of the image (all
    channels pooled, so hue is kept) are mapped linearly onto 0–255, with ``a, b`` drawn from ``saturate``.
    Decrease: 0–255 is mapped linearly onto ``[255 f_lo, 255 (1 - f_hi)]`` with ``f_lo, f_hi`` drawn from
    ``compress``.

    Args:
        mode: ``"both"`` (each with probability 1/2), ``"increase"`` or ``"decrease"``.
        saturate: percent of pixels clipped at each end when increasing.
        compress: fraction of the range given up at each end when decreasing.
        p: probability of applying.
    """

    MODES = ("both", "increase", "decrease")

    def __init__(self, mode: str = "both", saturate=(0.5, 5.0), compress=(0.05, 0.25), p: float = 0.5):
        super().__init__(p)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        self.saturate = value_range(saturate, "saturate")
        self.compress = value_range(compress, "compress")

    def apply(self, image, mask, rng):
        increase = self.mode == "increase" or (self.mode == "both" and rng.random() < 0.5)
        levels = np.arange(256, dtype=np.float64)
        if increase:
            low = np.percentile(image, rng.uniform(*self.saturate))
            high = np.percentile(image, 100.0 - rng.uniform(*self.saturate))
            if high - low < 1.0:  # flat image: nothing to stretch
                return image, mask
            table = (levels - low) * 255.0 / (high - low)
        else:
            low = 255.0 * rng.uniform(*self.compress)
            high = 255.0 * (1.0 - rng.uniform(*self.compress))
            table = low + levels * (high - low) / 255.0
        return _lut(image, table), mask

    def _fields(self) -> dict:
        return {"mode": self.mode, "saturate": self.saturate, "compress": self.compress, "p": self.p}


class GaussianBlur(AlbumentationsTransform):
    """Gaussian blur with sigma (pixels) drawn from ``sigma``; kernel size follows sigma (``A.GaussianBlur``)."""

    def __init__(self, sigma=(0.5, 1.5), p: float = 0.5):
        self.sigma = value_range(sigma, "sigma")
        super().__init__(A.GaussianBlur(blur_limit=0, sigma_limit=self.sigma, p=1.0), p=p)

    def _fields(self) -> dict:
        return {"sigma": self.sigma, "p": self.p}


class UnsharpMask(AlbumentationsTransform):
    """Sharpening by unsharp masking: ``out = in + alpha (in - blur(in))`` where the difference exceeds
    ``threshold`` (``A.UnsharpMask``, blur kernel 3–7 px).

    Args:
        alpha: strength range. threshold: minimum difference (0–255) that is sharpened. p: probability.
    """

    def __init__(self, alpha=(0.3, 0.8), threshold: int = 5, p: float = 0.5):
        self.alpha = value_range(alpha, "alpha")
        self.threshold = int(threshold)
        super().__init__(A.UnsharpMask(blur_limit=(3, 7), sigma_limit=0.0, alpha=self.alpha,
                                       threshold=self.threshold, p=1.0), p=p)

    def _fields(self) -> dict:
        return {"alpha": self.alpha, "threshold": self.threshold, "p": self.p}


class IlluminationGradient(Transform):
    """Non-uniform illumination: the image is multiplied by a smooth gain map (transfer-ensemble paper:
    "an illumination gradient map, either axial or radial").

    Axial: ``gain = 1 + s * u`` with ``u`` in ``[-1, 1]`` the position along a random direction.
    Radial: ``gain = 1 - s * (r / r_max) ** 2`` around a random centre (``s > 0`` darkens the periphery like
    dermoscope vignetting, ``s < 0`` brightens it). ``|s|`` is drawn from ``strength``, its sign at random.

    Args:
        kind: ``"both"`` (each with probability 1/2), ``"axial"`` or ``"radial"``.
        strength: range of ``|s|``.
        p: probability of applying.
    """

    KINDS = ("both", "axial", "radial")

    def __init__(self, kind: str = "both", strength=(0.15, 0.4), p: float = 0.5):
        super().__init__(p)
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.strength = value_range(strength, "strength")

    def gain(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """The ``float32 [H, W]`` gain map for one draw."""
        height, width = shape
        axial = self.kind == "axial" or (self.kind == "both" and rng.random() < 0.5)
        s = rng.uniform(*self.strength) * (1.0 if rng.random() < 0.5 else -1.0)
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        if axial:
            angle = rng.uniform(0.0, 2.0 * math.pi)
            u = (x - (width - 1) / 2) * math.cos(angle) + (y - (height - 1) / 2) * math.sin(angle)
            u /= max(float(np.abs(u).max()), 1e-6)
            return (1.0 + s * u).astype(np.float32)
        cy, cx = rng.uniform(0.25, 0.75) * (height - 1), rng.uniform(0.25, 0.75) * (width - 1)
        r2 = (y - cy) ** 2 + (x - cx) ** 2
        return (1.0 - s * r2 / max(float(r2.max()), 1e-6)).astype(np.float32)

    def apply(self, image, mask, rng):
        gain = self.gain(image.shape[:2], rng)
        out = image.astype(np.float32) * gain[..., None]
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), mask

    def _fields(self) -> dict:
        return {"kind": self.kind, "strength": self.strength, "p": self.p}


# --------------------------------------------------------------------------------------------------- noise
class GaussianNoise(AlbumentationsTransform):
    """Additive zero-mean Gaussian noise, per pixel and channel, standard deviation drawn from ``std`` as a
    fraction of 255 (``A.GaussNoise``)."""

    def __init__(self, std=(0.02, 0.08), p: float = 0.5):
        self.std = value_range(std, "std")
        super().__init__(A.GaussNoise(std_range=self.std, mean_range=(0.0, 0.0), per_channel=True, p=1.0), p=p)

    def _fields(self) -> dict:
        return {"std": self.std, "p": self.p}


class SpeckleNoise(Transform):
    """Multiplicative speckle ``out = in + in * n``, ``n ~ N(0, sigma^2)`` per pixel and channel, sigma drawn
    from ``std`` (the ``"speckle"`` mode of ``skimage.util.random_noise``)."""

    def __init__(self, std=(0.05, 0.15), p: float = 0.5):
        super().__init__(p)
        self.std = value_range(std, "std")

    def apply(self, image, mask, rng):
        sigma = rng.uniform(*self.std)
        pixels = image.astype(np.float32)
        noisy = pixels + pixels * rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8), mask

    def _fields(self) -> dict:
        return {"std": self.std, "p": self.p}


class SaltPepperNoise(AlbumentationsTransform):
    """A fraction ``amount`` of pixels set to white or black (about half each; ``A.SaltAndPepper``)."""

    def __init__(self, amount=(0.005, 0.03), p: float = 0.5):
        self.amount = value_range(amount, "amount")
        super().__init__(A.SaltAndPepper(amount=self.amount, salt_vs_pepper=(0.4, 0.6), p=1.0), p=p)

    def _fields(self) -> dict:
        return {"amount": self.amount, "p": self.p}
