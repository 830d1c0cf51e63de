"""Synthetic hair occlusion (transfer-ensemble paper, "randomly hair occlusion").

The paper renders hair masks with the simulator of Mirzaalian et al. (its ref. [24]), which is not
available; this is a light re-creation with the properties the paper names: hairs of different thickness,
colour and curvature, painted over the image. Each hair is a quadratic Bezier curve, anti-aliased, of one
colour, alpha-blended onto the image. The lesion mask is returned unchanged: a hair over a lesion does not
change where the lesion is.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .core import Transform, value_range

_SUBPIXEL_BITS = 4  # cv2 drawing with 1/16-pixel coordinates
_DARK_TINT = np.array([1.0, 0.78, 0.62])  # dark brown to black hair (RGB gain on a grey level)
_LIGHT_TINT = np.array([1.0, 0.93, 0.8])  # blond / grey hair


class HairOcclusion(Transform):
    """Paints ``count`` synthetic hairs on the image; the mask is left as it is.

    Args:
        count: range of the number of hairs (inclusive).
        thickness: range of the hair width as a fraction of the image's shorter side (at least 1 pixel).
        length: range of the chord length as a fraction of the image diagonal.
        curvature: range of the bend (control-point offset over chord length); the side is random.
        light_fraction: share of light (blond / grey) hairs; the rest are dark brown to black.
        opacity: range of the per-hair opacity.
        p: probability of applying.
    """

    def __init__(self, count=(3, 15), thickness=(0.004, 0.015), length=(0.2, 0.8), curvature=(0.0, 0.3),
                 light_fraction: float = 0.15, opacity=(0.75, 1.0), p: float = 0.5):
        super().__init__(p)
        self.count = tuple(int(c) for c in value_range(count, "count"))
        if self.count[0] < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.thickness = value_range(thickness, "thickness")
        self.length = value_range(length, "length")
        self.curvature = value_range(curvature, "curvature")
        self.light_fraction = float(light_fraction)
        self.opacity = value_range(opacity, "opacity")

    def _curve(self, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        """Points ``[n, 2]`` (x, y) of one hair: a quadratic Bezier through a random chord."""
        chord = rng.uniform(*self.length) * math.hypot(height, width)
        angle = rng.uniform(0.0, math.pi)
        centre = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        direction = np.array([math.cos(angle), math.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        bend = rng.uniform(*self.curvature) * chord * (1.0 if rng.random() < 0.5 else -1.0)
        start, end = centre - direction * chord / 2, centre + direction * chord / 2
        control = centre + normal * bend
        t = np.linspace(0.0, 1.0, max(8, int(chord / 2)))[:, None]
        return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end

    def _colour(self, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < self.light_fraction:
            level, tint = rng.uniform(150, 230), _LIGHT_TINT
        else:
            level, tint = rng.uniform(10, 90), _DARK_TINT
        return np.clip(level * tint * rng.uniform(0.9, 1.1, size=3), 0, 255).astype(np.float32)

    def apply(self, image, mask, rng):
        height, width = image.shape[:2]
        out = image.astype(np.float32)
        canvas = np.zeros((height, width), dtype=np.uint8)
        for _ in range(int(rng.integers(self.count[0], self.count[1] + 1))):
            points = self._curve(height, width, rng)
            thickness = max(1, int(round(rng.uniform(*self.thickness) * min(height, width))))
            colour = self._colour(rng)
            opacity = rng.uniform(*self.opacity)
            canvas[:] = 0
            cv2.polylines(canvas, [np.rint(points * (1 << _SUBPIXEL_BITS)).astype(np.int32)], False, 255,
                          thickness=thickness, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
            alpha = (canvas.astype(np.float32) * (opacity / 255.0))[..., None]
            out = out * (1.0 - alpha) + colour * alpha
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), mask

    def _fields(self) -> dict:
        return {"count": self.count, "thickness": self.thickness, "length": self.length,
                "curvature": self.curvature, "light_fraction": self.light_fraction,
                "opacity": self.opacity, "p": self.p}
