"""Segmentation and classification metrics with the ISIC challenge's scoring semantics.

The numpy functions reproduce the official ISIC scoring (the `isic-challenge-scoring` package):

* 8-bit masks are binarised at ``> 128`` (:func:`binarize_8bit`); probability maps at ``>= 0.5``
  (:func:`binarize`). :func:`to_binary` picks one of the two from the array's dtype and values.
* One confusion matrix (TP, FP, FN, TN) per image; every score is computed per image and then
  averaged over the images (a macro average).
* Undefined ratios score 1.0, as in the challenge: Jaccard and Dice when TP + FP + FN = 0 (both masks
  empty), sensitivity when TP + FN = 0 (no lesion in the truth), specificity when TN + FP = 0
  (the truth is all lesion).
* Thresholded Jaccard (ISIC 2018 Task 1 ranking metric) = Jaccard if Jaccard >= 0.65 else 0.
* ISIC 2018 Task 2 (lesion attributes): per attribute one confusion matrix over all images (each
  image's matrix normalised by its pixel count, as the challenge does, so that large images do not
  dominate), Jaccard and Dice from it, then the mean over the attributes.
* ISIC 2019 classification: predicted class = argmax of the probability columns (a tie between the
  top columns counts as undecided, i.e. wrong, as in the challenge); balanced multi-class accuracy
  = mean over classes of recall, classes without true samples left out.

Keras metrics for training (:class:`JaccardIndex`, :class:`DiceCoefficient`) live at the end of this
file. Keras is imported only there, so that ``python -m common.metrics`` (the command-line scorer,
see :func:`main`) starts without loading a deep-learning backend.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path
from statistics import NormalDist
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

SEGMENTATION_KEYS = ("jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity", "specificity")
JACCARD_CUTOFF = 0.65  # ISIC 2018 Task 1: per-image Jaccard below this scores 0
MASK_THRESHOLD_8BIT = 128  # ISIC scoring: an 8-bit pixel is lesion when its value is > 128
PROBABILITY_THRESHOLD = 0.5
# ISIC 2018 Task 2 attributes, in the challenge's (alphabetical) order.
ATTRIBUTES = ("globules", "milia_like_cyst", "negative_network", "pigment_network", "streaks")
ISIC2019_CLASSES = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
UNDECIDED = -1  # predicted label of a row whose top probability is shared by several classes


class ScoringError(ValueError):
    """Inputs that cannot be scored; the message names the file(s) and what is wrong."""


# ----------------------------------------------------------------------------------------------
# Binarisation
# ----------------------------------------------------------------------------------------------
def binarize(pred, threshold: float = PROBABILITY_THRESHOLD) -> np.ndarray:
    """Probability map -> boolean mask, ``pred >= threshold`` (threshold taken in pred's dtype)."""
    pred = np.asarray(pred)
    dtype = pred.dtype if np.issubdtype(pred.dtype, np.floating) else np.float64
    return pred >= np.asarray(threshold, dtype=dtype)


def binarize_8bit(mask, threshold: int = MASK_THRESHOLD_8BIT) -> np.ndarray:
    """8-bit mask (0..255) -> boolean mask, ``mask > threshold`` (the ISIC scoring rule)."""
    return np.asarray(mask) > threshold


def to_binary(x) -> np.ndarray:
    """Boolean mask from a boolean, integer or probability array.

    * bool: returned as is.
    * integer: a {0, 1} array (e.g. masks from ``common.data.load_arrays``) is taken as it is;
      any other integer array is an 8-bit mask, binarised at ``> 128`` (challenge semantics).
    * floating: probabilities in [0, 1], binarised at ``>= 0.5``; values outside [0, 1] are an
      error (binarise such maps explicitly with :func:`binarize` or :func:`binarize_8bit`).
    """
    x = np.asarray(x)
    if x.dtype == bool:
        return x
    if np.issubdtype(x.dtype, np.integer):
        if x.size and x.min() >= 0 and x.max() <= 1:
            return x.astype(bool)
        return binarize_8bit(x)
    if np.issubdtype(x.dtype, np.floating):
        if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
            raise ValueError(
                f"a float map with values in [{np.nanmin(x):g}, {np.nanmax(x):g}] is not a probability "
                "map; binarise it with binarize(x, threshold) or binarize_8bit(x) first")
        return binarize(x)
    raise TypeError(f"cannot binarise an array of dtype {x.dtype}")


def _squeeze_channel(x: np.ndarray) -> np.ndarray:
    return x[..., 0] if x.ndim == 3 and x.shape[-1] == 1 else x


# ----------------------------------------------------------------------------------------------
# Confusion matrices and the per-image scores
# ----------------------------------------------------------------------------------------------
def confusion(truth, pred) -> tuple[int, int, int, int]:
    """Pixel confusion matrix of one image: ``(tp, fp, fn, tn)``.

    Args:
        truth, pred: masks of the same size, [H, W] or [H, W, 1]; binarised with :func:`to_binary`.
    """
    t = _squeeze_channel(to_binary(truth))
    p = _squeeze_channel(to_binary(pred))
    if t.shape != p.shape:
        raise ValueError(f"truth has shape {t.shape} but prediction has shape {p.shape}")
    tp = int(np.count_nonzero(t & p))
    fp = int(np.count_nonzero(~t & p))
    fn = int(np.count_nonzero(t & ~p))
    tn = int(t.size - tp - fp - fn)
    return tp, fp, fn, tn


def confusion_batch(truths, preds) -> np.ndarray:
    """Confusion matrices of a stack of same-size images: int64 array [N, 4] of (tp, fp, fn, tn)."""
    t = to_binary(truths).reshape(len(truths), -1)
    p = to_binary(preds).reshape(len(preds), -1)
    if t.shape != p.shape:
        raise ValueError(f"truths have shape {np.shape(truths)} but predictions {np.shape(preds)}")
    tp = np.count_nonzero(t & p, axis=1)
    fp = np.count_nonzero(~t & p, axis=1)
    fn = np.count_nonzero(t & ~p, axis=1)
    tn = t.shape[1] - tp - fp - fn
    return np.stack([tp, fp, fn, tn], axis=1).astype(np.int64)


def _ratio(num, den, undefined: float = 1.0):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.where(den > 0, num / np.where(den > 0, den, 1.0), undefined)
    return float(out) if out.ndim == 0 else out


def jaccard(tp, fp, fn):
    """TP / (TP + FP + FN); 1.0 when both masks are empty. Works on scalars or arrays."""
    return _ratio(tp, np.add(np.add(tp, fp), fn))


def dice(tp, fp, fn):
    """2TP / (2TP + FP + FN); 1.0 when both masks are empty."""
    return _ratio(np.multiply(2, tp), np.add(np.add(np.multiply(2, tp), fp), fn))


def accuracy(tp, fp, fn, tn):
    """(TP + TN) / all pixels."""
    return _ratio(np.add(tp, tn), np.add(np.add(tp, fp), np.add(fn, tn)), undefined=float("nan"))


def sensitivity(tp, fn):
    """TP / (TP + FN); 1.0 when the truth has no lesion pixel (the challenge's 'freebie')."""
    return _ratio(tp, np.add(tp, fn))


def specificity(tn, fp):
    """TN / (TN + FP); 1.0 when the truth has no background pixel."""
    return _ratio(tn, np.add(tn, fp))


def thresholded_jaccard(jaccard_value, cutoff: float = JACCARD_CUTOFF):
    """ISIC 2018 Task 1: the Jaccard when it is >= cutoff (0.65), else 0."""
    j = np.asarray(jaccard_value, dtype=np.float64)
    out = np.where(j >= cutoff, j, 0.0)
    return float(out) if out.ndim == 0 else out


def scores_from_confusion(tp, fp, fn, tn, cutoff: float = JACCARD_CUTOFF) -> dict:
    """All six Task 1 scores from one confusion matrix (or arrays of them)."""
    j = jaccard(tp, fp, fn)
    return {
        "jaccard": j,
        "thresholded_jaccard": thresholded_jaccard(j, cutoff),
        "dice": dice(tp, fp, fn),
        "accuracy": accuracy(tp, fp, fn, tn),
        "sensitivity": sensitivity(tp, fn),
        "specificity": specificity(tn, fp),
    }


def image_scores(truth, pred, cutoff: float = JACCARD_CUTOFF) -> dict:
    """The six Task 1 scores of one image (see :func:`confusion` for the inputs)."""
    return scores_from_confusion(*confusion(truth, pred), cutoff=cutoff)


def segmentation_scores(truths: Iterable, preds: Iterable, ids: Sequence[str] | None = None,
                        cutoff: float = JACCARD_CUTOFF) -> dict:
    """Score predicted masks against the truth as ISIC 2018 Task 1 does (per image, then the mean).

    Args:
        truths, preds: sequences (or stacked arrays [N, H, W(, 1)]) of masks; image sizes may differ
            between images but must agree within a pair. Binarised with :func:`to_binary`.
        ids: an id per image for the per-image rows (default: "0", "1", ...).
        cutoff: the thresholded-Jaccard cut (0.65).

    Returns:
        ``{"mean": {key: float}, "per_image": [{"id": str, key: float, ...}]}`` with the keys
        ``SEGMENTATION_KEYS``: jaccard, thresholded_jaccard, dice, accuracy, sensitivity, specificity.
    """
    truths, preds = list(truths), list(preds)
    if len(truths) != len(preds):
        raise ValueError(f"{len(truths)} truths but {len(preds)} predictions")
    if not truths:
        raise ValueError("no images to score")
    ids = [str(i) for i in range(len(truths))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(truths):
        raise ValueError(f"{len(ids)} ids for {len(truths)} images")
    per_image = []
    for image_id, t, p in zip(ids, truths, preds):
        try:
            row = image_scores(t, p, cutoff)
        except ValueError as err:
            raise ValueError(f"image {image_id}: {err}") from None
        per_image.append({"id": image_id, **row})
    mean = {k: float(np.mean([row[k] for row in per_image])) for k in SEGMENTATION_KEYS}
    return {"mean": mean, "per_image": per_image}


def attribute_scores(truths, preds, attributes: Sequence[str] | None = None, normalize: bool = True) -> dict:
    """ISIC 2018 Task 2: per attribute, Jaccard and Dice of one confusion matrix over all images.

    Each image's confusion matrix is divided by its pixel count before summing (``normalize=True``,
    as the challenge's scorer does; with equal image sizes this changes nothing). An attribute absent
    from both the truth and the prediction of every image (TP + FP + FN = 0) scores 1.0 (the
    challenge's both-empty rule); the mean is over all attributes given.

    Args:
        truths, preds: either mappings ``{attribute: sequence of masks}`` or stacked arrays
            [N, H, W, A] whose last axis follows ``attributes``.
        attributes: names of the attributes (default: the keys of the mapping, or ``ATTRIBUTES``).
        normalize: weight every image equally (challenge) instead of every pixel.

    Returns:
        ``{"per_attribute": {name: {"jaccard", "dice"}}, "mean": {"jaccard", "dice"}}``.
    """
    if isinstance(truths, Mapping):
        if not isinstance(preds, Mapping):
            raise TypeError("truths is a mapping, so preds must be one too")
        names = list(attributes) if attributes is not None else list(truths)
        missing = [a for a in names if a not in truths or a not in preds]
        if missing:
            raise ValueError(f"attributes missing from truths or predictions: {missing}")
        pairs = {a: (list(truths[a]), list(preds[a])) for a in names}
    else:
        truths, preds = np.asarray(truths), np.asarray(preds)
        names = list(attributes) if attributes is not None else list(ATTRIBUTES)
        if truths.shape != preds.shape or truths.ndim != 4 or truths.shape[-1] != len(names):
            raise ValueError(f"expected truths and predictions [N, H, W, {len(names)}], got "
                             f"{truths.shape} and {preds.shape}")
        pairs = {a: (list(truths[..., i]), list(preds[..., i])) for i, a in enumerate(names)}
    per_attribute = {}
    for name, (ts, ps) in pairs.items():
        if len(ts) != len(ps) or not ts:
            raise ValueError(f"attribute {name}: {len(ts)} truths and {len(ps)} predictions")
        total = np.zeros(4, dtype=np.float64)
        for t, p in zip(ts, ps):
            cm = np.asarray(confusion(t, p), dtype=np.float64)
            total += cm / cm.sum() if normalize else cm
        tp, fp, fn, _ = total
        per_attribute[name] = {"jaccard": jaccard(tp, fp, fn), "dice": dice(tp, fp, fn)}
    mean = {k: float(np.mean([v[k] for v in per_attribute.values()])) for k in ("jaccard", "dice")}
    return {"per_attribute": per_attribute, "mean": mean}


# ----------------------------------------------------------------------------------------------
# Classification
# ----------------------------------------------------------------------------------------------
def labels_from_probabilities(probabilities) -> np.ndarray:
    """Argmax of each row; a row whose maximum is shared by several columns -> ``UNDECIDED`` (-1)."""
    p = np.asarray(probabilities, dtype=np.float64)
    labels = p.argmax(axis=1)
    ties = (p == p.max(axis=1, keepdims=True)).sum(axis=1) > 1
    labels[ties] = UNDECIDED
    return labels


def per_class_recall(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Recall of every class (TP / true samples of the class); NaN for a class with no true sample."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.size} true labels but {y_pred.size} predicted labels")
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    recall = np.full(n_classes, np.nan)
    for c in range(n_classes):
        in_class = y_true == c
        if in_class.any():
            recall[c] = np.count_nonzero(y_pred[in_class] == c) / np.count_nonzero(in_class)
    return recall


def balanced_accuracy(y_true, y_pred, n_classes: int | None = None) -> float:
    """Balanced multi-class accuracy (ISIC 2018 Task 3 / ISIC 2019; thesis section 4.2.1).

    The mean over classes of recall = TP_c / (true samples of class c); a class with no true
    sample is left out of the mean (the challenge's convention). The thesis prints the formula as
    sum_c X_c / CorrectX_c, which is the inverse; the challenge's definition is used.

    Args:
        y_true, y_pred: integer class labels; ``UNDECIDED`` (-1) predictions count as wrong.
        n_classes: number of classes (default: inferred from the labels).
    """
    recall = per_class_recall(y_true, y_pred, n_classes)
    if np.all(np.isnan(recall)):
        raise ValueError("no true samples to score")
    return float(np.nanmean(recall))


class AccuracyCI(NamedTuple):
    accuracy: float
    low: float
    high: float
    n: int


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (successes out of n)."""
    if n <= 0:
        raise ValueError("the interval of a proportion needs n > 0")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_with_ci(y_true, y_pred, confidence: float = 0.95, method: str = "wilson") -> AccuracyCI:
    """Accuracy with a confidence interval (thesis Table 6.3 reports 95% intervals of accuracy).

    The default interval is the Wilson score interval, which stays inside [0, 1] and keeps its
    coverage for accuracies near 0 or 1. The thesis does not name its method; its symmetric
    intervals look like the normal (Wald) approximation p +- z sqrt(p(1-p)/n), available as
    ``method="normal"``.

    Args:
        y_true, y_pred: labels of the same length (any comparable values).
        confidence: the interval's coverage (0.95).
        method: "wilson" or "normal".

    Returns:
        ``AccuracyCI(accuracy, low, high, n)``.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.size} true labels but {y_pred.size} predicted labels")
    n = int(y_true.size)
    k = int(np.count_nonzero(y_true == y_pred))
    if method == "wilson":
        low, high = wilson_interval(k, n, confidence)
    elif method == "normal":
        if n <= 0:
            raise ValueError("the interval of a proportion needs n > 0")
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        p = k / n
        half = z * math.sqrt(p * (1 - p) / n)
        low, high = max(0.0, p - half), min(1.0, p + half)
    else:
        raise ValueError(f"unknown interval method {method!r}; use 'wilson' or 'normal'")
    return AccuracyCI(k / n, low, high, n)


# ----------------------------------------------------------------------------------------------
# Files: masks in folders, ISIC 2019 CSVs
# ----------------------------------------------------------------------------------------------
MASK_SUFFIXES = (".png", ".bmp", ".gif", ".tif", ".tiff", ".jpg", ".jpeg")
_ISIC_ID = re.compile(r"ISIC_(\d{7})")
_ATTRIBUTE = re.compile(r"attribute_([a-z_]+)")


def image_id(name: str) -> str:
    """Id of a mask file: ``ISIC_<7 digits>`` when present, else the stem before its first ``_``.

    ``ISIC_0024311_segmentation.png`` -> ``ISIC_0024311``; ``IMD010_lesion.bmp`` -> ``IMD010``.
    """
    match = _ISIC_ID.search(name)
    if match:
        return f"ISIC_{match.group(1)}"
    return Path(name).stem.split("_", 1)[0]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def read_mask(path) -> np.ndarray:
    """Read a mask file as a 2-D uint8 array (1-bit images become 0/255, colour images grey)."""
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("1", "L"):
                if image.mode in ("I", "I;16", "I;16B", "F"):
                    raise ScoringError(f"{path}: {image.mode} images are not 8-bit masks; save as 8-bit PNG")
                image = image.convert("L")
            elif image.mode == "1":
                image = image.convert("L")
            return np.asarray(image, dtype=np.uint8)
    except ScoringError:
        raise
    except Exception as err:  # PIL raises several types for unreadable files
        raise ScoringError(f"could not read mask {path}: {err}") from None


def _index_masks(folder: Path, role: str, with_attribute: bool = False) -> dict:
    if not folder.is_dir():
        raise ScoringError(f"{role} folder {folder} does not exist")
    index: dict = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in MASK_SUFFIXES:
            continue
        key = image_id(path.name)
        if with_attribute:
            match = _ATTRIBUTE.search(path.stem)
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
        truth, pred = read_mask(truth_path), read_mask(pred_path)
        if truth.shape != pred.shape:
            raise ScoringError(
                f"size mismatch for {key}: truth {truth_path.name} is {truth.shape[1]}x{truth.shape[0]} "
                f"(width x height) but prediction {pred_path.name} is {pred.shape[1]}x{pred.shape[0]}")
        if pred.max() == 1 and threshold >= 1:
            _warn(f"{pred_path.name} holds values 0/1; at > {threshold} it is empty (save masks as 0/255)")
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
    match = _ISIC_ID.search(name)
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
            values.append([float(cell) for cell in row[1:]])
        except ValueError:
            raise ScoringError(f"{path}, line {line}: a class value is not a number: {row[1:]}") from None
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


# ----------------------------------------------------------------------------------------------
# Command line: python -m common.metrics segmentation|attributes|classification ...
# ----------------------------------------------------------------------------------------------
def _format_table(rows: list[dict], columns: Sequence[str], first: str) -> str:
    widths = [max(len(first), *(len(str(r[first])) for r in rows))] + [max(len(c), 6) for c in columns]
    lines = ["  ".join([first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(columns, widths[1:])])]
    for r in rows:
        cells = [str(r[first]).ljust(widths[0])]
        cells += [("-" if r[c] is None else f"{r[c]:.4f}").rjust(w) for c, w in zip(columns, widths[1:])]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m common.metrics",
        description="Score predictions with the ISIC challenge's rules.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run '<command> --help' for the options of each command.")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser(
        "segmentation", help="score predicted lesion masks (ISIC 2018 Task 1)",
        description="Score a folder of predicted masks against ground-truth masks, as ISIC 2018 Task 1 "
                    "does: both binarised at > THRESHOLD, one confusion matrix per image, the scores "
                    "averaged over images; Jaccard/Dice 1.0 when both masks are empty; thresholded "
                    "Jaccard = Jaccard if >= 0.65 else 0. Files are matched by the 7-digit ISIC id "
                    "(ISIC_0024311_segmentation.png <-> ISIC_0024311.png); other names (PH2's "
                    "IMD010_lesion.bmp) by the part before the first '_'. Sizes must agree; every truth "
                    "mask needs a prediction; extra predictions are ignored.")
    seg.add_argument("--truth", required=True, type=Path, help="folder of ground-truth masks")
    seg.add_argument("--pred", required=True, type=Path, help="folder of predicted masks (8-bit, 0/255)")
    seg.add_argument("--threshold", type=int, default=MASK_THRESHOLD_8BIT,
                     help="a pixel is lesion when its value is > THRESHOLD (default 128, the challenge's)")
    seg.add_argument("--per-image", action="store_true", help="print a row per image before the means")
    seg.add_argument("--json", action="store_true",
                     help='print {"mean": {...}, "per_image": [{"id": ..., ...}]} as JSON')

    att = sub.add_parser(
        "attributes", help="score lesion-attribute masks (ISIC 2018 Task 2)",
        description="Score ISIC 2018 Task 2 attribute masks (<id>_attribute_<name>.png): per attribute "
                    "one confusion matrix over all images (each image's normalised by its pixel count), "
                    "Jaccard and Dice from it, then the mean over the attributes present in the truth.")
    att.add_argument("--truth", required=True, type=Path, help="folder of ground-truth attribute masks")
    att.add_argument("--pred", required=True, type=Path, help="folder of predicted attribute masks")
    att.add_argument("--threshold", type=int, default=MASK_THRESHOLD_8BIT, help="lesion when > THRESHOLD")
    att.add_argument("--json", action="store_true", help="print the scores as JSON")

    cls = sub.add_parser(
        "classification", help="score class probabilities (ISIC 2019 CSV)",
        description="Score a CSV of predicted class probabilities against an ISIC 2019 ground-truth CSV "
                    "(columns image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK). Predicted class = argmax of the "
                    "probability columns (a tie counts as wrong); rows matched by image id; prints the "
                    "balanced multi-class accuracy (mean per-class recall over classes with true "
                    "samples), the accuracy with its 95% Wilson score interval, and per-class recall.")
    cls.add_argument("--truth", required=True, type=Path, help="ground-truth CSV (one-hot rows)")
    cls.add_argument("--pred", required=True, type=Path, help="prediction CSV (probability rows)")
    cls.add_argument("--confidence", type=float, default=0.95, help="coverage of the accuracy interval")
    cls.add_argument("--json", action="store_true", help="print the scores as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m common.metrics``; returns the exit status (1 on a scoring error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "segmentation":
            result = score_mask_folders(args.truth, args.pred, threshold=args.threshold)
            if args.json:
                print(json.dumps(result, indent=2))
                return 0
            if args.per_image:
                print(_format_table(result["per_image"], SEGMENTATION_KEYS, "id"))
                print()
            print(f"{len(result['per_image'])} images, mean over images:")
            print(_format_table([{"metric": "mean", **result["mean"]}], SEGMENTATION_KEYS, "metric"))
        elif args.command == "attributes":
            result = score_attribute_folders(args.truth, args.pred, threshold=args.threshold)
            if args.json:
                print(json.dumps(result, indent=2))
                return 0
            rows = [{"attribute": a, **v} for a, v in result["per_attribute"].items()]
            rows.append({"attribute": "mean", **result["mean"]})
            print(_format_table(rows, ("jaccard", "dice"), "attribute"))
        else:
            result = score_class_csvs(args.truth, args.pred, confidence=args.confidence)
            if args.json:
                print(json.dumps(result, indent=2))
                return 0
            low, high = result["accuracy_ci"]
            print(f"images: {result['n']}")
            print(f"balanced multi-class accuracy: {result['balanced_accuracy']:.4f}")
            print(f"accuracy: {result['accuracy']:.4f}  "
                  f"({result['confidence']:.0%} Wilson interval [{low:.4f}, {high:.4f}])")
            rows = [{"class": c, "n": result["per_class_count"][c], "recall": r}
                    for c, r in result["per_class_recall"].items()]
            width = max(len("class"), *(len(r["class"]) for r in rows))
            print(f"{'class'.ljust(width)}  {'n':>6}  {'recall':>6}")
            for r in rows:
                recall = "-" if r["recall"] is None else f"{r['recall']:.4f}"
                print(f"{r['class'].ljust(width)}  {r['n']:>6}  {recall:>6}")
    except ScoringError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Exit before the Keras section below: scoring files needs numpy and Pillow only.
    sys.exit(main())


# ----------------------------------------------------------------------------------------------
# Keras metrics for training (TensorFlow and JAX backends)
# ----------------------------------------------------------------------------------------------
import keras  # noqa: E402  (kept below the command-line entry point, see the module docstring)
from keras import ops  # noqa: E402


class _OverlapMetric(keras.metrics.Metric):
    """Per-image overlap score of thresholded predictions, averaged over all images seen."""

    def __init__(self, threshold: float = PROBABILITY_THRESHOLD, name: str | None = None, dtype=None,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.threshold = float(threshold)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def _score(self, tp, fp, fn):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
        y_true = ops.reshape(ops.cast(ops.convert_to_tensor(y_true), "float32"), ops.shape(y_pred))
        axes = tuple(range(1, len(y_pred.shape)))
        t = ops.cast(ops.greater_equal(y_true, 0.5), "float32")
        p = ops.cast(ops.greater_equal(y_pred, self.threshold), "float32")
        tp = ops.sum(t * p, axis=axes)
        fp = ops.sum((1.0 - t) * p, axis=axes)
        fn = ops.sum(t * (1.0 - p), axis=axes)
        scores = self._score(tp, fp, fn)
        if sample_weight is None:
            weights = ops.ones_like(scores)
        else:  # one weight per image; per-pixel weights are averaged per image
            weights = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
            if len(weights.shape) > 1:
                weights = ops.mean(weights, axis=tuple(range(1, len(weights.shape))))
            weights = ops.broadcast_to(weights, ops.shape(scores))
        self.total.assign_add(ops.sum(scores * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="common")
class JaccardIndex(_OverlapMetric):
    """Jaccard index of ``y_pred >= threshold`` vs ``y_true >= 0.5``, per image, mean over images.

    An image whose truth and prediction are both empty scores 1.0 (the ISIC convention), so this
    follows :func:`segmentation_scores`'s "jaccard" on the same binarised masks.

    Args:
        threshold: probability threshold of the prediction (0.5).
        cutoff: if set (0.65 for ISIC 2018), per-image scores below it count as 0 (thresholded Jaccard).
        name: metric name in logs ("jaccard").
    """

    def __init__(self, threshold: float = PROBABILITY_THRESHOLD, cutoff: float | None = None,
                 name: str = "jaccard", dtype=None, **kwargs):
        super().__init__(threshold=threshold, name=name, dtype=dtype, **kwargs)
        self.cutoff = None if cutoff is None else float(cutoff)

    def _score(self, tp, fp, fn):
        union = tp + fp + fn
        score = ops.where(union > 0, tp / ops.maximum(union, 1.0), 1.0)
        if self.cutoff is not None:
            score = ops.where(score >= self.cutoff, score, 0.0)
        return score

    def get_config(self):
        return {**super().get_config(), "cutoff": self.cutoff}


@keras.saving.register_keras_serializable(package="common")
class DiceCoefficient(_OverlapMetric):
    """Dice coefficient of ``y_pred >= threshold`` vs ``y_true >= 0.5``, per image, mean over images.

    Both-empty images score 1.0 (the ISIC convention).

    Args:
        threshold: probability threshold of the prediction (0.5).
        name: metric name in logs ("dice").
    """

    def __init__(self, threshold: float = PROBABILITY_THRESHOLD, name: str = "dice", dtype=None, **kwargs):
        super().__init__(threshold=threshold, name=name, dtype=dtype, **kwargs)

    def _score(self, tp, fp, fn):
        denom = 2.0 * tp + fp + fn
        return ops.where(denom > 0, 2.0 * tp / ops.maximum(denom, 1.0), 1.0)
