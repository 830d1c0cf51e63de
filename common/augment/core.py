"""The transform protocol, composition, and the adapter that drives albumentations from our generator.

Every transform is a callable ``transform(image, mask, rng) -> (image, mask)``:

- ``image``: ``uint8`` array ``[H, W, C]`` (RGB, ``C = 3``);
- ``mask``: ``None``, or ``uint8`` ``[H, W]`` / ``[H, W, K]`` with values in ``{0, 1}`` (``K = 1`` for the
  lesion, ``K = 5`` for the ISIC 2018 Task 2 attribute masks stacked on the last axis);
- ``rng``: a ``numpy.random.Generator`` (an ``int`` seed is accepted and turned into one).

The output is a pure function of ``(image, mask, rng state)``: the same generator state gives the same
pair, bit for bit. Inputs are never modified in place; a transform that does not fire returns its inputs
unchanged (the very same arrays). Shapes and dtypes are preserved, and geometric transforms move all mask
channels with the image using nearest-neighbour sampling, so masks stay binary.
"""
from __future__ import annotations

import copy
import os
import threading
from typing import Sequence

import numpy as np

# albumentations >= 2.0 checks PyPI for a newer version at import time; training machines are often
# offline, so the check is off unless the user turns it back on.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402

SEED_BOUND = 2**32  # albumentations seeds numpy and `random` generators; both accept any value below 2**32


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return ``rng`` as a ``numpy.random.Generator`` (an ``int`` seeds a new one, ``None`` a fresh one)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, not {type(rng).__name__}")


def value_range(value, name: str, *, symmetric: bool = False) -> tuple[float, float]:
    """``(lo, hi)`` from a pair, or from one number: ``(-v, v)`` when ``symmetric`` else ``(v, v)``."""
    if isinstance(value, (int, float, np.number)):
        value = float(value)
        return (-abs(value), abs(value)) if symmetric else (value, value)
    lo, hi = (float(v) for v in value)
    if lo > hi:
        raise ValueError(f"{name} range must be (low, high) with low <= high, got {value}")
    return lo, hi


def check_pair(image: np.ndarray, mask: np.ndarray | None) -> None:
    """Raise ``ValueError`` unless ``image`` is ``uint8 [H, W, C]`` and ``mask`` is ``None`` or ``uint8``
    ``[H, W]`` / ``[H, W, K]`` with the image's height and width."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(
            "augmentation expects the image as a uint8 array [H, W, C]; got "
            f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}. "
            "Augment before converting to float / another colour space."
        )
    if mask is None:
        return
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim not in (2, 3):
        raise ValueError(
            "augmentation expects the mask as a uint8 array [H, W] or [H, W, K] with values {0, 1}; got "
            f"{type(mask).__name__} {getattr(mask, 'dtype', '')} {getattr(mask, 'shape', '')}"
        )
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"mask size {mask.shape[:2]} differs from image size {image.shape[:2]}")


class Transform:
    """Base class: fires with probability ``p``, then calls :meth:`apply`.

    One uniform number is always drawn for the ``p`` decision (also when ``p`` is 0 or 1), so changing a
    probability does not shift the random stream of the transforms that follow.

    Args:
        p: probability that the transform is applied to a given sample.
    """

    def __init__(self, p: float = 1.0):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"probability p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, image, mask=None, rng=None):
        rng = as_rng(rng)
        check_pair(image, mask)
        if rng.random() >= self.p:
            return image, mask
        out_image, out_mask = self.apply(image, mask, rng)
        if out_image.shape != image.shape or out_image.dtype != np.uint8:
            raise RuntimeError(f"{self!r} changed the image to {out_image.dtype} {out_image.shape}")
        if mask is not None and (out_mask.shape != mask.shape or out_mask.dtype != np.uint8):
            raise RuntimeError(f"{self!r} changed the mask to {out_mask.dtype} {out_mask.shape}")
        return out_image, out_mask

    def apply(self, image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator):
        """Transform one validated pair; subclasses implement this. Must not modify the inputs."""
        raise NotImplementedError

    def _fields(self) -> dict:
        return {"p": self.p}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields().items())
        return f"{type(self).__name__}({args})"


class Identity(Transform):
    """Returns the pair unchanged (the "no augmentation" pipeline, and the original in offline expansion)."""

    def apply(self, image, mask, rng):
        return image, mask


class Compose(Transform):
    """Applies ``transforms`` in order, each with its own probability; the whole chain fires with ``p``.

    Args:
        transforms: callables ``(image, mask, rng) -> (image, mask)``.
        p: probability that the chain runs at all.
    """

    def __init__(self, transforms: Sequence, p: float = 1.0):
        super().__init__(p)
        self.transforms = list(transforms)

    def apply(self, image, mask, rng):
        for transform in self.transforms:
            image, mask = transform(image, mask, rng)
        return image, mask

    def _fields(self) -> dict:
        return {"transforms": self.transforms, "p": self.p}


class OneOf(Transform):
    """Picks one of ``transforms`` (uniformly, or in proportion to ``weights``) and calls it.

    The chosen transform still applies its own probability; give children ``p=1`` for "always exactly one".

    Args:
        transforms: callables ``(image, mask, rng) -> (image, mask)``.
        weights: relative selection weights (default: equal).
        p: probability that a transform is picked at all.
    """

    def __init__(self, transforms: Sequence, weights: Sequence[float] | None = None, p: float = 1.0):
        super().__init__(p)
        self.transforms = list(transforms)
        if not self.transforms:
            raise ValueError("OneOf needs at least one transform")
        if weights is None:
            weights = [1.0] * len(self.transforms)
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(self.transforms),) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"OneOf weights must be {len(self.transforms)} non-negative numbers, not all 0")
        self.weights = weights / weights.sum()

    def apply(self, image, mask, rng):
        index = int(rng.choice(len(self.transforms), p=self.weights))
        return self.transforms[index](image, mask, rng)

    def _fields(self) -> dict:
        return {"transforms": self.transforms, "weights": self.weights.round(4).tolist(), "p": self.p}


class AlbumentationsTransform(Transform):
    """Runs an albumentations transform as a seeded, joint image/mask transform.

    Seeding (albumentations >= 1.4.21, tested with 2.0): every albumentations transform draws its random
    parameters from its own ``random_generator`` (``numpy.random.Generator``) and ``py_random``
    (``random.Random``), never from the global state; ``A.Compose(..., seed=s)`` seeds them once, so a seeded
    Compose gives a reproducible *sequence* over successive calls. That is not enough here (the output must
    depend only on the caller's generator, whatever ran before), so before every call the wrapped transform
    is re-seeded with ``set_random_seed(rng.integers(2**32))``. The albumentations ``p`` is forced to 1;
    the probability is decided by :class:`Transform` from ``rng``.

    Re-seeding mutates the wrapped object, so each thread works on its own copy (batch iterators may run
    several worker threads); the adapter pickles without those copies for worker processes.

    Args:
        transform: an albumentations ``BasicTransform`` (pixel-level ones leave the mask untouched; dual ones
            move mask channels with nearest-neighbour interpolation when built with
            ``mask_interpolation=cv2.INTER_NEAREST``, albumentations' default).
        p: probability of applying it.
    """

    def __init__(self, transform, p: float = 1.0):
        super().__init__(p)
        if not hasattr(transform, "set_random_seed"):
            raise ImportError(
                f"albumentations {A.__version__} has no per-transform seeding; install albumentations>=2.0"
            )
        self.transform = copy.deepcopy(transform)
        self.transform.p = 1.0
        self.image_only = isinstance(transform, A.ImageOnlyTransform)
        self._local = threading.local()

    def _own_copy(self):
        local = getattr(self._local, "transform", None)
        if local is None:
            local = self._local.transform = copy.deepcopy(self.transform)
        return local

    def apply(self, image, mask, rng):
        transform = self._own_copy()
        transform.set_random_seed(int(rng.integers(SEED_BOUND)))
        if self.image_only or mask is None:
            return transform(image=image)["image"], mask
        out = transform(image=image, mask=mask)
        out_mask = out["mask"]
        if out_mask.shape != mask.shape:  # OpenCV drops a trailing channel of size 1
            out_mask = out_mask.reshape(mask.shape)
        return out["image"], out_mask

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_local", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _fields(self) -> dict:
        return {"transform": self.transform, "p": self.p}


def expand_dataset(images: np.ndarray, masks: np.ndarray | None, variants: Sequence, seed: int = 0):
    """Offline augmentation: every sample passed through every transform in ``variants``.

    Output index ``i * len(variants) + v`` holds variant ``v`` of sample ``i`` (sample-major, so the copies
    of one image stay together). Sample ``i`` uses the generator ``default_rng([seed, i])``, so its variants
    do not depend on the other samples or on the batch it came in.

    Args:
        images: ``uint8 [N, H, W, C]``.
        masks: ``uint8 [N, H, W, K]`` (or ``[N, H, W]``) in ``{0, 1}``, or ``None``.
        variants: transforms ``(image, mask, rng) -> (image, mask)``; pass ``[pipeline] * k`` for ``k``
            random copies of a pipeline.
        seed: non-negative integer.

    Returns:
        ``(images, masks)`` with ``N * len(variants)`` samples (``masks`` ``None`` when given ``None``).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
    if masks is not None and len(masks) != len(images):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    count = len(variants)
    out_images = np.empty((len(images) * count,) + images.shape[1:], dtype=np.uint8)
    out_masks = None if masks is None else np.empty((len(masks) * count,) + masks.shape[1:], dtype=np.uint8)
    for i, image in enumerate(images):
        rng = np.random.default_rng([int(seed), i])
        mask = None if masks is None else masks[i]
        for v, transform in enumerate(variants):
            out_image, out_mask = transform(image, mask, rng)
            out_images[i * count + v] = out_image
            if out_masks is not None:
                out_masks[i * count + v] = out_mask
    return out_images, out_masks
