"""ASNet as the shared commands see it: rows, builders, optimizer, augmentation (sections 2.4-2.5).

* Model: `reproductions.asnet.model.build_model` behind an input-scaling layer. The runner feeds RGB
  in [0, 1] (``to_colour_space(images, "rgb")``); the ResNet34 encoder's ``bn_data`` layer expects the
  raw 0-255 pixels its ImageNet statistics were taken on (``preprocessing="none"``), and the U-Net row
  takes x / 127.5 - 1 (``preprocessing="tf"``), so the scaling happens inside the model (a
  ``Rescaling`` layer, no weights) and nothing is done outside it.
* Loss: eq. 3, Dice + cross-entropy (`common.losses.dice_ce_loss`).
* Optimizer (section 2.5): SGD, momentum 0.9, weight decay 1e-4 added to the gradient as PyTorch's
  ``SGD(weight_decay=...)`` does (`CoupledSGD`), learning rate 0.01 decayed by the 'poly' policy
  ``lr = 0.01 * (1 - step / total_steps) ** 0.9`` (`PolyDecay`) over every step of the run:
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

import keras

from common.config import ConfigError
from common.training.experiment import Paper, TrainingParts, build_or_explain
from common.training.optimizers import CoupledL2
from reproductions.asnet.configs import ROWS

__all__ = ["PAPER", "PolyDecay", "CoupledSGD", "build_training", "build_predictor", "make_optimizer",
           "augment"]

# [0, 1] RGB -> what each row's encoder expects (keras.applications' preprocess_input modes).
_INPUT_SCALING = {"none": (255.0, 0.0), "tf": (2.0, -1.0)}


@keras.saving.register_keras_serializable(package="asnet")
class PolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The 'poly' learning-rate policy (ASNet section 2.5):
    ``lr(step) = initial_learning_rate * (1 - min(step, total_steps) / total_steps) ** power``.

    Args:
        initial_learning_rate: the base rate (0.01 in the paper).
        total_steps: optimizer updates of the whole run (epochs x steps per epoch); the rate is 0 there.
        power: the exponent (0.9 in the paper).
    """

    def __init__(self, initial_learning_rate: float, total_steps: int, power: float = 0.9):
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.power = float(power)

    def __call__(self, step):
        from keras import ops

        step = ops.minimum(ops.cast(step, "float32"), float(self.total_steps))
        return self.initial_learning_rate * ops.power(1.0 - step / float(self.total_steps), self.power)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "total_steps": self.total_steps,
                "power": self.power}


@keras.saving.register_keras_serializable(package="asnet")
class CoupledSGD(CoupledL2, keras.optimizers.SGD):
    """SGD whose weight decay is an L2 term on the gradient, ``g + l2 * w``, before the momentum,
    as PyTorch's ``torch.optim.SGD(weight_decay=...)`` applies it to every parameter
    (:class:`common.training.optimizers.CoupledL2`).

    Keras's own ``SGD(weight_decay=wd)`` decays decoupled, ``w -= lr * wd * w`` outside the momentum,
    which at momentum 0.9 is about ten times weaker than PyTorch's at the same ``wd``.

    Args:
        l2: the coupled weight decay (1e-4 in the paper).
        **kwargs: `keras.optimizers.SGD` arguments (``weight_decay`` must stay None).
    """


def make_optimizer(cfg, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Section 2.5's optimizer for a run of ``cfg.epochs`` epochs of ``steps_per_epoch`` updates.

    Args:
        cfg: a `Config` (optimizer "sgd", lr_schedule "poly" or "constant").
        steps_per_epoch: optimizer updates per epoch (batches of the training part).
    """
    if cfg.optimizer != "sgd":
        raise ConfigError(f"optimizer {cfg.optimizer!r}: ASNet trains with sgd (section 2.5)")
    if cfg.lr_schedule == "poly":
        rate = PolyDecay(cfg.learning_rate, max(1, cfg.epochs * int(steps_per_epoch)), cfg.lr_power)
    elif cfg.lr_schedule == "constant":
        rate = cfg.learning_rate
    else:
        raise ConfigError(f"lr_schedule {cfg.lr_schedule!r}: choose poly (section 2.5) or constant")
    return CoupledSGD(l2=cfg.weight_decay, learning_rate=rate, momentum=cfg.momentum)


def _check_preprocessing(cfg) -> tuple[float, float]:
    if cfg.preprocessing not in _INPUT_SCALING:
        raise ConfigError(f"preprocessing {cfg.preprocessing!r}: choose one of {', '.join(_INPUT_SCALING)}")
    return _INPUT_SCALING[cfg.preprocessing]


def set_bn_momentum(model: keras.Model, momentum: float) -> int:
    """Set the moving-statistics momentum of every BatchNormalization layer of ``model`` (nested
    models included) before it is traced; returns how many layers were set."""
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

    from reproductions.asnet.model import build_model

    scale, offset = _check_preprocessing(cfg)
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

    model = build_network(cfg, cfg.encoder_weights)
    optimizer = make_optimizer(cfg, steps_per_epoch)
    if cfg.loss != "dice_ce_loss":
        raise ConfigError(f"loss {cfg.loss!r}: ASNet trains with dice_ce_loss (eq. 3)")
    step = SupervisedStep(model, dice_ce_loss, optimizer)
    return TrainingParts(step=step, models={"model": model}, optimizers={"model": optimizer},
                         predictor=model)


def build_predictor(cfg) -> keras.Model:
    """The row's network with random weights; the run's weights are loaded afterwards."""
    return build_network(cfg, None)


def augment(cfg):
    """Section 2.5: "Online randomly left-right flipping was applied for data augmentation"."""
    if cfg.augment == "none":
        return None
    if cfg.augment != "flip_lr":
        raise ConfigError(f"augment {cfg.augment!r}: choose flip_lr (section 2.5) or none")
    from common.augment import Compose, HorizontalFlip

    return Compose([HorizontalFlip(p=0.5)])  # probability 1/2: "randomly"


PAPER = Paper(
    name="asnet",
    title="ASNet (Zhu et al. 2020), a ResNet34 U-Net with the adaptive scale module",
    rows=ROWS,
    default_row="ASNet",
    build_training=build_training,
    build_predictor=build_predictor,
    augment=augment,
    weights_choices=("imagenet", "none", "PATH"),
    # The embedded synthetic data: a couple of minutes on a laptop CPU, fold 0 of the 5 (--fold all
    # for every fold). Random initialisation, so it runs offline.
    synthetic_defaults={"epochs": 3, "synthetic_size": 60, "image_size": (64, 64), "batch_size": 8,
                        "encoder_weights": None},
    size_multiple=lambda cfg: 2 ** (len(cfg.unet_filters) - 1) if cfg.architecture == "unet" else 32,
    tiny=dict(row="U-Net", sets=("unet_filters=4,8,16",), image_size="32x32", synthetic_size=20, batch_size=4,
              argv=("--split", "kfold:2", "--seed", "3", "--quiet"),
              epochs=2, split="test", n_images=20, first_argv=("--fold", "all"), one_argv=("--fold", "1"), one_index=1),
)
