"""The transfer-ensemble paper as the shared commands see it (sections II.B-II.D).

* Lesion rows: ``SegmentationTask`` keeping the checkpoint with the lowest validation loss (section
  II.B.2), eq. 1's loss, (T_H, T_L) of eq. 2 chosen by thresholded Jaccard (the challenge's metric)
  on the run's validation images; the out-of-fold maps and the paper's choice on them come from
  ``python -m reproductions.transfer_ensemble.ensemble``.
* Attribute rows: ``AttributeTask`` for one attribute, eq. 3's loss, the same checkpoint rule, as many
  training images without the attribute as with it (section II.C.1), drawn with the run's seed from
  the fold's own training images (so each fold draws again).
* Optimiser (section II.B.2): Adam with AMSGrad, learning rate 1e-4, "weight decay" 1e-4 read as the
  reference's ``Adam(lr, decay=1e-4, amsgrad=True)``: Keras 2's ``decay`` is the inverse-time
  learning-rate decay ``lr / (1 + decay * step)`` (``decay_mode="keras2"``). ``coupled`` adds
  ``decay * w`` to every gradient (an L2 penalty on all layers), ``decoupled`` is AdamW's.
* Augmentation: section II.A.3's list, on the fly (``augment.paper_pipeline``).
* Test-time views: ``--tta five`` (``tta.py``).
"""
from __future__ import annotations

import numpy as np

from common.config import ConfigError
from common.training.paper import Paper, TrainingParts, build_or_explain, lazy
from common.training.tasks import AttributeTask, Monitor, SegmentationTask
from reproductions.transfer_ensemble import tta  # noqa: F401 - registers --tta five
from reproductions.transfer_ensemble.configs import LESION_ROWS, PUBLISHED, ROWS, TABLES

__all__ = ["PAPER", "LesionTask", "PaperAttributeTask"]

MONITORS = (Monitor("loss", "val_loss", "min"),)  # sec. II.B.2: "saved ... based on the loss value"


class LesionTask(SegmentationTask):
    """Task 1 with the paper's checkpoint (lowest validation loss) and (T_H, T_L) chosen by the
    challenge's thresholded Jaccard (section II.B.3)."""

    search_metric = "thresholded_jaccard"

    def __init__(self):
        super().__init__(monitors=MONITORS)


class PaperAttributeTask(AttributeTask):
    """Task 2, one attribute: lowest validation loss; negatives subsampled as section II.C.1."""

    def __init__(self):
        super().__init__(monitors=MONITORS)

    def bind(self, cfg):
        bound = super().bind(cfg)
        bound.negatives = getattr(cfg, "negatives", "all")
        return bound

    negatives: str = "all"

    def select_training(self, targets, seed, cfg):
        """All images with the attribute and as many without it, drawn with ``seed`` (``match``)."""
        if self.negatives != "match":
            return None
        has = targets.reshape(len(targets), -1).any(axis=1)
        positives, empty = np.flatnonzero(has), np.flatnonzero(~has)
        if len(positives) == 0:
            raise ConfigError(f"no training image of this fold has the attribute {self.name!r}: nothing to learn")
        rng = np.random.default_rng([int(seed), 2018])
        chosen = rng.permutation(empty)[:len(positives)]
        return np.sort(np.concatenate([positives, chosen]))


def task(cfg):
    return LesionTask() if cfg.attribute is None else PaperAttributeTask()


def _loss(cfg):
    from common.losses import jaccard_bce_loss, squared_jaccard_loss

    return {"jaccard_bce": jaccard_bce_loss, "squared_jaccard": squared_jaccard_loss}[cfg.loss]


def _network(cfg, encoder_weights, input_shape=None):
    from reproductions.transfer_ensemble.model import build_model

    try:
        return build_or_explain(build_model, cfg, encoder_weights, input_shape)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_training(cfg) -> TrainingParts:
    from common.training.steps import SupervisedStep
    from reproductions.transfer_ensemble.optimizer import make_optimizer

    model = _network(cfg, cfg.encoder_weights)    # --encoder-weights sets it
    optimizer = make_optimizer(cfg)
    loss = _loss(cfg)
    return TrainingParts(step=SupervisedStep(model, loss, optimizer), models={"model": model},
                         optimizers={"model": optimizer}, network=model, loss=loss)


def build_network(cfg):
    """Any input size with sides divisible by 32 (the rotated test-time view swaps height and width)."""
    return _network(cfg, None, input_shape=(None, None, 3))


def augment(cfg):
    if cfg.augment == "none":
        return None
    from reproductions.transfer_ensemble.augment import pipeline

    return pipeline(cfg.augment)


PAPER = Paper(
    name="transfer_ensemble",
    title="the transfer-learning ensemble (Koohbanani et al. 2018): pyramid-pooling U-Nets on pretrained "
          "encoders and DeepLabV3+, test-time views, ensembles, double-threshold post-processing, attributes",
    rows=ROWS,
    tables=TABLES,
    published=PUBLISHED,
    default_row=next(iter(LESION_ROWS)),
    build_training=build_training,
    build_network=build_network,
    task=task,
    augment=augment,
    weights_choices=("imagenet", "none", "PATH"),
    # The embedded synthetic data: a few minutes on a laptop CPU, fold 0 of 5, from scratch; the
    # attribute rows take the synthetic attribute masks.
    synthetic_defaults={"epochs": 6, "synthetic_size": 48, "image_size": (64, 96), "batch_size": 4,
                        "encoder_weights": None},
    size_multiple=lazy("reproductions.transfer_ensemble.model:size_multiple"),
    micro_batch=lazy("reproductions.transfer_ensemble.model:micro_batch"),
    # the same-padded Xception encoder (full depth, random weights) under a narrowed pyramid decoder
    tiny=dict(row="Xception", sets=("pyramid_width=4", "head_width=4", "aggregation_width=4", "decoder_widths=4,4",
                                    "augment=none"),
              image_size=32, synthetic_size=20, batch_size=4, argv=("--encoder-weights", "none", "--seed", "3", "--quiet"),
              epochs=2, split="test", n_images=20, parts=("train", "val", "test")),
)
