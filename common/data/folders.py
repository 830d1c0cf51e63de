"""Folder helpers and problem bookkeeping shared by the dataset readers.

Problems found while indexing go into ``DatasetIndex.problems``. A record that cannot be used (a
label row that is not one-hot, an unknown diagnosis) is handled by ``errors``: ``"raise"`` raises a
`DataError`, ``"skip"`` warns and drops the sample, ``"collect"`` only records it and drops the sample.
"""
from __future__ import annotations

import csv
import os
import re
import warnings
from pathlib import Path

from .errors import DataError
from .samples import DatasetIndex, Sample

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
_IGNORED_SUFFIXES = {".csv", ".txt", ".md", ".xlsx", ".xls", ".pdf", ".db", ".json"}
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, None: 3}


class Problems:
    """Collects indexing problems; ``bad`` records an unusable record according to ``errors``."""

    def __init__(self, errors: str = "collect"):
        if errors not in ("raise", "skip", "collect"):
            raise ValueError(f"errors must be 'raise', 'skip' or 'collect', not {errors!r}")
        self.errors, self.items, self.skipped = errors, [], 0

    def note(self, message: str) -> None:
        """Record a problem that does not make a record unusable here."""
        self.items.append(message)

    def bad(self, message: str) -> None:
        """A record that cannot be used: raise, or warn and count it, or record it."""
        if self.errors == "raise":
            raise DataError(message)
        if self.errors == "skip":
            warnings.warn(message, stacklevel=3)
        self.skipped += 1
        self.items.append(message)

    def fatal(self, message: str) -> None:
        """A whole file that cannot be used: raises unless only collecting."""
        if self.errors != "collect":
            raise DataError(message)
        self.items.append(message)


# ---------------------------------------------------------------------------------------------
# folder helpers


def dirs(d: Path) -> list[Path]:
    """Sub-folders of ``d`` (not hidden), sorted."""
    try:
        with os.scandir(d) as it:          # scandir knows entry types without a stat per file
            return sorted(Path(e.path) for e in it if not e.name.startswith(".") and e.is_dir())
    except OSError:
        return []


def find_dir(base: Path, pattern: str) -> Path | None:
    """The folder under ``base`` whose name fully matches ``pattern`` (regex, case-insensitive),
    or the same-named folder inside it (a zip unpacked into a folder of its own name)."""
    rx = re.compile(pattern, re.IGNORECASE)
    for cand in dirs(base):
        if rx.fullmatch(cand.name):
            inner = [c for c in dirs(cand) if c.name.lower() == cand.name.lower()]
            return inner[0] if inner else cand
    return None


def find_file(base: Path, name: str) -> Path | None:
    """``base/name`` or ``base/<folder>/name`` (case-insensitive), else ``None``."""
    for folder in [base, *dirs(base)]:
        try:
            for p in folder.iterdir():
                if p.name.lower() == name.lower() and p.is_file():
                    return p
        except OSError:
            continue
    return None


def files(d: Path) -> list[Path]:
    """Files of ``d`` (not hidden), sorted."""
    with os.scandir(d) as it:
        return sorted(Path(e.path) for e in it if not e.name.startswith(".") and e.is_file())


def is_image(p: Path) -> bool:
    """An image file of a dataset (ISIC 2017 ``*_superpixels.png`` are not)."""
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.stem.lower().endswith("_superpixels")


def list_images(d: Path, problems: Problems) -> list[Path]:
    """Images in ``d``; other files that are not known companions are reported as stray."""
    images = []
    for p in files(d):
        if is_image(p):
            images.append(p)
        elif p.suffix.lower() not in _IGNORED_SUFFIXES and not p.stem.lower().endswith("_superpixels"):
            problems.note(f"{p}: stray file in image folder (not an image); move it elsewhere")
    if not images:
        problems.note(f"{d}: folder holds no images")
    return images


def pairs(img_dir: Path, gt_dir: Path | None, split: str, suffix: str,
           problems: Problems) -> list[Sample]:
    """Samples of an image folder and its mask folder (``<id><suffix>``, case-insensitive)."""
    masks = {}
    if gt_dir is not None:
        masks = {p.name.lower(): p for p in files(gt_dir) if p.suffix.lower() in IMAGE_EXTENSIONS}
    out = []
    for img in list_images(img_dir, problems):
        mask = None
        if gt_dir is not None:
            mask = masks.pop(f"{img.stem}{suffix}".lower(), None)
            if mask is None:
                mask = gt_dir / f"{img.stem}{suffix}"
                problems.note(f"{mask}: missing mask for image {img}")
        out.append(Sample(img.stem, str(img), None if mask is None else str(mask), split=split))
    for name, p in sorted(masks.items()):
        problems.note(f"{p}: stray file in mask folder (no image {name[:-len(suffix)]} in {img_dir})")
    return out


def finish(name, root, samples, problems, classes=None, meta=None) -> DatasetIndex:
    """A `DatasetIndex` with samples sorted by split (train, val, test, none) then id."""
    samples = sorted(samples, key=lambda s: (_SPLIT_ORDER.get(s.split, 4), s.id))
    return DatasetIndex(name, str(root), samples, classes, problems.items, meta or {})


def with_labels(samples, labels: dict, problems: Problems, source: str) -> list[Sample]:
    """Attach labels; a sample whose row was bad (label ``None``) is dropped (already reported)."""
    out = []
    for s in samples:
        if s.id in labels and labels[s.id] is None:
            continue
        if s.id in labels:
            out.append(Sample(s.id, s.image, s.mask, s.attributes, labels[s.id], s.split))
        else:
            problems.note(f"{s.image}: image has no row in {source}; its label is unknown")
            out.append(s)
    return out


def read_csv(path: Path, problems: Problems) -> list[list[str]]:
    """Non-empty rows of a CSV file (a file that cannot be read is fatal)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.fatal(f"{path}: cannot be read as CSV ({exc}); re-download it")
        return []


def to_float(v: str) -> float | None:
    """``float(v)``, or ``None`` when ``v`` is not a number."""
    try:
        return float(v)
    except ValueError:
        return None


