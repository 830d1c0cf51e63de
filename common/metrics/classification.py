"""ISIC 2019 classification scores: argmax labels, per-class recall, balanced accuracy, accuracy CI."""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from common.metrics.segmentation import UNDECIDED

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

