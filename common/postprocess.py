"""Post-processing of predicted probability maps (numpy / scipy).

* :func:`threshold`, :func:`largest_component`, :func:`fill_holes`, :func:`clean_mask`: the usual
  clean-up of a lesion mask.
* :func:`double_threshold` (transfer ensemble, Koohbanani et al. 2018, Sec. II-A-3 and eq. 2):
  marker = p > T_H (for the lesion, reduced to its largest object), mask = p > T_L,
  output = imreconstruct(marker, mask), a binary morphological reconstruction by dilation.
* :func:`restrict_to_lesion`: attribute maps multiplied by the lesion map (Sec. II-B-4).
* :func:`grid_search_thresholds`: the (T_H, T_L) grid search of Sec. II-A-3 over ``TH_RANGE`` x
  ``TL_RANGE`` on validation predictions.

Connectivity is 8-neighbour (``connectivity=2``), the 2-D default of MATLAB's ``imreconstruct`` and
``bwconncomp`` that the paper used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import ndimage

from common.metrics import confusion_batch, dice, jaccard, thresholded_jaccard, to_binary

# Transfer ensemble, Sec. II-A-3: T_H in [0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.996], T_L in [0.3:0.05:0.85].
TH_RANGE = (0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.996)
TL_RANGE = tuple(round(0.3 + 0.05 * i, 2) for i in range(12))  # 0.3, 0.35, ..., 0.85


def _structure(connectivity: int) -> np.ndarray:
    if connectivity not in (1, 2):
        raise ValueError("connectivity must be 1 (4-neighbour) or 2 (8-neighbour)")
    return ndimage.generate_binary_structure(2, connectivity)


def _as_2d(x) -> tuple[np.ndarray, bool]:
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        return x[..., 0], True
    if x.ndim != 2:
        raise ValueError(f"expected a map [H, W] or [H, W, 1], got shape {x.shape}")
    return x, False


def _restore(mask: np.ndarray, had_channel: bool) -> np.ndarray:
    return mask[..., None] if had_channel else mask


def _greater(prob: np.ndarray, t: float) -> np.ndarray:
    """prob > t with t in prob's float dtype (so 0.4 in a float32 map is not > 0.4)."""
    dtype = prob.dtype if np.issubdtype(prob.dtype, np.floating) else np.float64
    return prob > np.asarray(t, dtype=dtype)


def threshold(prob, t: float = 0.5) -> np.ndarray:
    """Boolean mask ``prob >= t`` (the same rule as ``common.metrics.binarize``)."""
    prob = np.asarray(prob)
    dtype = prob.dtype if np.issubdtype(prob.dtype, np.floating) else np.float64
    return prob >= np.asarray(t, dtype=dtype)


def largest_component(mask, connectivity: int = 2) -> np.ndarray:
    """Keep the largest connected object of a binary mask [H, W] or [H, W, 1] (empty stays empty)."""
    m, ch = _as_2d(np.asarray(mask).astype(bool))
    labels, n = ndimage.label(m, structure=_structure(connectivity))
    if n <= 1:
        return _restore(m.copy(), ch)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return _restore(labels == int(sizes.argmax()), ch)


def fill_holes(mask) -> np.ndarray:
    """Fill the holes (background regions not connected to the border) of a binary mask."""
    m, ch = _as_2d(np.asarray(mask).astype(bool))
    return _restore(ndimage.binary_fill_holes(m), ch)


def clean_mask(prob, t: float = 0.5, largest: bool = True, fill: bool = True) -> np.ndarray:
    """Threshold a probability map, keep the largest object, fill its holes."""
    m = threshold(prob, t)
    if largest:
        m = largest_component(m)
    if fill:
        m = fill_holes(m)
    return m


def reconstruct(marker, mask, connectivity: int = 2) -> np.ndarray:
    """Binary morphological reconstruction by dilation (MATLAB ``imreconstruct(marker, mask)``).

    The result is every connected object of ``mask`` that touches ``marker``: the marker dilated
    repeatedly inside the mask until stable. A marker outside the mask is first clipped to it.

    Args:
        marker, mask: boolean maps [H, W] or [H, W, 1] of the same shape.
        connectivity: 2 = 8-neighbour (MATLAB's 2-D default), 1 = 4-neighbour.
    """
    mk, ch = _as_2d(np.asarray(marker).astype(bool))
    ms, _ = _as_2d(np.asarray(mask).astype(bool))
    if mk.shape != ms.shape:
        raise ValueError(f"marker shape {mk.shape} differs from mask shape {ms.shape}")
    labels, _ = ndimage.label(ms, structure=_structure(connectivity))
    return _restore(_objects_touching(labels, mk & ms), ch)


def _objects_touching(labels: np.ndarray, marker: np.ndarray) -> np.ndarray:
    keep = np.unique(labels[marker])
    keep = keep[keep > 0]
    return np.isin(labels, keep)


def double_threshold(prob, t_high: float, t_low: float, largest: bool = True,
                     connectivity: int = 2) -> np.ndarray:
    """Double-threshold segmentation of the transfer ensemble (eq. 2).

    marker = prob > t_high, reduced to its largest object when ``largest`` (lesions; attributes use
    ``largest=False``: "we do not remove any objects from constructed marker"); mask = prob > t_low;
    output = imreconstruct(marker, mask). An empty marker gives an empty output.

    Args:
        prob: probability map [H, W] or [H, W, 1] (the output keeps its shape).
        t_high, t_low: T_H and T_L.
        largest: keep only the largest marker object (lesion segmentation).
        connectivity: 2 = 8-neighbour (MATLAB default), 1 = 4-neighbour.
    """
    p, ch = _as_2d(prob)
    marker = _greater(p, t_high)
    if largest:
        marker = largest_component(marker, connectivity)
    return _restore(reconstruct(marker, _greater(p, t_low), connectivity), ch)


def restrict_to_lesion(attribute_probs, lesion) -> np.ndarray:
    """Multiply attribute probability maps by the lesion map (transfer ensemble Sec. II-B-4).

    Args:
        attribute_probs: [..., H, W, A] attribute maps (A attributes on the last axis).
        lesion: lesion mask or probability map [..., H, W] or [..., H, W, 1].
    """
    a = np.asarray(attribute_probs)
    m = np.asarray(lesion)
    if m.ndim == a.ndim - 1:
        m = m[..., None]
    if m.shape[:-1] != a.shape[:-1] or m.shape[-1] != 1:
        raise ValueError(f"lesion map {np.shape(lesion)} does not match attribute maps {a.shape}")
    dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float32
    return a.astype(dtype, copy=False) * m.astype(dtype)


@dataclass
class ThresholdSearch:
    """Result of :func:`grid_search_thresholds`: the best pair and every pair's score."""

    t_high: float
    t_low: float
    score: float
    grid: np.ndarray  # [len(th_range), len(tl_range)] scores
    th_range: tuple = field(default=TH_RANGE)
    tl_range: tuple = field(default=TL_RANGE)
    metric: str = "jaccard"


SEARCH_METRICS = ("jaccard", "thresholded_jaccard", "dataset_jaccard", "dataset_dice")


def grid_search_thresholds(probs, truths, th_range: Sequence[float] = TH_RANGE,
                           tl_range: Sequence[float] = TL_RANGE, largest: bool = True,
                           metric: str = "jaccard", connectivity: int = 2) -> ThresholdSearch:
    """Grid search of (T_H, T_L) for :func:`double_threshold` (transfer ensemble Sec. II-A-3).

    Every pair is scored on the given (validation) predictions; the best is returned, ties going to
    the first pair in (th_range, tl_range) order.

    Args:
        probs: probability maps, a sequence of [H, W(, 1)] or an array [N, H, W(, 1)].
        truths: the matching binary truth masks (see ``common.metrics.to_binary``).
        th_range, tl_range: candidate T_H and T_L (default: the paper's ranges).
        largest: keep only the largest marker object (lesions); False for attributes.
        metric: "jaccard" (mean per-image Jaccard, default), "thresholded_jaccard" (ISIC 2018 Task 1),
            or "dataset_jaccard" / "dataset_dice" (one confusion matrix over all images, Task 2).
        connectivity: 2 = 8-neighbour (MATLAB default).

    Returns:
        ``ThresholdSearch(t_high, t_low, score, grid, th_range, tl_range, metric)``.
    """
    if metric not in SEARCH_METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {SEARCH_METRICS}")
    probs = [_as_2d(p)[0] for p in probs]
    truths = [_as_2d(to_binary(t))[0] for t in truths]
    if len(probs) != len(truths) or not probs:
        raise ValueError(f"{len(probs)} probability maps and {len(truths)} truths")
    th_range, tl_range = tuple(th_range), tuple(tl_range)
    structure = _structure(connectivity)
    # cms[i, j, n] = confusion matrix of image n under (th_range[i], tl_range[j])
    cms = np.zeros((len(th_range), len(tl_range), len(probs), 4), dtype=np.int64)
    for n, (p, t) in enumerate(zip(probs, truths)):
        if p.shape != t.shape:
            raise ValueError(f"image {n}: probability map {p.shape} but truth {t.shape}")
        markers = []
        for th in th_range:
            marker = _greater(p, th)
            markers.append(largest_component(marker, connectivity) if largest else marker)
        for j, tl in enumerate(tl_range):
            low = _greater(p, tl)
            labels, _ = ndimage.label(low, structure=structure)
            outputs = np.stack([_objects_touching(labels, m & low) for m in markers])
            cms[:, j, n] = confusion_batch(np.broadcast_to(t, outputs.shape), outputs)
    tp, fp, fn, _ = np.moveaxis(cms, -1, 0)
    if metric == "jaccard":
        grid = jaccard(tp, fp, fn).mean(axis=-1)
    elif metric == "thresholded_jaccard":
        grid = thresholded_jaccard(jaccard(tp, fp, fn)).mean(axis=-1)
    else:
        norm = cms / np.maximum(cms.sum(axis=-1, keepdims=True), 1)
        stp, sfp, sfn, _ = np.moveaxis(norm.sum(axis=2), -1, 0)
        grid = jaccard(stp, sfp, sfn) if metric == "dataset_jaccard" else dice(stp, sfp, sfn)
    grid = np.asarray(grid, dtype=np.float64).reshape(len(th_range), len(tl_range))
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return ThresholdSearch(float(th_range[i]), float(tl_range[j]), float(grid[i, j]), grid,
                           th_range, tl_range, metric)
