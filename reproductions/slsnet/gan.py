"""The alternating pix2pix update of SLSNet (section 3.4, eqs. 7 and 11), on TensorFlow and JAX.

Per batch of ``B`` image/mask pairs:

1. D is updated once on a half batch of real pairs ``(x, y)`` labelled 1 and a half batch of
   generated pairs ``(x, G(x, z))`` labelled 0; the two halves form one weight update (eq. 11).
2. G is updated with D fixed on the whole batch:
   ``w_adv * -log D(x, G(x, z)) + lambda * L1(y, G(x, z)) + alpha * Jaccard(y, G(x, z))`` (eq. 7).

Without "adversarial" in ``cfg.losses`` (the generator trained on L1 + Jaccard alone, a variant) D
takes no part: step 1 is skipped and step 2 does not run D, so the step costs only G's update and
D's weights stay as initialised.

As in the authors' PyTorch pix2pix schema, D runs in training mode during the G update (its batch
statistics are used) but its weights are not changed by it. The noise ``z`` is the decoder's dropout.

Several devices (:mod:`common.training.scale`): on JAX the step is one global program over the
sharded batch. On TensorFlow each replica runs both updates on its share; the batch is first
reordered so that replica r's first half comes from the global first half (real pairs) and its
second half from the global second half (generated pairs), so D sees the same real and generated
sets as on one device.
"""
from __future__ import annotations

import keras

import numpy as np

from common import losses
from common.training import scale as scale_lib
from common.training.steps import JaxState, Step, backend, loss_scale


def _generator_loss(cfg, y, fake, d_fake=None):
    """Eq. 7 with the terms in ``cfg.losses``; ``d_fake`` (D's output on the generated pairs) is
    needed only with the adversarial term."""
    terms = set(cfg.losses)
    total, logs = 0.0, {}
    if "adversarial" in terms:
        adv = losses.generator_adversarial_loss(d_fake)
        total = cfg.adversarial_weight * adv
        logs["g_adv"] = adv
    if "l1" in terms and cfg.l1_weight:
        l1 = losses.l1_loss(y, fake)
        total = total + cfg.l1_weight * l1
        logs["g_l1"] = l1
    if "jaccard" in terms and cfg.jaccard_weight:
        jac = losses.soft_jaccard_loss(y, fake)
        total = total + cfg.jaccard_weight * jac
        logs["g_jaccard"] = jac
    logs["g_loss"] = total
    return total, logs


class Pix2PixStep(Step):
    """One D update then one G update per batch (the batch is split in halves for D).

    Args:
        generator / discriminator: the two Keras models; ``discriminator([image, mask])``.
        g_optimizer / d_optimizer: their Adam optimizers (lr 2e-4, beta1 0.5, beta2 0.999).
        cfg: an object with ``losses`` (the eq. 7 terms in use: "adversarial" always, "l1",
            "jaccard"; Table 8), ``adversarial_weight``, ``l1_weight`` (lambda) and
            ``jaccard_weight`` (alpha).
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, cfg):
        scale = scale_lib.current()
        scale_lib.prepare_model(generator)
        scale_lib.prepare_model(discriminator)
        g_optimizer, d_optimizer = scale_lib.wrap_optimizer(g_optimizer), scale_lib.wrap_optimizer(d_optimizer)
        self.g, self.d, self.g_opt, self.d_opt, self.cfg = (generator, discriminator, g_optimizer,
                                                           d_optimizer, cfg)
        self.adversarial = "adversarial" in cfg.losses
        with scale.scope():
            if not g_optimizer.built:
                g_optimizer.build(generator.trainable_variables)
            if not d_optimizer.built:
                d_optimizer.build(discriminator.trainable_variables)
        name = backend()
        if name == "tensorflow":
            self._fn = self._make_tf()
        elif name == "jax":
            self._fn = self._make_jax()
        else:
            raise RuntimeError(f"SLSNet training supports the tensorflow and jax backends, not {name!r}")

    # -- TensorFlow -------------------------------------------------------------------------------
    def _make_tf(self):
        import tensorflow as tf

        g, d, g_opt, d_opt, cfg = self.g, self.d, self.g_opt, self.d_opt, self.cfg
        scale = scale_lib.current()
        replicas = scale.replicas
        f32 = lambda t: tf.cast(t, "float32")  # noqa: E731 - mixed precision: losses in float32

        def generator_only(x, y):
            with tf.GradientTape() as tape:
                fake = f32(g(x, training=True))
                g_loss, logs = _generator_loss(cfg, y, fake)
                scaled = g_opt.scale_loss(g_loss / replicas)
            grads = tape.gradient(scaled, g.trainable_variables)
            g_opt.apply_gradients(zip(grads, g.trainable_variables))
            return logs

        def update(x, y):
            half = tf.shape(x)[0] // 2
            x_real, y_real, x_fake = x[:half], y[:half], x[half:]
            with tf.GradientTape() as tape:
                fake = tf.stop_gradient(g(x_fake, training=True))
                d_real = f32(d([x_real, y_real], training=True))
                d_fake = f32(d([x_fake, fake], training=True))
                d_loss = losses.discriminator_loss(d_real, d_fake)
                scaled = d_opt.scale_loss(d_loss / replicas)
            grads = tape.gradient(scaled, d.trainable_variables)
            d_opt.apply_gradients(zip(grads, d.trainable_variables))
            with tf.GradientTape() as tape:
                fake = f32(g(x, training=True))
                d_out = f32(d([x, fake], training=True))
                g_loss, logs = _generator_loss(cfg, y, fake, d_out)
                scaled = g_opt.scale_loss(g_loss / replicas)
            grads = tape.gradient(scaled, g.trainable_variables)
            g_opt.apply_gradients(zip(grads, g.trainable_variables))
            return {"d_loss": d_loss, **logs}

        step = tf.function(update if self.adversarial else generator_only, jit_compile=scale.jit,
                           reduce_retracing=True)
        if replicas <= 1:
            return step
        strategy = scale._strategy

        @tf.function(reduce_retracing=True)
        def distributed(x, y):
            logs = strategy.run(step, args=(x, y))
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

        def call(x, y):
            order = halves_per_replica(len(x), replicas)
            return distributed(*scale.distribute(np.asarray(x)[order], np.asarray(y)[order]))

        return call

    # -- JAX --------------------------------------------------------------------------------------
    def _make_jax(self):
        import jax

        g, d, g_opt, d_opt, cfg = self.g, self.d, self.g_opt, self.d_opt, self.cfg
        self.state = JaxState([g.trainable_variables, g.non_trainable_variables, g_opt.variables,
                               d.trainable_variables, d.non_trainable_variables, d_opt.variables])

        def d_loss_fn(d_tv, d_ntv, g_tv, g_ntv, x, y, factor):
            half = x.shape[0] // 2
            x_real, y_real, x_fake = x[:half], y[:half], x[half:]
            fake, g_ntv = g.stateless_call(g_tv, g_ntv, x_fake, training=True)
            fake = jax.lax.stop_gradient(fake)
            d_real, d_ntv = d.stateless_call(d_tv, d_ntv, [x_real, y_real], training=True)
            d_fake, d_ntv = d.stateless_call(d_tv, d_ntv, [x_fake, fake], training=True)
            d_loss = losses.discriminator_loss(d_real.astype("float32"), d_fake.astype("float32"))
            return (d_loss * factor if factor is not None else d_loss), (d_loss, d_ntv, g_ntv)

        adversarial = self.adversarial

        def g_loss_fn(g_tv, g_ntv, d_tv, d_ntv, x, y, factor):
            fake, g_ntv = g.stateless_call(g_tv, g_ntv, x, training=True)
            d_out = None
            if adversarial:
                d_out, d_ntv = d.stateless_call(d_tv, d_ntv, [x, fake], training=True)
                d_out = d_out.astype("float32")
            total, logs = _generator_loss(cfg, y, fake.astype("float32"), d_out)
            return (total * factor if factor is not None else total), (g_ntv, d_ntv, logs)

        d_grad = jax.value_and_grad(d_loss_fn, has_aux=True)
        g_grad = jax.value_and_grad(g_loss_fn, has_aux=True)

        @jax.jit
        def step(values, x, y):
            g_tv, g_ntv, g_ov, d_tv, d_ntv, d_ov = values
            d_logs = {}
            if adversarial:
                (_, (d_loss, d_ntv, g_ntv)), grads = d_grad(d_tv, d_ntv, g_tv, g_ntv, x, y,
                                                            loss_scale(d_opt, d_ov))
                d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)
                d_logs = {"d_loss": d_loss}
            (_, (g_ntv, d_ntv, logs)), grads = g_grad(g_tv, g_ntv, d_tv, d_ntv, x, y, loss_scale(g_opt, g_ov))
            g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
            return {**d_logs, **logs}, [g_tv, g_ntv, g_ov, d_tv, d_ntv, d_ov]

        def call(x, y):
            logs, self.state.values = step(self.state.values, x, y)
            return logs

        return call


def halves_per_replica(n: int, replicas: int) -> np.ndarray:
    """Batch order that gives replica r (a contiguous share of n / replicas) the r-th share of the
    global first half followed by the r-th share of the global second half."""
    half = n // 2
    first, second = np.array_split(np.arange(half), replicas), np.array_split(np.arange(half, n), replicas)
    return np.concatenate([np.concatenate([a, b]) for a, b in zip(first, second)])


def make_optimizers(cfg):
    """Adam with lr 2e-4, beta1 0.5, beta2 0.999 for G and for D (section 4.3)."""
    kw = dict(learning_rate=cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
    return keras.optimizers.Adam(**kw), keras.optimizers.Adam(**kw)
