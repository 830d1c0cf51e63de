"""Scoring submissions on disk: mask folders (Task 1, Task 2) and ISIC 2019 class CSVs."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from common.data.names import MASK_SUFFIXES, ATTRIBUTE_NAME, ISIC_ID, image_id  # noqa: F401 - re-exported
from common.metrics.classification import accuracy_with_ci, labels_from_probabilities, per_class_recall
from common.metrics.segmentation import (JACCARD_CUTOFF, MASK_THRESHOLD_8BIT, UNDECIDED, ScoringError, attribute_scores,
                                         binarize_8bit, segmentation_scores)

def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def read_mask(path, threshold: int = MASK_THRESHOLD_8BIT) -> np.ndarray:
    """Read a mask file as a 2-D uint8 array of 0/255, with the reader training uses
    (:func:`common.data.decode.read_mask`): 1-bit, grey, palette, RGB (the lesion in any channel)
    and RGBA (the lesion in the colour channels or in the alpha channel alone) masks, 8- or 16-bit.
    A grey mask is foreground above 128, as the challenge binarises; a mask of only 0 and 1 is read
    as 0/255 with a warning (the challenge's scorer would read it as empty). What is not a binary
    mask (a soft map, a label map, colour and alpha that disagree) is refused, naming the file."""
    from PIL import Image

    from common.data.decode import read_mask as decode_mask
    from common.data.errors import DataError

    path = Path(path)
    try:
        mask, _ = decode_mask(str(path), threshold)
    except DataError as err:
        raise ScoringError(str(err)) from None
    except Exception as err:  # noqa: BLE001 - PIL raises several types for unreadable files
        raise ScoringError(f"could not read mask {path}: {err}") from None
    try:
        with Image.open(path) as image:           # a grey mask of 0 and 1 only
            low_values = image.mode in ("L", "I", "I;16") and image.getextrema()[1] == 1
    except Exception:  # noqa: BLE001 - it was decoded above; the warning is a courtesy
        low_values = False
    if low_values:
        _warn(f"{path.name} holds values 0/1: read as 0/255, as training reads it (the challenge's scorer, "
              "binarising at > 128, would read it as empty; save masks as 0/255)")
    return mask * np.uint8(255)


def _index_masks(folder: Path, role: str, with_attribute: bool = False) -> dict:
    if not folder.is_dir():
        raise ScoringError(f"{role} folder {folder} does not exist")
    index: dict = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in MASK_SUFFIXES:
            continue
        key = image_id(path.name)
        if with_attribute:
            match = ATTRIBUTE_NAME.search(path.stem)
            if not match:
                continue
            key = (key, match.group(1))
        if key in index:
            raise ScoringError(f"{role} folder {folder} has two files for {key}: "
                               f"{index[key].name} and {path.name}")
        index[key] = path
    if not index:
        kind = "attribute masks (*_attribute_<name>.png)" if with_attribute else "mask images"
        raise ScoringError(f"{role} folder {folder} holds no {kind}")
    return index


def _pair_masks(truth_dir, pred_dir, threshold: int, with_attribute: bool = False):
    truth_index = _index_masks(Path(truth_dir), "truth", with_attribute)
    pred_index = _index_masks(Path(pred_dir), "prediction", with_attribute)
    missing = [k for k in truth_index if k not in pred_index]
    if missing:
        shown = ", ".join(str(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ScoringError(f"{len(missing)} of {len(truth_index)} truth masks have no prediction in "
                           f"{pred_dir}: {shown}")
    for key, truth_path in truth_index.items():
        pred_path = pred_index[key]
        truth, pred = read_mask(truth_path, threshold), read_mask(pred_path, threshold)
        if truth.shape != pred.shape:
            raise ScoringError(
                f"size mismatch for {key}: truth {truth_path.name} is {truth.shape[1]}x{truth.shape[0]} "
                f"(width x height) but prediction {pred_path.name} is {pred.shape[1]}x{pred.shape[0]}")
        yield key, binarize_8bit(truth, threshold), binarize_8bit(pred, threshold)


def score_mask_folders(truth_dir, pred_dir, threshold: int = MASK_THRESHOLD_8BIT,
                       cutoff: float = JACCARD_CUTOFF) -> dict:
    """Score a folder of predicted masks against a folder of truth masks (ISIC 2018 Task 1).

    Files are matched by their ISIC id (``ISIC_(\\d{7})``; other names by the stem before the first
    ``_``); predictions without a truth are ignored; both masks are binarised at ``> threshold``.
    Returns the dict of :func:`segmentation_scores`.
    """
    ids, truths, preds = [], [], []
    for key, truth, pred in _pair_masks(truth_dir, pred_dir, threshold):
        ids.append(key)
        truths.append(truth)
        preds.append(pred)
    return segmentation_scores(truths, preds, ids=ids, cutoff=cutoff)


def score_attribute_folders(truth_dir, pred_dir, threshold: int = MASK_THRESHOLD_8BIT) -> dict:
    """Score ISIC 2018 Task 2 attribute masks (``*_attribute_<name>.png``) as the challenge does."""
    truths: dict = {}
    preds: dict = {}
    for (_, attribute), truth, pred in _pair_masks(truth_dir, pred_dir, threshold, with_attribute=True):
        truths.setdefault(attribute, []).append(truth)
        preds.setdefault(attribute, []).append(pred)
    return attribute_scores(truths, preds, attributes=sorted(truths))


def _csv_key(name: str) -> str:
    match = ISIC_ID.search(name)
    return f"ISIC_{match.group(1)}" if match else name.strip()


def read_class_csv(path) -> tuple[list[str], list[str], np.ndarray]:
    """Read an ISIC-style CSV (``image,<class columns>``) -> (ids, class names, values [N, C])."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"CSV file {path} does not exist")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0]:
        raise ScoringError(f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    if header[0] != "image":
        raise ScoringError(f"{path}: the first column must be 'image', found {header[0]!r}")
    classes = header[1:]
    if not classes:
        raise ScoringError(f"{path}: no class columns after 'image'")
    ids, values, seen = [], [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ScoringError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        key = _csv_key(row[0])
        if key in seen:
            raise ScoringError(f"{path}: image {key} appears on lines {seen[key]} and {line}")
        seen[key] = line
        try:
            numbers = [float(cell) for cell in row[1:]]
        except ValueError:
            raise ScoringError(f"{path}, line {line}: a class value is not a number: {row[1:]}") from None
        if not all(np.isfinite(numbers)):
            raise ScoringError(f"{path}, line {line} ({key}): a class value is NaN or infinite ({row[1:]}); "
                               "a prediction needs a finite probability for every class")
        values.append(numbers)
        ids.append(key)
    if not ids:
        raise ScoringError(f"{path} has a header but no rows")
    return ids, classes, np.asarray(values, dtype=np.float64)


def score_class_csvs(truth_csv, pred_csv, confidence: float = 0.95) -> dict:
    """Score predicted class probabilities against ISIC 2019 ground truth (balanced accuracy).

    Rows are matched by image id (``ISIC_<7 digits>`` when present); class columns by name, so their
    order may differ. A prediction column absent from the truth is an error; a truth column absent
    from the prediction is an error unless no image belongs to it (e.g. ISIC 2019's all-zero UNK),
    when it counts as probability 0. Extra prediction rows are ignored.

    Returns:
        ``{"balanced_accuracy", "accuracy", "accuracy_ci": [low, high], "confidence", "n",
        "classes", "per_class_recall": {class: recall or None}, "per_class_count": {class: n}}``.
    """
    t_ids, t_classes, t_values = read_class_csv(truth_csv)
    p_ids, p_classes, p_values = read_class_csv(pred_csv)
    unknown = [c for c in p_classes if c not in t_classes]
    if unknown:
        raise ScoringError(f"{pred_csv}: unknown class column(s) {unknown}; the truth {truth_csv} has "
                           f"{t_classes}")
    t_labels = labels_from_probabilities(t_values)
    if np.any(t_labels == UNDECIDED) or np.any(t_values.max(axis=1) <= 0):
        bad = [t_ids[i] for i in np.flatnonzero((t_labels == UNDECIDED) | (t_values.max(axis=1) <= 0))]
        raise ScoringError(f"{truth_csv}: {len(bad)} rows are not one-hot, e.g. {bad[:3]}")
    absent = [c for c in t_classes if c not in p_classes]
    needed = [c for c in absent if np.any(t_labels == t_classes.index(c))]
    if needed:
        raise ScoringError(f"{pred_csv}: class column(s) {needed} missing (the truth has images of them)")
    row_of = {k: i for i, k in enumerate(p_ids)}
    missing = [k for k in t_ids if k not in row_of]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ScoringError(f"{pred_csv}: {len(missing)} of {len(t_ids)} truth images have no prediction: {shown}")
    probs = np.zeros((len(t_ids), len(t_classes)))
    order = [row_of[k] for k in t_ids]
    for j, c in enumerate(p_classes):
        probs[:, t_classes.index(c)] = p_values[order, j]
    p_labels = labels_from_probabilities(probs)
    recall = per_class_recall(t_labels, p_labels, len(t_classes))
    acc = accuracy_with_ci(t_labels, p_labels, confidence)
    return {
        "balanced_accuracy": float(np.nanmean(recall)),
        "accuracy": acc.accuracy,
        "accuracy_ci": [acc.low, acc.high],
        "confidence": confidence,
        "n": acc.n,
        "classes": list(t_classes),
        "per_class_recall": {c: (None if np.isnan(r) else float(r)) for c, r in zip(t_classes, recall)},
        "per_class_count": {c: int(np.count_nonzero(t_labels == i)) for i, c in enumerate(t_classes)},
    }


