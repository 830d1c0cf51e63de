"""Keras metrics for training (TensorFlow and JAX backends): Jaccard and Dice of thresholded maps."""
from __future__ import annotations

import keras
from keras import ops

from common.metrics.segmentation import PROBABILITY_THRESHOLD

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
