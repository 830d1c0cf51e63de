"""The ensemble's optimizer (section II.B.2): Adam with AMSGrad under the row's ``decay_mode``
(see :mod:`reproductions.transfer_ensemble.paper`)."""
from __future__ import annotations

import keras

from common.training.optimizers import CoupledL2

__all__ = ["CoupledAdam", "make_optimizer"]


@keras.saving.register_keras_serializable(package="transfer_ensemble")
class CoupledAdam(CoupledL2, keras.optimizers.Adam):
    """Adam whose weight decay is an L2 term on every gradient, ``g + l2 * w``, before the moments
    (``decay_mode="coupled"``: the penalty a ``kernel_regularizer`` on all layers would add;
    :class:`common.training.optimizers.CoupledL2`).

    Args:
        l2: the coupled weight decay.
        **kwargs: `keras.optimizers.Adam` arguments (``weight_decay`` must stay None).
    """


def make_optimizer(cfg) -> keras.optimizers.Optimizer:
    """Section II.B.2's optimizer, Adam with AMSGrad (``cfg.optimizer``), under ``cfg.decay_mode``
    (see the module docstring); the config's ``CHOICES`` hold the values each accepts."""
    amsgrad = {"amsgrad": True}[cfg.optimizer]     # the only choice in the config's CHOICES
    if cfg.decay_mode == "keras2":
        rate = keras.optimizers.schedules.InverseTimeDecay(cfg.learning_rate, decay_steps=1, decay_rate=cfg.decay)
        return keras.optimizers.Adam(learning_rate=rate, amsgrad=amsgrad)
    if cfg.decay_mode == "decoupled":
        return keras.optimizers.AdamW(learning_rate=cfg.learning_rate, weight_decay=cfg.decay, amsgrad=amsgrad)
    if cfg.decay_mode == "coupled":
        return CoupledAdam(l2=cfg.decay, learning_rate=cfg.learning_rate, amsgrad=amsgrad)
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate, amsgrad=amsgrad)
