"""Image classification (ISIC 2019 Task 1 and the synthetic classes): softmax over K classes.

Validation metrics for the monitors: ``val_loss`` (categorical cross-entropy), ``val_accuracy`` and
``val_balanced_accuracy`` (the mean per-class recall, the ISIC 2019 ranking metric). Scores add the
per-class recall, the confusion matrix and a Wilson interval of the accuracy. Predictions are written
as the challenge's CSV of class probabilities: ``image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK`` for
ISIC 2019 (UNK, which no training image has, gets 0), ``image,<class names>`` for other data.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from common.training.tasks.base import Monitor, PostProcess, Scored, Task

CLASSIFICATION_METRICS = ("loss", "accuracy", "balanced_accuracy")
#: The thesis keeps three checkpoints per classifier (section 4.3).
THREE_CHECKPOINTS = (Monitor("loss", "val_loss", "min"), Monitor("accuracy", "val_accuracy", "max"),
                     Monitor("balanced_accuracy", "val_balanced_accuracy", "max"))
ISIC2019_COLUMNS = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")


def learnable_classes(classes) -> list[str]:
    """A dataset's class names without ISIC 2019's UNK (the test set's "none of the others", which
    no training image has)."""
    return [c for c in (classes or []) if str(c).upper() != "UNK"]


def cross_entropy(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    """Mean categorical cross-entropy of integer labels under class probabilities (clipped as Keras)."""
    p = np.clip(np.asarray(probs, np.float64), eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(labels)), np.asarray(labels, np.int64)])))


class ClassificationTask(Task):
    """Softmax classifiers: labels from ``Sample.label``, batches of one-hot targets.

    Args:
        n_classes: the width of the softmax (the dataset's class count).
        monitors: the checkpoints to keep (default: lowest loss, highest accuracy, highest balanced
            accuracy, as the thesis keeps).
    """

    kind = "classification"
    metrics = CLASSIFICATION_METRICS
    spatial = False
    targets_from_masks = False
    post_processed = False
    output_words = "class probabilities"
    one_output_file = True

    def __init__(self, n_classes: int | None = None, monitors: Sequence[Monitor] = THREE_CHECKPOINTS):
        self.n_classes = n_classes
        self.monitors = tuple(monitors)

    def bind(self, cfg):
        n = getattr(cfg, "n_classes", None) or self.n_classes
        return self if n == self.n_classes else type(self)(n, self.monitors)

    def has_truth(self, sample) -> bool:
        return sample.label is not None

    def record_classes(self, record: dict):
        return record.get("classes")

    def check_data(self, index, split, cfg):
        """The classes come from the data, and the row's softmax must match them: a dataset with
        another number of classes (PH2's 3 diagnoses under an 8-class ISIC 2019 row) is refused with
        the ``--set n_classes=K`` that fits, instead of training a softmax with outputs no image
        has. ISIC 2019's UNK column, which no training image has, is not a class to learn. Classes
        without a training image, and validation parts that hold only some classes (their balanced
        accuracy then averages fewer recalls), are said at the start of the run."""
        import sys

        from common.config import ConfigError

        names = learnable_classes(index.classes)
        if not names:
            return {}
        if self.n_classes is not None and self.n_classes != len(names):
            raise ConfigError(f"{index.name} has {len(names)} classes ({', '.join(names)}) but this row's softmax has "
                              f"{self.n_classes} outputs; give --set n_classes={len(names)} (the record then names "
                              "the classes it trained on)")
        by_id = {s.id: s.label for s in index.samples}
        for part in ("train", "val"):
            ids = split.get(part) or []
            present = {by_id.get(i) for i in ids} - {None}
            absent = [n for k, n in enumerate(names) if k not in present]
            if ids and absent and part == "train":
                print(f"note: no training image of class(es) {', '.join(absent)}; the model cannot learn them",
                      file=sys.stderr)
            elif ids and absent:
                print(f"note: the validation part ({len(ids)} images) holds {len(names) - len(absent)} of the "
                      f"{len(names)} classes (none of {', '.join(absent)}): its balanced accuracy averages "
                      f"{len(names) - len(absent)} recalls", file=sys.stderr)
        return {"classes": names}

    def targets(self, masks, samples):
        labels = [s.label for s in samples]
        missing = [s.id for s, label in zip(samples, labels) if label is None]
        if missing:
            raise ValueError(f"{len(missing)} images have no class label (e.g. {', '.join(missing[:3])}); "
                             f"a classification row needs labelled data (ISIC 2019's CSV, or the synthetic classes)")
        labels = np.asarray(labels, np.int64)
        if self.n_classes is not None and labels.size and labels.max() >= self.n_classes:
            raise ValueError(f"class {int(labels.max())} found but the model has {self.n_classes} outputs")
        return labels

    def batches(self, images, targets, cfg, *, seed, augment, shuffle, drop_remainder):
        from common.data import ClassificationBatches

        return ClassificationBatches(images, targets, cfg.batch_size, n_classes=self.n_classes, shuffle=shuffle,
                                     seed=seed, augment=augment, colour_space=getattr(cfg, "colour_space", "rgb"),
                                     drop_remainder=drop_remainder,
                                     sampling=getattr(cfg, "sampling", "uniform") if shuffle else "uniform")

    def output(self, prediction):
        return prediction                                   # [B, K] softmax

    def empty_outputs(self, n, hw):
        return np.zeros((n, self.n_classes or 1), np.float32)

    def validation(self, outputs, targets, samples, loss_fn=None, wanted=()):
        from common import metrics

        predicted = metrics.labels_from_probabilities(outputs)
        return {"val_loss": cross_entropy(targets, outputs),
                "val_accuracy": float(np.mean(predicted == targets)),
                "val_balanced_accuracy": metrics.balanced_accuracy(targets, predicted, outputs.shape[1])}

    def postprocess(self, cfg):
        return PostProcess()                                # argmax; nothing to tune

    def score(self, samples, outputs, targets, *, native, post, classes=None):
        from common import metrics

        k = outputs.shape[1]
        names = learnable_classes(classes)[:k] if classes else []
        names += [str(c) for c in range(len(names), k)]
        predicted = metrics.labels_from_probabilities(outputs)
        recall = metrics.per_class_recall(targets, predicted, k)
        acc = metrics.accuracy_with_ci(targets, predicted)
        confusion = np.zeros((k, k), np.int64)
        for t, p in zip(targets, predicted):
            if p >= 0:
                confusion[t, p] += 1
        per_image = [{"id": s.id, "label": names[int(t)], "predicted": names[int(p)] if p >= 0 else "undecided",
                      **{f"p_{n}": float(v) for n, v in zip(names, row)}}
                     for s, t, p, row in zip(samples, targets, predicted, outputs)]
        true_p = np.clip(np.asarray(outputs, np.float64)[np.arange(len(targets)), np.asarray(targets, int)], 1e-7, 1.0)
        mean = {"loss": float(-np.log(true_p).mean()) if len(targets) else float("nan"),   # categorical CE
                "accuracy": float(acc.accuracy), "balanced_accuracy": float(np.nanmean(recall))}
        extra = {"per_class_recall": {n: (None if np.isnan(r) else float(r)) for n, r in zip(names, recall)},
                 "confusion_matrix": {"classes": names, "rows_true_columns_predicted": confusion.tolist()},
                 "accuracy_ci95": [float(acc.low), float(acc.high)]}
        return Scored(mean, per_image, extra)

    def output_files(self, image_paths):
        return ["predictions.csv"]

    def write(self, out_dir, items, outputs, post, classes=None):
        """One CSV, ``predictions.csv``: ``image`` then a probability per class column."""
        from common.data.names import submission_stem
        from common.training.records import atomic_write_text

        names = list(classes) if classes else [str(c) for c in range(outputs.shape[1])]
        columns = list(names)
        if set(names) <= set(ISIC2019_COLUMNS):
            columns = list(ISIC2019_COLUMNS)               # the challenge's order, UNK included
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["image", *columns])
        for (path, _), row in zip(items, outputs):
            value = dict(zip(names, row))
            writer.writerow([submission_stem(path), *(f"{float(value.get(c, 0.0)):.6f}" for c in columns)])
        target = Path(out_dir) / "predictions.csv"
        atomic_write_text(target, buf.getvalue())
        return [target]
