"""ASNet as the shared commands see it: rows, builders, optimizer, augmentation (sections 2.4-2.5).

* Model: `reproductions.asnet.model.build_model` behind an input-scaling layer. The runner feeds RGB
  in [0, 1] (``to_colour_space(images, "rgb")``); the ResNet34 encoder's ``bn_data`` layer expects the
  raw 0-255 pixels its ImageNet statistics were taken on (``preprocessing="none"``), and the U-Net row
  takes x / 127.5 - 1 (``preprocessing="tf"``), so the scaling happens inside the model (a
  ``Rescaling`` layer, no weights) and nothing is done outside it.
* Loss: eq. 3, Dice + cross-entropy (`common.losses.dice_ce_loss`).
* Optimizer (section 2.5): SGD, momentum 0.9, weight decay 1e-4 added to the gradient as PyTorch's
  ``SGD(weight_decay=...)`` does (`optimizer.CoupledSGD`), learning rate 0.01 decayed by the 'poly' policy
  ``lr = 0.01 * (1 - step / total_steps) ** 0.9`` (`optimizer.PolyDecay`) over every step of the run:
  ``total_steps = epochs * steps_per_epoch``, the runner passing the epoch length. The schedule reads
  the optimizer's ``iterations`` variable, which the checkpoint holds, so a resumed run continues
  the same curve.
* Batch normalisation: every BN layer's moving-statistics momentum is ``cfg.bn_momentum`` (0.9, the
  Keras form of PyTorch's default 0.1; the paper names no framework), not Keras's 0.99, whose
  statistics lag far behind the weights over a run of a few hundred steps.
* Augmentation: "online randomly left-right flipping" (``augment`` below).
* Split: ``kfold:5`` (the config's ``split``); each fold's run trains on four folds and scores the
  fifth as its ``test`` part. There is no validation part: the last epoch's weights are kept.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from common.config import ConfigError
from common.training.paper import Paper, TrainingParts, build_or_explain, lazy
from reproductions.asnet.configs import PUBLISHED, ROWS, TABLES

if TYPE_CHECKING:
    import keras

__all__ = ["PAPER", "build_training", "build_network", "augment"]

# [0, 1] RGB -> what each row's encoder expects (keras.applications' preprocess_input modes).
_INPUT_SCALING = {"none": (255.0, 0.0), "tf": (2.0, -1.0)}


def set_bn_momentum(model: keras.Model, momentum: float) -> int:
    """Set the moving-statistics momentum of every BatchNormalization layer of ``model`` (nested
    models included) before it is traced; returns how many layers were set."""
    import keras

    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"bn_momentum must be in [0, 1), got {momentum}")
    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            count += 1
    return count


def build_network(cfg, encoder_weights=None) -> keras.Model:
    """The row's network taking RGB in [0, 1]: ``Rescaling`` to the encoder's input range, then
    `model.build_model` (nested as the layer named after it, e.g. "asnet").

    Args:
        cfg: a `Config` (a row of ``ROWS``).
        encoder_weights: None (random initialisation), "imagenet" or a weights file.
    """
    import dataclasses

    import keras

    from reproductions.asnet.model import build_model

    scale, offset = _INPUT_SCALING[cfg.preprocessing]
    if cfg.architecture == "unet" and encoder_weights is not None:
        raise ConfigError("the U-Net row is trained from scratch (Table 2): --encoder-weights accepts only "
                          f"none, got {encoder_weights!r}")
    inner = build_or_explain(build_model, dataclasses.replace(cfg, encoder_weights=encoder_weights))
    set_bn_momentum(inner, cfg.bn_momentum)
    inputs = keras.Input(inner.input_shape[1:], name="image_01")
    x = keras.layers.Rescaling(scale, offset, name="input_scaling")(inputs)
    return keras.Model(inputs, inner(x), name=f"{inner.name}_rgb01")


def build_training(cfg, steps_per_epoch: int = 1) -> TrainingParts:
    """The row's network, eq. 3's loss and section 2.5's SGD with the poly schedule.

    Args:
        cfg: a `Config` (a row of ``ROWS``); its ``encoder_weights`` (None: from scratch) is what
            the encoder starts from (``--encoder-weights`` sets it).
        steps_per_epoch: optimizer updates per epoch (the runner passes it) for the poly schedule.
    """
    from common.losses import dice_ce_loss
    from common.training.steps import SupervisedStep
    from reproductions.asnet.optimizer import make_optimizer

    model = build_network(cfg, cfg.encoder_weights)
    optimizer = make_optimizer(cfg, steps_per_epoch)
    step = SupervisedStep(model, {"dice_ce_loss": dice_ce_loss}[cfg.loss], optimizer)   # eq. 3
    return TrainingParts(step=step, models={"model": model}, optimizers={"model": optimizer},
                         network=model)


def augment(cfg):
    """Section 2.5: "Online randomly left-right flipping was applied for data augmentation"."""
    if cfg.augment == "none":
        return None
    from common.augment import Compose, HorizontalFlip

    return Compose([HorizontalFlip(p=0.5)])  # probability 1/2: "randomly"


PAPER = Paper(
    name="asnet",
    title="ASNet (Zhu et al. 2020), a ResNet34 U-Net with the adaptive scale module",
    rows=ROWS,
    tables=TABLES,
    published=PUBLISHED,
    default_row="ASNet",
    build_training=build_training,
    build_network=build_network,
    augment=augment,
    weights_choices=("imagenet", "none", "PATH"),
    # The embedded synthetic data: a couple of minutes on a laptop CPU, fold 0 of the 5 (--fold all
    # for every fold). Random initialisation, so it runs offline.
    synthetic_defaults={"epochs": 3, "synthetic_size": 60, "image_size": (64, 64), "batch_size": 8,
                        "encoder_weights": None},
    size_multiple=lazy("reproductions.asnet.model:size_multiple"),
    tiny=dict(row="U-Net", sets=("unet_filters=4,8,16",), image_size="32x32", synthetic_size=20, batch_size=4,
              argv=("--split", "kfold:2", "--seed", "3", "--quiet"),
              epochs=2, split="test", n_images=20, first_argv=("--fold", "all"), one_argv=("--fold", "1"), one_index=1),
)
