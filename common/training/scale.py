"""Where and how a run computes: devices (data parallel), precision and XLA (``--devices``,
``--precision``, ``--jit``).

One run trains data-parallel over N local devices with what the backends provide, no hand-written
all-reduce:

- **JAX**: ``keras.distribution.DataParallel`` over a ``DeviceMesh`` of N devices. The variables
  are replicated, each batch is sharded along its first axis (:meth:`Scale.place`) and the jitted
  step runs as one global program (XLA's SPMD partitioner inserts the gradient all-reduce).
  BatchNorm statistics, losses and metrics are those of the global batch, so a run on N devices
  equals a run on one device with the same global batch, up to float reordering.
- **TensorFlow**: ``tf.distribute.MirroredStrategy`` over N devices. Models and optimizers are
  built in its scope, every step runs through ``strategy.run`` on each replica's share of the
  global batch, each replica's loss is divided by N (the optimizer sums the replicas' gradients)
  and BatchNorm layers are switched to ``synchronized`` (global batch statistics). A loss that is
  a mean over images then equals the single-device one; one pooled over the whole batch
  (e.g. a Dice summed over all pixels of the batch) is averaged over the replicas instead.

``configure`` is called by the runner before anything is built; ``current()`` is read by the
training steps (:mod:`common.training.steps`, SLSNet's pix2pix step) and by prediction.

Precision: ``mixed`` is ``mixed_float16`` on GPUs and ``mixed_bfloat16`` on CPUs and TPUs
(``--precision mixed_float16`` / ``mixed_bfloat16`` choose one). The layers producing a model's
outputs (the sigmoid/softmax heads) are switched back to float32 (:func:`float32_heads`), the
steps cast predictions to float32 before the loss, and float16 wraps the optimizer in Keras's
dynamic ``LossScaleOptimizer``.

Multi-host (JAX): start every process with ``--coordinator HOST:PORT --num-processes P
--process-id I`` (or the ``SLR_COORDINATOR``, ``SLR_NUM_PROCESSES``, ``SLR_PROCESS_ID``
variables); :func:`configure` calls ``keras.distribution.initialize`` (``jax.distributed``)
first, and the mesh spans the devices of all processes. Every process computes the same global
batch (the batches are a pure function of seed and epoch) and contributes its local shards.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import numpy as np

from common.training.precision import PRECISIONS, PrecisionError, gpu_capability, resolve_precision



class ScaleError(ValueError):
    """A --devices / --precision / --jit request this machine or backend cannot honour."""


@dataclass
class Scale:
    """The resolved settings of one process's runs (see module docstring)."""

    devices: int = 1
    strategy: str = "none"              # "none" | "jax DataParallel" | "tf MirroredStrategy"
    device_names: tuple = ()
    precision: str = "float32"          # the Keras dtype policy: float32 | mixed_float16 | mixed_bfloat16
    jit: bool = False
    processes: int = 1
    process_id: int = 0
    backend: str = ""
    accumulate: int = 1                 # gradients of N micro-batches averaged into one update
    _strategy: object = field(default=None, repr=False)     # tf.distribute strategy
    _distribution: object = field(default=None, repr=False)  # keras.distribution.DataParallel
    _data_sharding: object = field(default=None, repr=False)

    # -- what the run record says ------------------------------------------------------------------
    def record(self) -> dict:
        """The run record's ``scale`` entry: devices, strategy, precision, XLA."""
        out = {"devices": self.devices, "strategy": self.strategy, "precision": self.precision,
               "jit": bool(self.jit or self.backend == "jax"), "jit_requested": self.jit}
        if self.jit and self.backend == "tensorflow":
            out["op_determinism"] = False      # XLA needs it off (see configure)
        if self.device_names:
            out["device_names"] = list(self.device_names)
        if self.processes > 1:
            out["processes"] = self.processes
            out["process_id"] = self.process_id
        if self.accumulate > 1:
            out["accumulate"] = self.accumulate
        return out

    @property
    def replicas(self) -> int:
        return self.devices if self.strategy == "tf MirroredStrategy" else 1

    @property
    def mixed(self) -> bool:
        return self.precision != "float32"

    # -- building ------------------------------------------------------------------------------------
    def scope(self):
        """Where models and optimizers are built: the TensorFlow strategy's scope, else nothing."""
        return self._strategy.scope() if self._strategy is not None else contextlib.nullcontext()

    # -- data ------------------------------------------------------------------------------------------
    def place(self, *arrays):
        """JAX, several devices: each array sharded along its first axis over the mesh (replicated
        when the batch does not divide evenly). Otherwise the arrays unchanged."""
        if self._data_sharding is None:
            return arrays
        import jax

        out = []
        for a in arrays:
            a = np.asarray(a)
            if a.shape[0] % self.devices:
                sharding = jax.sharding.NamedSharding(self._data_sharding.mesh, jax.sharding.PartitionSpec())
            else:
                sharding = self._data_sharding
            # every process holds the whole global batch; each contributes the shards it owns
            out.append(jax.make_array_from_callback(a.shape, sharding, lambda index, a=a: a[index]))
        return tuple(out)

    def distribute(self, *arrays):
        """TensorFlow, several devices: per-replica values, replica r taking the r-th contiguous
        share of the first axis (``np.array_split``)."""
        strategy = self._strategy
        n = self.devices

        def share(a):
            a = np.asarray(a)
            bounds = np.linspace(0, a.shape[0], n + 1).astype(int)
            return lambda ctx: a[bounds[ctx.replica_id_in_sync_group]:bounds[ctx.replica_id_in_sync_group + 1]]

        return tuple(strategy.experimental_distribute_values_from_function(share(a)) for a in arrays)


_DEFAULT = Scale()
_current: Scale = _DEFAULT


def current() -> Scale:
    """The settings of the runs of this process (single device, float32, no XLA unless configured)."""
    return _current


def _multi_host_from_env(coordinator, num_processes, process_id):
    coordinator = coordinator or os.environ.get("SLR_COORDINATOR")
    if num_processes is None and os.environ.get("SLR_NUM_PROCESSES"):
        num_processes = int(os.environ["SLR_NUM_PROCESSES"])
    if process_id is None and os.environ.get("SLR_PROCESS_ID"):
        process_id = int(os.environ["SLR_PROCESS_ID"])
    return coordinator, num_processes, process_id


def parse_devices(value) -> int | str:
    """``--devices``: a positive integer or ``all``."""
    if value is None:
        return 1
    if isinstance(value, int):
        n = value
    elif str(value).strip().lower() == "all":
        return "all"
    else:
        try:
            n = int(value)
        except ValueError:
            raise ScaleError(f"--devices {value!r}: give a number of devices (1, 2, ...) or 'all'") from None
    if n < 1:
        raise ScaleError(f"--devices {n}: give at least 1 device, or 'all'")
    return n


def configure(devices=1, precision: str = "float32", jit: bool = False, batch_size: int | None = None,
              coordinator: str | None = None, num_processes: int | None = None,
              process_id: int | None = None, accumulate: int = 1) -> Scale:
    """Set up the distribution, dtype policy and XLA flag for the runs of this process.

    Call before any model is built. ``batch_size`` (the global batch, the row's) must divide by
    ``accumulate`` (the number of micro-batches whose gradients make one update), and the
    micro-batch by the number of devices. Raises :class:`ScaleError` naming the fix when a request
    cannot be honoured.
    """
    global _current
    import keras

    backend = keras.backend.backend()
    coordinator, num_processes, process_id = _multi_host_from_env(coordinator, num_processes, process_id)
    processes = 1
    if coordinator or (num_processes or 1) > 1:
        if backend != "jax":
            raise ScaleError("several processes (--coordinator/--num-processes) need the JAX backend: "
                             "set KERAS_BACKEND=jax")
        if num_processes is None or process_id is None:
            raise ScaleError("a multi-process run needs --coordinator HOST:PORT, --num-processes P and "
                             "--process-id I on every process")
        _initialize_multi_host(coordinator, num_processes, process_id)
        processes = num_processes
    requested = parse_devices(devices)
    available = _devices(backend)
    kind = available[0][0] if available else "cpu"
    n = len(available) if requested == "all" else int(requested)
    if n > len(available):
        names = ", ".join(name for _, name in available) or "none"
        raise ScaleError(f"--devices {n}: this {backend} process sees {len(available)} device(s) ({names}). "
                         + ("For several CPU devices set XLA_FLAGS=--xla_force_host_platform_device_count=N "
                            "before starting (tests do)." if backend == "jax" and kind == "cpu" else
                            "Choose at most that many, or check CUDA_VISIBLE_DEVICES."))
    if accumulate < 1:
        raise ScaleError(f"--accumulate {accumulate}: give the number of micro-batches per update, 1 or more")
    if batch_size is not None and accumulate > 1:
        if batch_size % accumulate or batch_size // accumulate < 1:
            raise ScaleError(f"--accumulate {accumulate}: the batch of {batch_size} must split into {accumulate} "
                             f"equal micro-batches; choose a divisor of {batch_size}")
        batch_size //= accumulate
    if batch_size is not None and n > 1 and batch_size % n:
        low = batch_size - batch_size % n
        raise ScaleError(f"batch size {batch_size} does not split evenly over {n} devices: choose "
                         f"--batch-size {low or n} or {low + n} (the batch is the global batch)")
    try:
        policy = resolve_precision(precision, kind, gpu_capability(backend) if kind == "gpu" else None)
    except PrecisionError as exc:
        raise ScaleError(str(exc)) from None
    if jit and n > 1 and backend == "tensorflow" and policy != "float32":
        # refused before anything is changed: the combination crashes in Keras (keras-team/keras#21366)
        raise ScaleError("--jit with several devices and mixed precision crashes on TensorFlow "
                         "(keras-team/keras#21366): leave out one of --jit, --devices or --precision, "
                         "or use the JAX backend")
    if jit and backend == "tensorflow":
        # XLA has no deterministic kernel for some gradients (max pooling's): TensorFlow's op
        # determinism must be off for --jit, so reruns may differ in the last digits
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()
    keras.config.set_dtype_policy(policy)
    scale = Scale(devices=n, precision=policy, jit=bool(jit), processes=processes, backend=backend,
                  accumulate=int(accumulate),
                  process_id=int(process_id or 0) if processes > 1 else 0,
                  device_names=tuple(name for _, name in available[:n]))
    if n > 1 and backend == "jax":
        from keras import distribution

        devs = distribution.list_devices()[:n] if processes == 1 else distribution.list_devices()
        dist = distribution.DataParallel(devices=devs)
        distribution.set_distribution(dist)
        import jax

        mesh = dist.device_mesh.backend_mesh
        scale._distribution = dist
        scale._data_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(dist.batch_dim_name))
        scale.strategy = "jax DataParallel"
    elif n > 1 and backend == "tensorflow":
        import tensorflow as tf

        scale._strategy = tf.distribute.MirroredStrategy([name for _, name in available[:n]])
        scale.strategy = "tf MirroredStrategy"
    elif n > 1:
        raise ScaleError(f"--devices {n}: data-parallel training supports the jax and tensorflow backends, "
                         f"not {backend!r}")
    _current = scale
    return scale


def _initialize_multi_host(coordinator, num_processes, process_id) -> None:
    if getattr(_initialize_multi_host, "done", False):
        return
    import jax
    from keras import distribution

    try:    # CPU processes exchange gradients through gloo (GPUs use NCCL without being asked)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError):   # pragma: no cover - older JAX
        pass

    distribution.initialize(job_addresses=coordinator, num_processes=num_processes, process_id=process_id)
    _initialize_multi_host.done = True


def reset() -> None:
    """Back to one device, float32, no XLA (tests; a process that configured a run and goes on)."""
    global _current
    import keras

    if _current._distribution is not None:
        from keras import distribution

        distribution.set_distribution(None)
    keras.config.set_dtype_policy("float32")
    if _current.jit and _current.backend == "tensorflow":
        from tensorflow.python.framework import config as tf_config

        tf_config.enable_op_determinism()
    _current = _DEFAULT


def _devices(backend: str) -> list[tuple[str, str]]:
    """(kind, name) of the devices a run can use: the accelerators if any, else the CPUs."""
    if backend == "jax":
        import jax

        devs = jax.devices()
        return [(d.platform if d.platform != "cuda" else "gpu", str(d)) for d in devs]
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return [("gpu", d.name) for d in gpus]
        return [("cpu", d.name) for d in tf.config.list_logical_devices("CPU")]
    return [("cpu", "cpu")]


# -- models, optimizers, prediction ----------------------------------------------------------------

def float32_heads(model) -> None:
    """Under a mixed policy: the layers that produce ``model``'s outputs compute in float32 (the
    sigmoid/softmax heads), as Keras's mixed-precision guide asks. A no-op under float32."""
    import keras

    if current().precision == "float32" or not hasattr(model, "outputs"):
        return
    outputs = model.outputs if isinstance(model.outputs, (list, tuple)) else [model.outputs]
    for tensor in outputs:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            continue
        layer = history[0]
        layer.dtype_policy = keras.DTypePolicy("float32")


def synchronize_batchnorm(model) -> None:
    """TensorFlow, several replicas: every BatchNormalization uses the global batch statistics."""
    import keras

    if current().replicas <= 1:
        return
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def _all_layers(model):
    """Every layer of ``model``, nested ones included (BatchNorms inside custom attention blocks)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def prepare_model(model) -> None:
    """What the settings ask of a freshly built model: float32 heads, synchronised BatchNorm."""
    float32_heads(model)
    synchronize_batchnorm(model)


def wrap_optimizer(optimizer):
    """float16: Keras's dynamic loss scaling around ``optimizer`` (bfloat16 and float32 need none)."""
    import keras

    accumulate = current().accumulate
    if accumulate > 1:
        # Keras averages the gradients of N calls and updates every N-th (its accumulators are
        # built with the optimizer, so this comes first); schedules count the micro-steps, so a
        # paper's schedule built on the number of batches per epoch spans the run as before
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if inner.built and inner.gradient_accumulation_steps != accumulate:
            raise ScaleError("--accumulate: the optimizer was built before the step asked for accumulation")
        inner.gradient_accumulation_steps = accumulate
    if current().precision != "mixed_float16" or isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def predict_on_batch(model, x):
    """``model.predict_on_batch(x)``, also for a model built in a TensorFlow strategy's scope
    (whose ``predict_on_batch`` would run the whole batch on every replica)."""
    scale = current()
    if scale.replicas <= 1:
        return model.predict_on_batch(x)
    import tensorflow as tf

    fn = getattr(model, "_slr_predict_fn", None)
    if fn is None:
        fn = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
        model._slr_predict_fn = fn
    out = fn(tf.convert_to_tensor(x))
    return tf.nest.map_structure(lambda t: t.numpy(), out)


def describe(scale: Scale | None = None) -> str:
    scale = scale or current()
    parts = [f"{scale.devices} device(s)" + (f" ({scale.strategy})" if scale.strategy != "none" else "")]
    if scale.mixed:
        parts.append(scale.precision)
    if scale.jit:
        parts.append("XLA")
    return ", ".join(parts)


__all__ = ["Scale", "ScaleError", "PRECISIONS", "configure", "current", "reset", "parse_devices",
           "prepare_model", "float32_heads", "synchronize_batchnorm", "wrap_optimizer", "predict_on_batch",
           "describe"]
