"""Compiled training steps for the TensorFlow and JAX backends.

The runner drives its own epoch loop (so one mechanism handles checkpoints, resume, NaN stops and
GAN updates alike); a *step* is the compiled unit it calls per batch. On TensorFlow a step is a
``tf.function`` over a ``GradientTape``; on JAX it is a jitted pure function over the variables'
values, which are written back into the Keras variables by :meth:`Step.sync` (before validation
and checkpoints).

Both honour :mod:`common.training.scale`: several devices (JAX: the batch is sharded over the
mesh and the jitted step runs as one global program; TensorFlow: ``strategy.run`` per replica,
each replica's loss divided by the number of replicas), mixed precision (predictions cast to
float32 before the loss, loss scaling under float16) and XLA on TensorFlow (``--jit``).
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import keras

from common.training import scale as scale_lib


def backend() -> str:
    return keras.backend.backend()


class JaxState:
    """Values of a set of Keras variables carried between jitted steps, written back on ``sync``.

    The steps donate these values to XLA (``donate_argnums``: the new weights and optimizer state
    reuse the old buffers, so they are not held twice on the device), so the state keeps its own
    copies, never the Keras variables' buffers."""

    def __init__(self, groups: Sequence[Sequence]):
        self.groups = [list(g) for g in groups]
        self.refresh()

    def sync(self) -> None:
        # Copies: Keras's own compiled functions (predict_on_batch) may donate the variables'
        # buffers, which must not be the ones this state keeps using.
        import jax.numpy as jnp

        for group, values in zip(self.groups, self.values):
            for var, value in zip(group, values):
                var.assign(jnp.array(value, copy=True))

    def refresh(self) -> None:
        """Re-read the variables (after a checkpoint was loaded into them), as copies: the next step
        donates them."""
        import jax.numpy as jnp

        self.values = [[jnp.array(v.value, copy=True) for v in g] for g in self.groups]


class Step:
    """A compiled per-batch update. ``__call__(x, y)`` returns a dict of scalar tensors.

    Subclasses set ``self._fn`` (the compiled function) and, on JAX, ``self.state`` (a
    :class:`JaxState` over every variable the step changes).
    """

    _fn: Callable
    state: JaxState | None = None

    def __call__(self, x, y) -> dict:
        x, y = scale_lib.current().place(x, y)      # JAX, several devices: sharded over the mesh
        return self._fn(x, y)

    def sync(self) -> None:
        """Make the Keras variables hold the latest values (no-op on TensorFlow)."""
        if self.state is not None:
            self.state.sync()

    def refresh(self) -> None:
        """Pick up values assigned to the Keras variables from outside (after a restore)."""
        if self.state is not None:
            self.state.refresh()


def loss_scale(optimizer, opt_values):
    """JAX, float16: the dynamic loss scale held in ``opt_values`` (None for other optimizers);
    ``stateless_apply`` divides the gradients by it again."""
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return None
    with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, opt_values))):
        return optimizer.scale_loss(1.0)


class SupervisedStep(Step):
    """One optimizer update of ``loss_fn(y, model(x))`` (plus the model's regularisation losses)."""

    def __init__(self, model: keras.Model, loss_fn: Callable, optimizer: keras.optimizers.Optimizer,
                 jit_compile: bool | None = None):
        scale = scale_lib.current()
        self.model, self.loss_fn = model, loss_fn
        scale_lib.prepare_model(model)
        # float16: dynamic loss scaling around the paper's optimizer (which the checkpoint keeps)
        self.optimizer = optimizer = scale_lib.wrap_optimizer(optimizer)
        if not optimizer.built:
            with scale.scope():
                optimizer.build(model.trainable_variables)
        name = backend()
        if name == "tensorflow":
            self._fn = self._make_tf(scale.jit if jit_compile is None else jit_compile)
        elif name == "jax":
            self._fn = self._make_jax()
        else:
            raise RuntimeError(f"training steps support the tensorflow and jax backends, not {name!r}; "
                               "set KERAS_BACKEND=tensorflow or jax")

    def _make_tf(self, jit_compile):
        import tensorflow as tf

        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        scale = scale_lib.current()
        replicas = scale.replicas

        def update(x, y):
            with tf.GradientTape() as tape:
                pred = tf.cast(model(x, training=True), "float32")
                loss = loss_fn(y, pred)
                if model.losses:
                    loss = loss + tf.add_n([tf.cast(t, "float32") for t in model.losses])
                # replicas: each one's gradient is summed by the optimizer, so each takes 1/N
                scaled = optimizer.scale_loss(loss / replicas if replicas > 1 else loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return {"loss": loss}

        if replicas <= 1:
            return tf.function(update, jit_compile=jit_compile, reduce_retracing=True)
        strategy = scale._strategy
        replica_update = tf.function(update, jit_compile=jit_compile, reduce_retracing=True)

        @tf.function(reduce_retracing=True)
        def distributed(x, y):
            logs = strategy.run(replica_update, args=(x, y))
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

        return lambda x, y: distributed(*scale.distribute(x, y))

    def _make_jax(self):
        import jax

        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        self.state = JaxState([model.trainable_variables, model.non_trainable_variables,
                               optimizer.variables])

        def compute_loss(trainable, non_trainable, x, y, factor):
            # return_losses: the layers' regularisation terms, added as the TensorFlow step adds them
            pred, non_trainable, extra = model.stateless_call(trainable, non_trainable, x, training=True,
                                                              return_losses=True)
            loss = loss_fn(y, pred.astype("float32"))
            for term in extra:
                loss = loss + term.astype("float32")
            return loss * factor if factor is not None else loss, (loss, non_trainable)

        grad_fn = jax.value_and_grad(compute_loss, has_aux=True)

        @functools.partial(jax.jit, donate_argnums=0)     # the old state's buffers become the new one's
        def step(values, x, y):
            trainable, non_trainable, opt_vars = values
            factor = loss_scale(optimizer, opt_vars)
            (_, (loss, non_trainable)), grads = grad_fn(trainable, non_trainable, x, y, factor)
            trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
            return {"loss": loss}, [trainable, non_trainable, opt_vars]

        def call(x, y):
            logs, self.state.values = step(self.state.values, x, y)
            return logs

        return call
