"""The copy of a prepared batch to the one GPU a run trains on, made by the worker thread that
prepared it (:class:`~common.training.loop.Prefetcher`), so that the copy overlaps the running step
instead of preceding it on the main thread."""
from __future__ import annotations

_ACCELERATOR: dict[str, bool] = {}


def _backend_name(scale) -> str:
    if scale.backend:
        return scale.backend
    import keras

    return keras.backend.backend()


def on_accelerator(backend: str) -> bool:
    """Whether the backend's first device is an accelerator (cached per backend)."""
    if backend not in _ACCELERATOR:
        try:
            if backend == "jax":
                import jax

                _ACCELERATOR[backend] = jax.devices()[0].platform != "cpu"
            else:
                import tensorflow as tf

                _ACCELERATOR[backend] = bool(tf.config.list_logical_devices("GPU"))
        except Exception:  # noqa: BLE001 - no accelerator to copy to
            _ACCELERATOR[backend] = False
    return _ACCELERATOR[backend]


def to_device(batch, scale=None):
    """One accelerator (a GPU): the batch (a tuple of arrays) copied to it. On the CPU, or with
    several devices (``Scale.place`` and ``Scale.distribute`` split the batch there), the batch
    unchanged. The values are the same either way."""
    from common.training import scale as scale_lib

    scale = scale or scale_lib.current()
    backend = _backend_name(scale)
    if scale.devices != 1 or not on_accelerator(backend):
        return batch
    if backend == "jax":
        import jax

        return jax.tree_util.tree_map(jax.device_put, batch)
    import tensorflow as tf

    with tf.device("/GPU:0"):
        return tf.nest.map_structure(tf.identity, batch)
