"""Decoding image and mask files into uint8 arrays, with the checks that keep samples honest.

Masks follow the ISIC challenge: an 8-bit mask is foreground where it is > 128; a 1-bit BMP is
foreground where set; an RGB mask where any channel is > 128; a mask holding only 0 and 1 is read
as 0/1. A mask with more than two levels (beyond a small tolerance for resampling edges) or one that
looks like a label map is refused rather than thresholded into something wrong.
"""
from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError

#: Pixel values within this distance of 0 or 255 count as background or foreground.
LEVEL_TOLERANCE = 8
#: Largest share of pixels a mask may hold between the two levels (a few stray values).
MAX_INTERMEDIATE_SHARE = 0.001

_SKIP_HINT = "(the train command's --skip-bad, or skip_bad=True in Python, leaves it out)"
_FIX_IMAGE = f"re-download or re-export the file, or drop the sample {_SKIP_HINT}"


def _open(path: str, what: str) -> Image.Image:
    if not os.path.isfile(path):
        raise DataError(f"{path}: {what} file is missing; restore it from the dataset download "
                        f"or drop the sample {_SKIP_HINT}")
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: {what} cannot be read as an image ({exc}); {_FIX_IMAGE}") from exc


def read_size(path: str, what: str = "image") -> tuple[int, int]:
    """The (width, height) of an image file from its header, without decoding the pixels.

    Raises:
        DataError: the file is missing or is not an image.
    """
    with _open(path, what) as im:
        return im.size


def read_image(path: str, size: tuple[int, int] | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode an image as RGB uint8, optionally resized.

    Args:
        path: image file (JPEG, PNG, BMP, ...).
        size: target ``(height, width)``; ``None`` keeps the original size. Large JPEGs are
            decoded at a reduced DCT scale first (still at least the target size), then resized
            with antialiased bilinear filtering.

    Returns:
        ``(array [H, W, 3] uint8, (original width, original height))``.

    Raises:
        DataError: missing, unreadable, corrupt or truncated file.
    """
    im = _open(path, "image")
    try:
        with im:
            original = im.size
            if size is not None and im.format == "JPEG":
                im.draft("RGB", (size[1], size[0]))
            im = im.convert("RGB")
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR, reducing_gap=2.0)
            return np.asarray(im, dtype=np.uint8).copy(), original
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: image cannot be decoded ({exc}); {_FIX_IMAGE}") from exc


def binarize_mask(values: np.ndarray, path: str = "<array>", threshold: int = 128) -> np.ndarray:
    """Turn decoded mask pixel values into a {0, 1} uint8 array [H, W].

    Args:
        values: ``bool`` (1-bit), ``[H, W]`` or ``[H, W, C]`` integer pixel values (0-255; 16-bit
            values are scaled). With channels, a pixel is foreground when any channel is.
        path: the file the values came from, for error messages.

    Raises:
        DataError: more than two levels beyond the tolerance (e.g. a JPEG-compressed or soft
            mask) or a label map (values 0..k with k small but more than 1).
    """
    if values.dtype == bool:
        return values.astype(np.uint8) if values.ndim == 2 else values.any(-1).astype(np.uint8)
    v = np.asarray(values)
    if v.ndim == 3:
        v = v[..., :3].max(-1) if v.shape[-1] in (3, 4) else v.max(-1)
    if v.dtype != np.uint8:
        if v.max(initial=0) > 255:
            v = v.astype(np.float64) / 257.0
        v = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    vmax = int(v.max(initial=0))
    if vmax <= 1:                       # only 0 and 1: a 0/1 mask
        return v.astype(np.uint8, copy=False)
    total = v.size
    # pixels strictly between the two levels, (tol, 255 - tol), counted with one wrapping subtraction
    mid = int(np.count_nonzero(v - np.uint8(LEVEL_TOLERANCE + 1) < np.uint8(254 - 2 * LEVEL_TOLERANCE)))
    levels = int(np.count_nonzero(np.bincount(v.ravel(), minlength=256))) if mid > MAX_INTERMEDIATE_SHARE * total else 0
    if levels > 2:                      # two levels (0 and 200, say) are a binary mask: > 128 decides
        raise DataError(
            f"{path}: mask has {levels} grey levels with {100 * mid / total:.1f}% of pixels between "
            f"{LEVEL_TOLERANCE} and {255 - LEVEL_TOLERANCE} (expected a binary 0/255 mask; a JPEG-"
            f"compressed or soft mask?); save it as a lossless PNG of 0 and 255")
    foreground = v > threshold
    if vmax <= 128 and np.count_nonzero(v) > MAX_INTERMEDIATE_SHARE * total:
        raise DataError(
            f"{path}: mask values are 0..{vmax} with none above 128 — it looks like a label map, "
            f"not a binary mask; save the lesion as 255 on 0")
    return foreground.view(np.uint8)


def read_mask(path: str, threshold: int = 128) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode a mask file to {0, 1} uint8 [H, W] at its own size.

    Accepts 1-bit, greyscale, palette and RGB(A) masks (see `binarize_mask`); foreground is
    ``> threshold`` (the challenge's 128).

    Returns:
        ``(mask [H, W] uint8 {0,1}, (width, height))``.

    Raises:
        DataError: missing or undecodable file, or not a binary mask.
    """
    im = _open(path, "mask")
    try:
        with im:
            size = im.size
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            values = np.asarray(im)
            mode = im.mode
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: mask cannot be decoded ({exc}); {_FIX_IMAGE}") from exc
    if mode in ("LA", "RGBA", "La", "RGBa"):
        values = _without_alpha(values, path)
    return binarize_mask(values, path, threshold), size


def _without_alpha(values: np.ndarray, path: str) -> np.ndarray:
    """The mask drawn in an image with an alpha channel: the colour channels, or the alpha channel
    when the lesion is drawn only there (colour channels constant). Both varying and disagreeing is
    an error: reading either one would silently give a wrong mask (a full one, often)."""
    colour, alpha = values[..., :-1], values[..., -1]
    if alpha.min() == alpha.max():                 # opaque (or uniformly transparent): colour holds it
        return colour
    if colour.min() == colour.max():               # one colour everywhere: the alpha is the drawing
        return alpha
    from_colour = binarize_mask(colour, path)
    from_alpha = binarize_mask(alpha, path)
    if np.array_equal(from_colour, from_alpha):
        return colour
    raise DataError(
        f"{path}: mask has an alpha channel and colour channels that draw different lesions "
        f"({int(from_alpha.sum())} and {int(from_colour.sum())} foreground pixels); save it as an "
        f"8-bit grey PNG, 255 on the lesion and 0 elsewhere, without transparency")


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a {0,1} mask [H, W] to ``(height, width)``, keeping it binary.

    Antialiased bilinear resampling of 0/255, then threshold at 128: smoother than nearest
    neighbour on downscaling, and the result is still exactly {0, 1}.
    """
    if mask.shape[:2] == tuple(size):
        return mask.astype(np.uint8)
    im = Image.fromarray((mask > 0).view(np.uint8) * np.uint8(255))
    small = np.asarray(im.resize((size[1], size[0]), Image.BILINEAR, reducing_gap=2.0))
    return (small >= 128).view(np.uint8)


def load_mask(path: str, size: tuple[int, int] | None, image_size_wh: tuple[int, int] | None,
              image_path: str | None = None) -> np.ndarray:
    """Read, check against its image's size, and resize one mask to [H, W] {0,1} uint8.

    Args:
        path: the mask file.
        size: target ``(height, width)`` or ``None`` for the mask's own size.
        image_size_wh: the original (width, height) of the mask's image, or ``None`` to skip
            the check.
        image_path: the image, named in the error message.

    Raises:
        DataError: see `read_mask`; or the mask's size differs from its image's.
    """
    mask, wh = read_mask(path)
    if image_size_wh is not None and tuple(wh) != tuple(image_size_wh):
        raise DataError(
            f"{path}: mask is {wh[0]}x{wh[1]} but its image {image_path or ''} is "
            f"{image_size_wh[0]}x{image_size_wh[1]} (width x height); a mask must have its image's "
            f"size — re-export it at the image's size or drop the sample {_SKIP_HINT}")
    return resize_mask(mask, size) if size is not None else mask
