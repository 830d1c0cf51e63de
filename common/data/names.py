"""File names of the ISIC challenges: image ids, image suffixes, submission file names.

One place for what the readers, the metrics' folder scoring and the ``predict`` commands all parse:
``ISIC_0012345`` ids, the image suffixes a folder of images may hold, and the names a submission
uses (``ISIC_0012345_segmentation.png``, ``ISIC_0012345_attribute_globules.png``).
"""
from __future__ import annotations

import re
from pathlib import Path

#: ISIC 2019's ground-truth columns, in the CSV's order (UNK has no images in the training set).
ISIC2019_CLASSES = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
#: Suffixes of image files an input folder may hold (lower case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Suffixes of mask files the scorers read.
MASK_SUFFIXES = (".png", ".bmp", ".gif", ".tif", ".tiff", ".jpg", ".jpeg")

ISIC_ID = re.compile(r"ISIC_(\d{7})")
ATTRIBUTE_NAME = re.compile(r"attribute_([a-z_]+)")


def isic_id(name: str) -> str | None:
    """``ISIC_<7 digits>`` found in a file name, or None."""
    match = ISIC_ID.search(str(name))
    return f"ISIC_{match.group(1)}" if match else None


def image_id(name: str) -> str:
    """Id of an image or mask file: ``ISIC_<7 digits>`` when present, else the stem before its first ``_``.

    ``ISIC_0024311_segmentation.png`` -> ``ISIC_0024311``; ``IMD010_lesion.bmp`` -> ``IMD010``.
    """
    return isic_id(name) or Path(name).stem.split("_", 1)[0]


def attribute_of(name: str) -> str | None:
    """The attribute of a Task 2 mask name (``..._attribute_globules.png`` -> ``globules``)."""
    match = ATTRIBUTE_NAME.search(Path(name).stem)
    return match.group(1) if match else None


def submission_stem(image_path: str | Path) -> str:
    """``ISIC_0012345`` for ISIC images, the file's stem for any other image."""
    stem = Path(image_path).stem
    return isic_id(stem) or stem


def mask_name(image_path: str | Path) -> str:
    """ISIC Task 1 submission name: ``ISIC_0012345_segmentation.png`` (others: ``<stem>_segmentation.png``)."""
    return f"{submission_stem(image_path)}_segmentation.png"


def attribute_mask_name(image_path: str | Path, attribute: str) -> str:
    """ISIC 2018 Task 2 submission name: ``ISIC_0012345_attribute_<attribute>.png``."""
    return f"{submission_stem(image_path)}_attribute_{attribute}.png"


def is_input_image(path: Path) -> bool:
    """An image a ``predict`` folder may hold: not a mask, superpixel map or hidden file."""
    return (path.suffix.lower() in IMAGE_SUFFIXES and "segmentation" not in path.stem
            and "superpixels" not in path.stem and "_attribute_" not in path.stem
            and not path.name.startswith("."))
