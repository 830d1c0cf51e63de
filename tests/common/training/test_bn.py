"""BatchNorm recalibration: moving statistics become the mean of the training batches' statistics."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from common.training.bn import recalibrate_batchnorm


def _model():
    inp = keras.Input((4,))
    x = keras.layers.Dropout(0.5)(inp)
    out = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3)(x)
    return keras.Model(inp, out)


def test_moving_statistics_become_the_mean_of_the_batches():
    rng = np.random.default_rng(0)
    batches = [(rng.normal(3.0, 2.0, (16, 4)).astype("float32"), None) for _ in range(3)]
    model = _model()
    bn = model.layers[-1]
    assert recalibrate_batchnorm(model, batches, 2) == 2
    want_mean = np.mean([b[0].mean(0) for b in batches[:2]], 0)
    want_var = np.mean([b[0].var(0) for b in batches[:2]], 0)        # dropout off: the raw inputs
    np.testing.assert_allclose(np.asarray(bn.moving_mean), want_mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.moving_variance), want_var, rtol=1e-4)
    assert bn.momentum == 0.99 and model.layers[1].rate == 0.5      # settings restored


def test_without_batchnorm_nothing_happens():
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    assert recalibrate_batchnorm(model, [(np.ones((2, 4), "float32"), None)], 5) == 0


def test_train_option_is_recorded_and_changes_the_validation_scores(tmp_path):
    from reproductions.slsnet.train import main

    from common.training.records import load_json, read_csv

    argv = ["--set", "multiscale_width=4", "--set", "widths=4,8,16", "--set", "num_fams=1,1",
            "--set", "fam_dilations=1", "--set", "decoder_widths=8,4", "--set", "decoder_fams=1",
            "--set", "disc_widths=4,8,16", "--image-size", "32", "--batch-size", "4",
            "--synthetic-size", "24", "--epochs", "2", "--quiet"]
    plain = main([*argv, "--run-dir", str(tmp_path / "plain")])[0]
    recal = main([*argv, "--run-dir", str(tmp_path / "recal"), "--bn-recalibrate", "3"])[0]
    assert load_json(recal / "config.json")["bn_recalibrate"] == 3
    assert load_json(recal / "metrics.json")["bn_recalibrate"] == 3
    assert load_json(plain / "config.json")["bn_recalibrate"] == 0
    h_plain, h_recal = read_csv(plain / "history.csv"), read_csv(recal / "history.csv")
    # the generator's training losses do not change (trainable weights are untouched) ...
    assert [h["g_loss"] for h in h_plain] == [h["g_loss"] for h in h_recal]
    # ... the statistics it is validated with do
    assert [h["val_jaccard"] for h in h_plain] != [h["val_jaccard"] for h in h_recal]
    with pytest.raises(SystemExit):
        main([*argv, "--run-dir", str(tmp_path / "neg"), "--bn-recalibrate", "-1"])
