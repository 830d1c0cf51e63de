"""ASNet's optimizer (section 2.5): SGD with PyTorch's coupled weight decay and the 'poly' schedule."""
from __future__ import annotations

import keras

from common.training.optimizers import CoupledL2

__all__ = ["PolyDecay", "CoupledSGD", "make_optimizer"]


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
    # the config's CHOICES hold the values each field accepts (checked when the row is resolved)
    optimizer = {"sgd": CoupledSGD}[cfg.optimizer]
    if cfg.lr_schedule == "poly":
        rate = PolyDecay(cfg.learning_rate, max(1, cfg.epochs * int(steps_per_epoch)), cfg.lr_power)
    else:                             # "constant"
        rate = cfg.learning_rate
    return optimizer(l2=cfg.weight_decay, learning_rate=rate, momentum=cfg.momentum)
