"""Which dtype policy ``--precision`` means on the device at hand."""
from __future__ import annotations

#: what ``--precision`` accepts
PRECISIONS = ("float32", "mixed", "mixed_float16", "mixed_bfloat16")


class PrecisionError(ValueError):
    """A precision this device cannot honour (the scale layer reports it as a ``ScaleError``)."""


def resolve_precision(precision: str, device_kind: str, capability: tuple[int, int] | None = None) -> str:
    """The Keras dtype policy for ``--precision``. ``mixed`` is float16 on a GPU with tensor cores
    (compute capability 7.0 or more), bfloat16 on a CPU; on an older GPU (the papers' GTX 1080 Ti is
    6.1) float16 is no faster, so ``mixed`` is refused there rather than run slower."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "mixed":
        if device_kind == "gpu" and capability is not None and capability < (7, 0):
            raise PrecisionError(f"--precision mixed: this GPU's compute capability is {capability[0]}.{capability[1]}, "
                             "below 7.0: it has no float16 tensor cores, so mixed precision would not be faster. "
                             "Train in float32 (leave --precision out), or force --precision mixed_float16")
        return "mixed_float16" if device_kind == "gpu" else "mixed_bfloat16"
    return precision


def gpu_capability(backend: str) -> tuple[int, int] | None:
    """The first GPU's compute capability (``(7, 5)`` for a T4), or None where it cannot be read."""
    try:
        if backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            text = getattr(gpus[0], "compute_capability", None) if gpus else None
        else:
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            found = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") if gpus else None
            text = ".".join(map(str, found)) if found else None
        if not text:
            return None
        major, minor = str(text).split(".")[:2]
        return int(major), int(minor)
    except Exception:  # noqa: BLE001 - no GPU, or a backend that does not say
        return None
