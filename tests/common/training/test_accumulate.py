"""``--accumulate N``: the row's batch as N micro-batches whose averaged gradients make one update."""
from __future__ import annotations

import json
import shlex

import keras
import numpy as np
import pytest

from common.training import scale
from common.training.commands import train_main
from common.training.steps import SupervisedStep
from reproductions.asnet.paper import PAPER as ASNET
from reproductions.slsnet.paper import PAPER as SLSNET


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(4, activation="tanh")(inputs)))


def _mse(y, p):
    return keras.ops.mean(keras.ops.square(y - p))


@pytest.fixture
def reset_scale():
    yield
    scale.reset()


def test_two_micro_batches_make_the_update_of_the_whole_batch(reset_scale):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    whole = _model()
    scale.configure(1, "float32", batch_size=8)
    one = SupervisedStep(whole, _mse, keras.optimizers.SGD(0.5))
    one(x, y)
    one.sync()                              # JAX: the values back into the Keras variables

    parts = _model()
    scale.reset()
    scale.configure(1, "float32", batch_size=8, accumulate=2)
    step = SupervisedStep(parts, _mse, keras.optimizers.SGD(0.5))
    start = [w.copy() for w in parts.get_weights()]
    step(x[:4], y[:4])
    step.sync()
    assert all(np.array_equal(a, b) for a, b in zip(start, parts.get_weights())), "updated after one micro-batch"
    step(x[4:], y[4:])
    step.sync()
    for a, b in zip(whole.get_weights(), parts.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(start[0], parts.get_weights()[0])


def test_a_batch_that_does_not_split_into_the_micro_batches_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        train_main(SLSNET, ["--synthetic-size", "8", "--image-size", "32", "--batch-size", "4", "--accumulate", "3",
                            "--runs-root", str(tmp_path), "--quiet"])
    assert exc.value.code == 2
    assert "--accumulate 3" in capsys.readouterr().err
    assert not any(tmp_path.rglob("config.json"))


def test_the_run_records_accumulation_refuses_another_on_resume_and_the_tables_say_so(tmp_path, capsys):
    from common.results import run_options

    argv = ["--row", "U-Net", "--set", "unet_filters=4,8,16", "--image-size", "32", "--synthetic-size", "12",
            "--split", "holdout:0.75,0.25",
            "--batch-size", "4", "--epochs", "1", "--accumulate", "2", "--runs-root", str(tmp_path), "--quiet"]
    run = train_main(ASNET, argv)[0]
    record = json.loads((run / "config.json").read_text())
    assert record["accumulate"] == 2 and record["config"]["batch_size"] == 4
    # the record names this command's own arguments, not those of the program that called it
    assert record["command"] == "python -m reproductions.asnet.train " + shlex.join(argv)
    assert record["scale"]["accumulate"] == 2
    assert "as 2 accumulated micro-batches" in run_options({"config": record})
    with pytest.raises(SystemExit):
        train_main(ASNET, ["--resume", "--run-dir", str(run), "--accumulate", "4", "--quiet"])
    assert "accumulate=2" in capsys.readouterr().err
