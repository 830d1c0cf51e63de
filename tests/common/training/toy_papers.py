"""Small declarations of the two task kinds no paper package uses yet, for the runner's tests.

``CLASSIFIER``: a small CNN over the synthetic classes (the generator's labels), the three
checkpoints of a classifier. ``ATTRIBUTES``: a tiny fully convolutional net per ISIC 2018 Task 2
attribute on the synthetic attribute masks. ``LESION``: the same net on lesion masks with a
validation part, for ensembles, test-time views and double-threshold post-processing.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.training.paper import Paper, TrainingParts
from common.training.tasks import AttributeTask, ClassificationTask, SegmentationTask


@dataclass(frozen=True)
class ToyConfig:
    image_size: tuple[int, int] = (32, 32)
    epochs: int = 2
    batch_size: int = 8
    split: str = "holdout:0.6,0.2,0.2"
    width: int = 8
    n_classes: int = 3
    learning_rate: float = 3e-3
    attribute: str | None = None
    empty_fraction: float | None = None
    postprocess: str = "threshold"
    threshold: float = 0.5


def _classifier(cfg):
    import keras

    inputs = keras.Input((*cfg.image_size, 3))
    x = keras.layers.Conv2D(cfg.width, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(2 * cfg.width, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(cfg.n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="toy_classifier")


def _segmenter(cfg):
    import keras

    inputs = keras.Input((*cfg.image_size, 3))
    x = keras.layers.Conv2D(cfg.width, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2D(cfg.width, 3, padding="same", activation="relu")(x)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="toy_segmenter")


def _training(build, loss):
    def build_training(cfg):
        import keras

        from common.training.steps import SupervisedStep

        model = build(cfg)
        optimizer = keras.optimizers.Adam(cfg.learning_rate)
        loss_fn = loss()
        return TrainingParts(step=SupervisedStep(model, loss_fn, optimizer), models={"model": model},
                             optimizers={"model": optimizer}, network=model)

    return build_training


def _cce():
    import keras

    return keras.losses.CategoricalCrossentropy()


def _dice():
    from common.losses import dice_loss

    return dice_loss


QUICK = {"synthetic_size": 40}

CLASSIFIER = Paper(
    name="toy_classifier", title="a small CNN on the synthetic classes", rows={"CNN": ToyConfig()},
    default_row="CNN", build_training=_training(_classifier, _cce), build_network=_classifier,
    task=ClassificationTask(), weights_choices=("none",), synthetic_defaults=QUICK, size_multiple=2)

ATTRIBUTES = Paper(
    name="toy_attributes", title="a tiny net per lesion attribute",
    rows={"Attributes": ToyConfig(attribute="pigment_network", empty_fraction=0.5)},
    default_row="Attributes", build_training=_training(_segmenter, _dice), build_network=_segmenter,
    task=AttributeTask(), weights_choices=("none",), synthetic_defaults=QUICK, size_multiple=2)

LESION = Paper(
    name="toy_lesion", title="a tiny lesion segmenter", rows={"Net": ToyConfig()},
    default_row="Net", build_training=_training(_segmenter, _dice), build_network=_segmenter,
    task=SegmentationTask(), weights_choices=("none",), synthetic_defaults=QUICK, size_multiple=2)
