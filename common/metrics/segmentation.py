"""Pixel confusion matrices and the ISIC segmentation scores (Task 1 per image, Task 2 pooled).

See :mod:`common.metrics` for the challenge's semantics these follow.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from common.data.names import ISIC2019_CLASSES  # noqa: F401 - re-exported by common.metrics

SEGMENTATION_KEYS = ("jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity", "specificity")
JACCARD_CUTOFF = 0.65  # ISIC 2018 Task 1: per-image Jaccard below this scores 0
MASK_THRESHOLD_8BIT = 128  # ISIC scoring: an 8-bit pixel is lesion when its value is > 128
PROBABILITY_THRESHOLD = 0.5
# ISIC 2018 Task 2 attributes, in the challenge's (alphabetical) order.
ATTRIBUTES = ("globules", "milia_like_cyst", "negative_network", "pigment_network", "streaks")
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
