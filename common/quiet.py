"""Keep the backend's start-up noise out of the commands' output.

Importing TensorFlow prints lines of its C++ runtime straight to file descriptor 2, before its own
log level applies ("All log messages before absl::InitializeLog() ...", the oneDNN notice, "Could
not find cuda drivers", and on a machine without a GPU ``failed call to cuInit``), and its graph
optimizer logs recoverable errors during the first step. None of it is about the user's run.
:func:`import_backend` imports the backend with descriptor 2 sent to a temporary file (replayed if
the import fails) and raises TensorFlow's C++ log threshold; ``verbose=True`` (the commands'
``--verbose``) leaves everything as it is.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings


@contextlib.contextmanager
def _stderr_to_file():
    """Send file descriptor 2 to a temporary file; on an exception, copy what it caught back."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real descriptor (e.g. some notebooks)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                tmp.seek(0)
                sys.stderr.write(tmp.read().decode(errors="replace"))


def import_backend(verbose: bool = False, exact: bool = True):
    """Import Keras and its backend quietly (unless ``verbose``); returns the ``keras`` module.
    ``exact``: TensorFlow's deterministic kernels (see :mod:`common.training.determinism`)."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        import keras

        if keras.backend.backend() == "tensorflow":
            from common.training.determinism import configure_tensorflow

            configure_tensorflow(exact)
        return keras
    # 3: errors too. TensorFlow raises a Python exception for every error that stops a run; what
    # its C++ side logs at error level on CPU (cuInit, the remapper giving up on a fusion) is not.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2":       # the package-wide default set in common/
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_to_file(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            from common.training.determinism import configure_tensorflow

            tf.get_logger().setLevel("ERROR")
            configure_tensorflow(exact)               # before the runtime starts, or it is ignored
            tf.config.list_logical_devices()          # the device scan is where cuInit is logged
    return keras
