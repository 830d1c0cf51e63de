"""The shared epoch loop: checkpoints, resume equivalence, NaN stops, history, on TF (and JAX)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras

from common.training.loop import TrainingDiverged, train_loop
from common.training.records import read_csv
from common.training.steps import SupervisedStep
from common.training.tasks import Monitor

JACCARD = (Monitor("jaccard", "val_jaccard", "max"),)


class ToyBatches:
    """Order of epoch e is a pure function of (seed, e), like common.data's batch iterators."""

    def __init__(self, n=32, batch=8, seed=0):
        rng = np.random.default_rng(123)
        self.x = rng.normal(size=(n, 8, 8, 3)).astype("float32")
        self.y = (self.x.mean(-1, keepdims=True) > 0).astype("float32")
        self.batch, self.seed, self.order = batch, seed, np.arange(n)

    def set_epoch(self, epoch):
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __len__(self):
        return len(self.x) // self.batch

    def __getitem__(self, i):
        idx = self.order[i * self.batch:(i + 1) * self.batch]
        return self.x[idx], self.y[idx]


def toy_parts(lr=0.05):
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Dropout(0.2)(h)
    out = keras.layers.Conv2D(1, 1, activation="sigmoid")(h)
    model = keras.Model(inp, out)
    opt = keras.optimizers.Adam(lr)
    loss = lambda y, p: keras.ops.mean(keras.losses.binary_crossentropy(y, p))  # noqa: E731
    return model, opt, SupervisedStep(model, loss, opt)


def val_fn(model, batches):
    def validate():
        p = np.asarray(model.predict_on_batch(batches.x))
        return {"val_jaccard": float(((p > 0.5) == (batches.y > 0.5)).mean())}
    return validate


def run(tmp, epochs, resume=False, parts=None):
    model, opt, step = parts or toy_parts()
    b = ToyBatches()
    hist = train_loop(tmp, step=step, train_batches=b, epochs=epochs, validate=val_fn(model, b),
                      models={"model": model}, optimizers={"opt": opt}, best_model=model, monitors=JACCARD,
                      resume=resume, progress=False)
    return model, hist


def test_history_checkpoints_and_loss_goes_down(tmp_path):
    model, hist = run(tmp_path, 4)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert (tmp_path / "checkpoints" / "last.npz").exists()
    assert (tmp_path / "checkpoints" / "best.weights.h5").exists()
    rows = read_csv(tmp_path / "history.csv")
    assert len(rows) == 4 and "val_jaccard" in rows[0]
    assert not list(tmp_path.rglob("*.tmp")), "no temporary files left behind"


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    full, _ = run(tmp_path / "full", 4)
    # "killed" after two epochs: a fresh process would rebuild the model and optimizer from scratch
    run(tmp_path / "cut", 2)
    resumed, hist = run(tmp_path / "cut", 4, resume=True)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    for a, b in zip(full.weights, resumed.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_nan_loss_stops_with_epoch_and_batch(tmp_path):
    model, opt, step = toy_parts()
    calls = {"n": 0}

    def bad_step(x, y):
        calls["n"] += 1
        return {"loss": float("nan") if calls["n"] == 3 else 1.0}
    bad_step.sync = bad_step.refresh = lambda: None
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 1, batch 3"):
        train_loop(tmp_path, step=bad_step, train_batches=ToyBatches(), epochs=2, validate=None,
                   models={"model": model}, optimizers={"opt": opt}, best_model=model, monitors=JACCARD, progress=False)


def test_supervised_step_on_jax_backend(tmp_path):
    pytest.importorskip("jax")
    code = (
        "import sys; sys.path.insert(0, 'tests/common/training'); sys.path.insert(0, '.');"
        "import test_loop as t; import keras; assert keras.backend.backend() == 'jax';"
        "from pathlib import Path; m, h = t.run(Path(sys.argv[1]), 3);"
        "assert h[-1]['loss'] < h[0]['loss'], h; print('ok')"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    repo = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def test_without_validation_every_checkpoint_is_the_newest_and_named_by_its_monitor(tmp_path):
    """No validation part: each monitor's checkpoint holds the newest weights, and state.json names
    the checkpoints as metrics.json and ``evaluate --checkpoint`` do, by monitor."""
    model, opt, step = toy_parts()
    monitors = (Monitor("loss", "val_loss", "min"), Monitor("accuracy", "val_accuracy", "max"))
    hist = train_loop(tmp_path, step=step, train_batches=ToyBatches(), epochs=2, validate=None,
                      models={"model": model}, optimizers={"opt": opt}, best_model=model, monitors=monitors,
                      progress=False)
    state = json.loads((tmp_path / "state.json").read_text())
    assert sorted(state["checkpoints"]) == ["accuracy", "loss"] and state["monitor"] == "val_loss"
    assert state["checkpoints"]["accuracy"]["file"] == "best_accuracy.weights.h5"
    assert all(h["best"] == 1 and h["best_accuracy"] == 1 for h in hist)
    newest = [np.asarray(w) for w in model.weights]
    for name in ("best.weights.h5", "best_accuracy.weights.h5"):
        other, _, _ = toy_parts()
        other.load_weights(str(tmp_path / "checkpoints" / name))
        for a, b in zip(newest, other.weights):
            np.testing.assert_array_equal(a, np.asarray(b))
    with pytest.raises(ValueError, match="at least one monitor"):
        train_loop(tmp_path / "x", step=step, train_batches=ToyBatches(), epochs=1, validate=None,
                   models={"model": model}, optimizers={"opt": opt}, best_model=model, monitors=(),
                   progress=False)


def test_finish_stops_at_the_last_finished_epoch(tmp_path):
    run(tmp_path, 2)
    model, opt, step = toy_parts()
    hist = train_loop(tmp_path, step=step, train_batches=ToyBatches(), epochs=5, validate=None,
                      models={"model": model}, optimizers={"opt": opt}, best_model=model, monitors=JACCARD,
                      resume=True, finish=True, progress=False)
    assert [h["epoch"] for h in hist] == [1, 2]


def test_finish_without_a_finished_epoch_is_an_error(tmp_path):
    model, opt, step = toy_parts()
    from common.config import ConfigError

    with pytest.raises(ConfigError, match="no finished epoch"):
        train_loop(tmp_path, step=step, train_batches=ToyBatches(), epochs=5, validate=None,
                   models={"model": model}, optimizers={"opt": opt}, best_model=model, monitors=JACCARD,
                   resume=True, finish=True, progress=False)


_REGULARISED = """
import json, sys
import numpy as np, keras
from common.training.steps import SupervisedStep
keras.utils.set_random_seed(0)
inp = keras.Input((3,))
out = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.5), bias_initializer="zeros",
                         kernel_regularizer=keras.regularizers.L2(0.1))(inp)
model = keras.Model(inp, out)
step = SupervisedStep(model, lambda y, p: keras.ops.mean((y - p) ** 2), keras.optimizers.SGD(0.0))
x = np.ones((2, 3), "float32"); y = np.zeros((2, 1), "float32")
print(json.dumps({"backend": keras.backend.backend(), "loss": float(step(x, y)["loss"])}))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_supervised_step_adds_regularisation_losses_on_every_backend(backend):
    """mse 1.5^2 = 2.25 plus L2 0.1 * 3 * 0.5^2 = 0.075: the same 2.325 on TensorFlow and on JAX."""
    if backend == "jax":
        pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
    repo = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", _REGULARISED], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["backend"] == backend
    assert got["loss"] == pytest.approx(2.25 + 0.075, rel=1e-6)
