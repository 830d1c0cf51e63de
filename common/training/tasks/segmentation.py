"""Lesion segmentation (ISIC Task 1) and lesion attributes (ISIC 2018 Task 2).

:class:`SegmentationTask` scores each image's binary mask at its own size and averages over images
(ISIC 2017/2018 Task 1: Jaccard, thresholded Jaccard, Dice, accuracy, sensitivity, specificity) and
writes ``ISIC_xxxxxxx_segmentation.png`` masks. :class:`AttributeTask` trains one binary model per
attribute (one run per attribute) and scores as the Task 2 challenge does: per attribute one
confusion matrix over all images, Jaccard and Dice from it; the mean over the five attributes comes
from combining the five runs (``evaluate --run-dir A --run-dir B ...``).
"""
from __future__ import annotations

import copy

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from common.training.tasks.base import Monitor, PostProcess, Scored, Task, loss_in_batches

from common.metrics.segmentation import SEGMENTATION_KEYS as SEGMENTATION_METRICS  # noqa: E402 - the one list


def resize_probability(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of one probability map to ``shape`` (the image's own size)."""
    if prob.shape == tuple(shape):
        return prob
    from skimage.transform import resize

    return resize(prob, shape, order=1, mode="edge", anti_aliasing=False, preserve_range=True)


def write_png_mask(path: Path, mask: np.ndarray) -> Path:
    """A binary mask as an 8-bit 0/255 PNG, written atomically."""
    from PIL import Image

    from common.training.records import atomic_write_bytes

    buf = io.BytesIO()
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


class SegmentationTask(Task):
    """Binary lesion masks: sigmoid maps, Task 1 scores per image, PNG masks.

    Args:
        monitors: the checkpoints to keep (default: the highest validation Jaccard).
    """

    kind = "segmentation"
    metrics = SEGMENTATION_METRICS
    spatial = True
    largest = True              # double threshold: keep the largest marker object (one lesion)

    #: the row's probability threshold (``cfg.threshold``), used by validation as by scoring
    threshold: float = 0.5

    def __init__(self, monitors: Sequence[Monitor] = (Monitor("jaccard", "val_jaccard", "max"),)):
        self.monitors = tuple(monitors)

    def bind(self, cfg) -> "SegmentationTask":
        """This task for one row: validation binarises at the row's threshold, as scoring does."""
        bound = copy.copy(self)
        bound.threshold = float(getattr(cfg, "threshold", 0.5))
        return bound

    def targets(self, masks, samples):
        return masks                                     # uint8 {0,1} [N, H, W, 1]

    def batches(self, images, targets, cfg, *, seed, augment, shuffle, drop_remainder):
        from common.data import SegmentationBatches

        return SegmentationBatches(images, targets, cfg.batch_size, shuffle=shuffle, seed=seed, augment=augment,
                                   colour_space=getattr(cfg, "colour_space", "rgb"),
                                   drop_remainder=drop_remainder)

    def _truth(self, targets, i):
        return targets[i, ..., 0]

    def validation(self, outputs, targets, samples, loss_fn=None, wanted=()):
        truths = [self._truth(targets, i).astype(bool) for i in range(len(outputs))]
        preds = [outputs[i] >= self.threshold for i in range(len(outputs))]
        result = {f"val_{k}": float(v) for k, v in
                  self._scores(truths, preds, [s.id for s in samples])[0].items()}
        if "val_loss" in wanted and loss_fn is not None:
            result["val_loss"] = loss_in_batches(loss_fn, np.asarray(targets, np.float32), outputs[..., None])
        return result

    def _scores(self, truths, preds, ids):
        from common import metrics

        result = metrics.segmentation_scores(truths, preds, ids=ids)
        return result["mean"], result["per_image"], {}

    def postprocess(self, cfg) -> PostProcess:
        return PostProcess(kind=getattr(cfg, "postprocess", "threshold"),
                           threshold=float(getattr(cfg, "threshold", 0.5)), largest=self.largest)

    def tune(self, post, outputs, targets, chosen_on):
        if post.kind != "double":
            return post
        from dataclasses import replace

        from common.postprocess import grid_search_thresholds

        found = grid_search_thresholds(list(outputs), [self._truth(targets, i) for i in range(len(outputs))],
                                       largest=self.largest, metric=self.search_metric)
        return replace(post, t_high=found.t_high, t_low=found.t_low, chosen_on=chosen_on,
                       score=round(found.score, 6))

    search_metric = "jaccard"

    def score(self, samples, outputs, targets, *, native, post, classes=None):
        """Each map resized to its image's own size and compared with the mask on disk (``native``,
        as the challenge scores a submission), or at model size against the decoded targets."""
        from common.data.decode import read_mask

        truths, preds = [], []
        for i, sample in enumerate(samples):
            truth_path = self._truth_path(sample)
            if native and truth_path:
                truth, _ = read_mask(truth_path)
                prob = resize_probability(outputs[i], truth.shape[:2])
            else:
                truth = self._truth(targets, i)
                prob = outputs[i]
            truths.append(truth.astype(bool))
            preds.append(post(prob))
        mean, per_image, extra = self._scores(truths, preds, [s.id for s in samples])
        return Scored(mean, per_image, extra)

    def _truth_path(self, sample):
        return sample.mask

    def file_name(self, image_path: Path) -> str:
        from common.data.names import mask_name

        return mask_name(image_path)

    def output_key(self, image_path: Path) -> str:
        return self.file_name(Path(image_path))

    def write(self, out_dir, items, outputs, post, classes=None):
        written = []
        for (path, (height, width)), prob in zip(items, outputs):
            mask = post(resize_probability(prob, (height, width)))
            written.append(write_png_mask(Path(out_dir) / self.file_name(Path(path)), mask))
        return written


ATTRIBUTE_METRICS = ("jaccard", "dice")


class AttributeTask(SegmentationTask):
    """One ISIC 2018 Task 2 attribute per run: a binary map of ``cfg.attribute``.

    Scores follow the challenge: one confusion matrix over all images (every image's counts divided
    by its pixel count, so large images do not dominate), Jaccard and Dice from it. The row's
    ``empty_fraction`` (when it has one) keeps that share of the training images that lack the
    attribute (drawn with the run's seed); the others train on every image.

    Args:
        monitors: the checkpoints to keep (default: the highest validation Jaccard).
    """

    kind = "attributes"
    metrics = ATTRIBUTE_METRICS
    largest = False             # "we do not remove any objects from constructed marker"
    search_metric = "dataset_jaccard"

    def __init__(self, monitors: Sequence[Monitor] = (Monitor("jaccard", "val_jaccard", "max"),)):
        super().__init__(monitors)

    @staticmethod
    def attribute(cfg) -> str:
        from common.data import ATTRIBUTES

        name = getattr(cfg, "attribute", None)
        if name not in ATTRIBUTES:
            raise ValueError(f"attribute {name!r}: choose one of {', '.join(ATTRIBUTES)}")
        return name

    def index_options(self):
        return {"attributes": True}

    def bind(self, cfg) -> "AttributeTask":
        """This task for the row's attribute (the runner calls it once per run)."""
        bound = SegmentationTask.bind(self, cfg)
        bound.name = self.attribute(cfg)
        bound.empty_fraction = getattr(cfg, "empty_fraction", None)
        return bound

    name: str = "globules"
    empty_fraction: float | None = None

    @property
    def group(self) -> str:
        return self.name

    def record_fields(self) -> dict:
        return {"attribute": self.name}

    def targets(self, masks, samples):
        from common.data import ATTRIBUTES

        if masks is None or masks.shape[-1] != len(ATTRIBUTES):
            raise ValueError("the attribute task needs the five ISIC 2018 Task 2 attribute masks "
                             "(an isic2018_task2 folder, or the synthetic data with attributes)")
        k = ATTRIBUTES.index(self.name)
        return masks[..., k:k + 1]

    def select_training(self, targets, seed, cfg):
        share = self.empty_fraction
        if share is None or share >= 1:
            return None
        has = targets.reshape(len(targets), -1).any(axis=1)
        empty = np.flatnonzero(~has)
        rng = np.random.default_rng([int(seed), 2018])
        keep_empty = rng.permutation(empty)[:int(round(share * len(empty)))]
        return np.sort(np.concatenate([np.flatnonzero(has), keep_empty]))

    def _truth_path(self, sample):
        return dict(sample.attributes).get(self.name)

    def _scores(self, truths, preds, ids):
        from common import metrics

        result = metrics.attribute_scores({self.name: truths}, {self.name: preds}, attributes=[self.name])
        per_image = []
        for image_id, t, p in zip(ids, truths, preds):
            tp, fp, fn, _ = metrics.confusion(t, p)
            per_image.append({"id": image_id, "attribute": self.name, "truth_pixels": int(tp + fn),
                              "predicted_pixels": int(tp + fp), "jaccard": float(metrics.jaccard(tp, fp, fn))})
        return dict(result["mean"]), per_image, {"per_attribute": result["per_attribute"]}

    def has_truth(self, sample) -> bool:
        return bool(sample.attributes)

    def file_name(self, image_path):
        from common.data.names import attribute_mask_name

        return attribute_mask_name(image_path, self.name)


def combine_attributes(scored: dict[str, Scored]) -> Scored:
    """The Task 2 result of several attribute runs: each attribute's scores and their mean."""
    per_attribute = {name: s.mean for name, s in scored.items()}
    mean = {k: float(np.mean([v[k] for v in per_attribute.values()])) for k in ATTRIBUTE_METRICS}
    per_image = [row for s in scored.values() for row in s.per_image]
    return Scored(mean, per_image, {"per_attribute": per_attribute})
