"""Same seed, same numbers: what the runner sets so that two runs of one command are bit-identical.

On TensorFlow (CPU) these are needed; the first two are set before TensorFlow's runtime starts
(before its first op or device query), where they are sure to take effect:

- ``enable_op_determinism``: deterministic kernels.
- Grappler's arithmetic optimizer off: it rewrites sums of gradients (``AddN`` trees) in an order that
  changes from process to process, so a model with many branches (SLSNet's PAM/CAM and multiscale
  block) got gradients differing by up to 1e-3 between two runs, which its GAN training amplified
  (val Jaccard 0.26, 0.15, 0.28 from one command). Turning the pass off cost no measurable step time.
- ``keras.utils.set_random_seed`` for Python, NumPy and the backend's seed generators (dropout).
- One inter-op thread (``TF_NUM_INTEROP_THREADS=1``, set in ``common/__init__.py`` before TensorFlow
  is imported): with independent ops running concurrently, AER-Net's EfficientNet differed run to run
  in the sixth digit of its first epoch's loss. Each op still uses every core.

JAX's compiled steps are deterministic on CPU with the seed alone; on a GPU, XLA needs
``--xla_gpu_deterministic_ops=true`` (scatter-adds, max-pool gradients and autotuned kernels are
otherwise free to differ), which :func:`configure_xla` adds to ``XLA_FLAGS`` before JAX starts.

``--fast`` chooses speed instead: none of the above but the seeds (TensorFlow's kernels and graph
rewrites are then TensorFlow's own choice; the one inter-op thread stays). The record says which.
"""
from __future__ import annotations

import os

_configured = False
#: XLA's GPU flag for exact reruns (harmless on CPU, where XLA is deterministic anyway)
XLA_DETERMINISTIC = "--xla_gpu_deterministic_ops=true"


def configure_tensorflow(exact: bool = True) -> None:
    """Deterministic kernels and graph rewrites (``exact``); call before TensorFlow runs anything."""
    global _configured
    if _configured:
        return
    _configured = True
    if not exact:
        return
    import tensorflow as tf

    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - older TF: best effort
        pass
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})


def configure_xla(exact: bool = True) -> None:
    """JAX: XLA's GPU determinism flag in ``XLA_FLAGS`` for exact reruns; call before JAX starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if exact and XLA_DETERMINISTIC not in flags:
        os.environ["XLA_FLAGS"] = (flags + " " + XLA_DETERMINISTIC).strip()


def seed_everything(seed: int, exact: bool = True) -> None:
    """Seed Python, NumPy and the backend (and make TensorFlow deterministic, if not done yet)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        configure_tensorflow(exact)
    keras.utils.set_random_seed(seed)
