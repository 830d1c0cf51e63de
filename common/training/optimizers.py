"""Optimizers whose weight decay is coupled: an L2 term added to every gradient before the update.

Keras's ``weight_decay`` argument decays decoupled (``w -= lr * wd * w`` outside the moments, as
AdamW); PyTorch's ``SGD(weight_decay=...)`` and ``Adam(weight_decay=...)``, and a ``kernel_regularizer``
on every layer, add ``wd * w`` to the gradient instead. :class:`CoupledL2` gives any Keras optimizer
that behaviour; ASNet uses it with SGD, the transfer ensemble with AMSGrad Adam.
"""
from __future__ import annotations

__all__ = ["CoupledL2"]


class CoupledL2:
    """Mixin for a ``keras.optimizers.Optimizer``: ``gradient + l2 * variable`` before the update.

    Use as ``class CoupledSGD(CoupledL2, keras.optimizers.SGD)``; ``l2`` is the coupled decay, and the
    optimizer's own ``weight_decay`` must stay None.
    """

    def __init__(self, l2: float = 0.0, **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError(f"{type(self).__name__} applies l2 itself; leave weight_decay None")
        super().__init__(**kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        if self.l2:
            from keras import ops

            gradient = ops.add(ops.cast(gradient, variable.dtype),
                               ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["l2"] = self.l2
        return config
