"""The thesis as the shared commands see it: classifiers through ``ClassificationTask`` (three
checkpoints: lowest validation loss, highest validation accuracy, highest validation balanced
multi-class accuracy, sections 5.2-5.4), the U-Net through ``SegmentationTask`` (two: highest
validation Jaccard, lowest validation loss, section 5.5); the balanced experiment's subset."""
from __future__ import annotations

import dataclasses
import sys

from common.config import ConfigError
from common.training.paper import Paper, TrainingParts, build_or_explain, lazy
from common.training.tasks import ClassificationTask, Monitor, SegmentationTask
from reproductions.isic2019_classifiers.configs import PUBLISHED, ROWS, TABLES
from reproductions.isic2019_classifiers.data import BALANCED_CLASSES, BALANCED_PER_CLASS, CLASSES, balanced_subset

UNET_MONITORS = (Monitor("jaccard", "val_jaccard", "max"), Monitor("loss", "val_loss", "min"))


def task(cfg):
    if cfg.model == "unet":
        return SegmentationTask(monitors=UNET_MONITORS)
    return ClassificationTask(cfg.n_classes)


def _network(cfg, encoder_weights):
    if cfg.model == "unet":
        from common.backbones.unet import build_unet

        if encoder_weights is not None:
            raise ConfigError("the thesis's U-Net is trained from scratch: --encoder-weights accepts only none")
        return build_unet(cfg.image_size, cfg.unet_filters, name="unet")
    from reproductions.isic2019_classifiers.models import build_classifier

    kwargs = {}
    if cfg.model == "residual":
        kwargs = {"widths": cfg.residual_widths, "dropout": cfg.dropout}
    if encoder_weights == "imagenet" and cfg.model in ("alexnet", "residual", "vgg16"):
        raise ConfigError(f"{cfg.model}: the thesis trains it from scratch; --encoder-weights none "
                          "(or a weights file)")
    try:
        return build_or_explain(build_classifier, cfg.model, (*cfg.image_size, 3), cfg.n_classes,
                                weights=encoder_weights, **kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_training(cfg) -> TrainingParts:
    import keras

    from common.losses import get_loss
    from common.training.steps import SupervisedStep

    model = _network(cfg, cfg.encoder_weights)    # --encoder-weights sets it
    optimizer = {"adam": keras.optimizers.Adam}[cfg.optimizer](learning_rate=cfg.learning_rate)  # the thesis names none
    loss = get_loss(cfg.loss)
    return TrainingParts(step=SupervisedStep(model, loss, optimizer), models={"model": model},
                         optimizers={"model": optimizer}, network=model, loss=loss)


def build_network(cfg):
    return _network(cfg, None)


def augment(cfg):
    if cfg.augment == "none":
        return None
    from common.augment import get_pipeline

    return get_pipeline(cfg.augment)


def subset(index, cfg, seed):
    """The balanced experiment (section 5.3): 1987 images of each of MEL, NV, BCC, BKL and of the
    four rarest classes grouped; the other experiments use every labelled image."""
    if cfg.experiment != "balanced":
        return index
    if list(index.classes or [])[:len(CLASSES)] != list(CLASSES):
        print(f"note: the balanced experiment groups ISIC 2019's classes; {index.name} has "
              f"{index.classes}, so every image is used as it is", file=sys.stderr)
        return index
    labelled = [s for s in index.samples if s.label is not None]
    try:
        ids, labels = balanced_subset([s.id for s in labelled], [s.label for s in labelled], seed)
    except ValueError as exc:
        raise ConfigError(f"{index.name}: {exc}; the balanced experiment needs images of MEL, NV, BCC, BKL "
                          "and at least one of AK, DF, VASC, SCC") from exc
    per_class = len(ids) // len(BALANCED_CLASSES)
    if per_class != BALANCED_PER_CLASS:
        print(f"note: the balanced experiment draws {per_class} images of each of its 5 classes from "
              f"{index.name} (the smallest class's count; the thesis's {BALANCED_PER_CLASS} on ISIC 2019's "
              "25,331 images)", file=sys.stderr)
    by_id = {s.id: s for s in labelled}
    samples = [dataclasses.replace(by_id[i], label=lab) for i, lab in sorted(zip(ids, labels))]
    return dataclasses.replace(index, samples=samples, classes=list(BALANCED_CLASSES))


PAPER = Paper(
    name="isic2019_classifiers",
    title="ISIC 2019 classifiers and a U-Net (Verdeguer 2020): VGG16, AlexNet, a residual net, "
          "ResNet101, Wide ResNet",
    rows=ROWS,
    tables=TABLES,
    published=PUBLISHED,
    default_row="Wide ResNet",
    build_training=build_training,
    build_network=build_network,
    task=task,
    augment=augment,
    weights_choices=("imagenet", "none", "PATH"),
    # The embedded synthetic data (its generator's 3 classes): the thesis's own residual net, small,
    # from scratch, a few minutes on a CPU.
    synthetic_defaults={"epochs": 4, "synthetic_size": 96, "image_size": (64, 64), "n_classes": 3,
                        "encoder_weights": None},
    size_multiple=lazy("reproductions.isic2019_classifiers.models:size_multiple"),
    micro_batch=lazy("reproductions.isic2019_classifiers.models:micro_batch"),
    subset=subset,
    # the thesis's own residual net, narrowed, on the synthetic data's three classes
    tiny=dict(row="Residual net", sets=("residual_widths=4,8",), image_size=32, synthetic_size=40, batch_size=8,
              argv=("--seed", "3", "--quiet"), epochs=2, split="test", n_images=40, parts=("train", "val", "test")),
)
