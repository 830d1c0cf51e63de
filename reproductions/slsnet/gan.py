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

import functools

import keras

import numpy as np

from common import losses
from common.training import scale as scale_lib
from common.training.steps import JaxState, Step, backend, loss_scale


def _generator_terms(cfg, y, fake, d_fake=None):
    """The weighted terms of eq. 7 in ``cfg.losses``: name -> (weight, unweighted value).

    "l1" is reduced per image as ``cfg.l1_reduction`` says, "jaccard" as ``cfg.jaccard_reduction``
    says; "bce" (a pixel-wise binary cross-entropy between G's mask and the ground truth, one
    reading of Table 8's "BCE") is an option beside the adversarial term. ``d_fake`` (D's output
    on the generated pairs) is needed only with the adversarial term."""
    terms = set(cfg.losses)
    out = {}
    if "adversarial" in terms:
        out["adv"] = (cfg.adversarial_weight, losses.generator_adversarial_loss(d_fake))
    if "l1" in terms and cfg.l1_weight:
        out["l1"] = (cfg.l1_weight, losses.l1_loss(y, fake, reduction=cfg.l1_reduction))
    if "jaccard" in terms and cfg.jaccard_weight:
        out["jaccard"] = (cfg.jaccard_weight, losses.soft_jaccard_loss(y, fake, reduction=cfg.jaccard_reduction))
    if "bce" in terms and cfg.bce_weight:
        out["bce"] = (cfg.bce_weight, losses.bce(y, fake))
    return out


def _generator_loss(cfg, y, fake, d_fake=None):
    """Eq. 7 with the terms in ``cfg.losses``: the total and the logged values."""
    total, logs = 0.0, {}
    for name, (weight, value) in _generator_terms(cfg, y, fake, d_fake).items():
        total = weight * value if name == "adv" else total + weight * value
        logs[f"g_{name}"] = value
    logs["g_loss"] = total
    return total, logs


#: training batches per epoch on which :meth:`Pix2PixStep.diagnostics` measures the gradients
BALANCE_BATCHES = 2


def balance_logs(grads: dict, names) -> dict:
    """History columns from each weighted term's gradient on G's weights (flat float64 vectors):
    ``grad_<term>`` (its norm), ``grad_sup`` (the norm of the supervised terms' sum) and, with the
    adversarial term, ``grad_adv_over_sup`` (the ratio of the norms) and ``grad_cos_adv_sup`` (the
    cosine between the adversarial and the supervised gradient)."""
    logs = {f"grad_{name}": float(np.linalg.norm(grads[name])) for name in names}
    supervised = [grads[name] for name in names if name != "adv"]
    if supervised:
        sup = np.sum(supervised, axis=0)
        logs["grad_sup"] = float(np.linalg.norm(sup))
        if "adv" in grads:
            adv = grads["adv"]
            denom = np.linalg.norm(adv) * logs["grad_sup"]
            logs["grad_adv_over_sup"] = float(np.linalg.norm(adv) / max(logs["grad_sup"], 1e-30))
            logs["grad_cos_adv_sup"] = float(adv @ sup / denom) if denom > 0 else float("nan")
    return logs


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

    def __call__(self, x, y) -> dict:
        if self.adversarial and len(x) < 2:
            from common.config import ConfigError

            raise ConfigError(
                f"a batch of {len(x)} image: SLSNet's discriminator update takes half of each batch as real "
                "pairs and half as generated ones (Section 3.4), so it needs batches (or --accumulate "
                "micro-batches) of at least 2 images; give a larger --batch-size or fewer --accumulate parts")
        return super().__call__(x, y)

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

        @functools.partial(jax.jit, donate_argnums=0)     # the old state's buffers become the new one's
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


    # -- gradient balance --------------------------------------------------------------------------
    def diagnostics(self, batches) -> dict:
        """The gradient balance of eq. 7 on the first :data:`BALANCE_BATCHES` batches of
        ``batches`` (the epoch just trained, after ``sync``): each weighted term's gradient on G's
        weights, from the current weights and without changing any state (stateless calls: no
        BatchNorm statistic, dropout seed or weight moves), so a run's numbers are the same with or
        without it. Averaged over the batches; the history's ``grad_*`` columns.

        With one term only (the generator on one loss) there is nothing to balance: returns {}."""
        names = list(self._term_names())
        if len(names) < 2:
            return {}
        total: dict[str, list] = {}
        for i in range(min(BALANCE_BATCHES, len(batches))):
            x, y = batches[i]
            grads = self._term_grads(np.asarray(x), np.asarray(y), names)
            for key, value in balance_logs(grads, names).items():
                total.setdefault(key, []).append(value)
        return {key: float(np.mean(values)) for key, values in total.items()}

    def _term_names(self):
        """The names of eq. 7's terms this step's loss holds (those ``_generator_terms`` returns)."""
        probe = _generator_terms(self.cfg, np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32"),
                                 np.full((1, 1), 0.5, "float32") if self.adversarial else None)
        return probe.keys()

    def _term_grads(self, x, y, names) -> dict:
        """name -> the flat gradient (float64) of the weighted term on G's trainable weights."""
        g, d, cfg = self.g, self.d, self.cfg
        g_tv = [v.value for v in g.trainable_variables]
        g_ntv = [v.value for v in g.non_trainable_variables]
        d_tv = [v.value for v in d.trainable_variables]
        d_ntv = [v.value for v in d.non_trainable_variables]
        adversarial = self.adversarial

        def terms(tv):
            fake, _ = g.stateless_call(tv, g_ntv, x, training=True)
            fake = keras.ops.cast(fake, "float32")
            d_out = None
            if adversarial:
                d_out, _ = d.stateless_call(d_tv, d_ntv, [x, fake], training=True)
                d_out = keras.ops.cast(d_out, "float32")
            return {k: w * v for k, (w, v) in _generator_terms(cfg, y, fake, d_out).items()}

        flat = lambda gs: np.concatenate([np.asarray(t, "float64").ravel() for t in gs])  # noqa: E731
        if backend() == "jax":
            import jax

            return {n: flat(jax.grad(lambda tv, n=n: terms(tv)[n])(g_tv)) for n in names}
        import tensorflow as tf

        tv = [tf.convert_to_tensor(t) for t in g_tv]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(tv)
            values = terms(tv)
        out = {n: flat(tape.gradient(v, tv)) for n, v in values.items()}
        del tape
        return out


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
