"""One model harness every model test can call (in the manner of keras-hub's ``run_model_saving_test``).

``check_model(model, x, tmp_path)``: the output has the expected shape and is finite; the model
rebuilt from ``get_config`` (weights copied) gives the same outputs; a ``.keras`` file saved and
loaded gives the same outputs, without custom objects (every custom layer is registered).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def check_model(model, x: np.ndarray, tmp_path: Path, expected_shape: tuple | None = None,
                atol: float = 1e-5) -> np.ndarray:
    import keras

    y = np.asarray(model.predict_on_batch(x))
    if expected_shape is not None:
        assert y.shape == tuple(expected_shape), f"{model.name}: output {y.shape}, expected {expected_shape}"
    assert np.all(np.isfinite(y)), f"{model.name}: non-finite outputs"
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(clone.predict_on_batch(x)), y, atol=atol,
                               err_msg=f"{model.name}: get_config round trip changed the outputs")
    path = Path(tmp_path) / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), y, atol=atol,
                               err_msg=f"{model.name}: .keras save/load changed the outputs")
    return y
