"""Losses: hand-computed values on tiny arrays, finite gradients on empty masks, monotonicity."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from common import losses as L

EPS = 1e-7

# batch of two 2x2 images: image 1 has three lesion pixels, image 2 none
Y_TRUE = np.array([[[1.0, 0.0], [1.0, 1.0]],
                   [[0.0, 0.0], [0.0, 0.0]]], dtype="float32").reshape(2, 2, 2, 1)
Y_PRED = np.array([[[0.8, 0.3], [0.6, 0.9]],
                   [[0.1, 0.2], [0.0, 0.3]]], dtype="float32").reshape(2, 2, 2, 1)
# By hand: image 1: sum(g p) = 0.8 + 0.6 + 0.9 = 2.3, sum p = 2.6, sum p^2 = 0.64 + 0.09 + 0.36 + 0.81 = 1.9,
# sum g = sum g^2 = 3. Image 2: sum(g p) = 0, sum p = 0.6, sum p^2 = 0.01 + 0.04 + 0 + 0.09 = 0.14.
BCE1 = -(math.log(0.8) + math.log(0.7) + math.log(0.6) + math.log(0.9)) / 4
BCE2 = -(math.log(0.9) + math.log(0.8) + math.log(1 - EPS) + math.log(0.7)) / 4

EXPECTED = {
    "dice": ((1 - (2 * 2.3 + 1) / (1.9 + 3 + 1)) + (1 - 1 / (0.14 + 1))) / 2,
    "soft_jaccard": ((1 - (2.3 + 1) / (3 + 1.9 - 2.3 + 1)) + (1 - 1 / (0.14 + 1))) / 2,
    "squared_jaccard": ((1 - 2.3 / (3 + 1.9 - 2.3 + 1)) + 1.0) / 2,
    "jaccard_bce": ((1 - (2.3 + 1) / (3 + 2.6 - 2.3 + 1) + BCE1) + (1 - 1 / (0.6 + 1) + BCE2)) / 2,
    "dice_ce": ((1 - (2 * 2.3 + 1) / (3 + 2.6 + 1) + 0.5 * BCE1) + (1 - 1 / (0.6 + 1) + 0.5 * BCE2)) / 2,
    "bce": (BCE1 + BCE2) / 2,
    "adversarial_bce": (BCE1 + BCE2) / 2,
    "l1": ((0.2 + 0.3 + 0.4 + 0.1) / 4 + (0.1 + 0.2 + 0.0 + 0.3) / 4) / 2,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hand_computed_values(name):
    value = float(L.get_loss(name)(Y_TRUE, Y_PRED))
    assert value == pytest.approx(EXPECTED[name], rel=1e-5, abs=1e-6)


def test_channel_axis_may_be_missing_in_truth():
    assert float(L.dice_loss(Y_TRUE[..., 0], Y_PRED)) == pytest.approx(EXPECTED["dice"], rel=1e-5)


def test_categorical_ce_hand_computed():
    y_true = np.array([[0, 1, 0], [1, 0, 0]], "float32")
    y_pred = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], "float32")
    expected = -(math.log(0.7) + math.log(0.5)) / 2
    assert float(L.categorical_ce(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)
    logits = np.log(y_pred)
    assert float(L.categorical_ce(y_true, logits, from_logits=True)) == pytest.approx(expected, rel=1e-5)


def test_bce_from_logits_matches_probabilities():
    logits = np.array([[-3.0, 0.5], [2.0, 0.0]], "float32")
    y = np.array([[0.0, 1.0], [1.0, 0.0]], "float32")
    probs = 1 / (1 + np.exp(-logits))
    expected = -np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs))
    assert float(L.bce(y, logits, from_logits=True)) == pytest.approx(expected, rel=1e-5)
    assert float(L.bce(y, probs)) == pytest.approx(expected, rel=1e-5)


def test_adversarial_terms_eq7_eq11():
    d_fake = np.array([[0.9], [0.6]], "float32")
    d_real = np.array([[0.8], [0.7]], "float32")
    gen = -(math.log(0.9) + math.log(0.6)) / 2
    dis = -(math.log(0.8) + math.log(0.7)) / 2 - (math.log(1 - 0.9) + math.log(1 - 0.6)) / 2
    assert float(L.generator_adversarial_loss(d_fake)) == pytest.approx(gen, rel=1e-5)
    assert float(L.discriminator_loss(d_real, d_fake)) == pytest.approx(dis, rel=1e-5)
    # eq. 7 in full: adversarial + 0.1 * L1 + 0.5 * Jaccard loss
    full = float(L.slsnet_generator_loss(Y_TRUE, Y_PRED, d_fake))
    assert full == pytest.approx(gen + 0.1 * EXPECTED["l1"] + 0.5 * EXPECTED["soft_jaccard"], rel=1e-5)


def test_perfect_prediction_of_empty_mask_costs_nothing():
    zeros = np.zeros((2, 4, 4, 1), "float32")
    for name in ("dice", "soft_jaccard", "jaccard_bce", "dice_ce", "bce", "l1"):
        assert float(L.get_loss(name)(zeros, zeros)) == pytest.approx(0.0, abs=1e-5), name


def test_finite_gradients_on_all_background_masks():
    import tensorflow as tf

    y_true = tf.zeros((2, 4, 4, 1))
    for start in (np.zeros((2, 4, 4, 1)), np.full((2, 4, 4, 1), 0.3), np.ones((2, 4, 4, 1))):
        y_pred = tf.Variable(start.astype("float32"))
        for name in L.list_losses():
            if name == "categorical_ce":
                continue
            with tf.GradientTape() as tape:
                loss = L.get_loss(name)(y_true, y_pred)
            grad = tape.gradient(loss, y_pred)
            assert np.isfinite(float(loss)), name
            assert grad is not None and np.all(np.isfinite(grad.numpy())), name
    logits = tf.Variable(np.zeros((2, 3), "float32"))
    with tf.GradientTape() as tape:
        loss = L.categorical_ce(tf.constant([[1.0, 0, 0], [0, 0, 1.0]]), tf.nn.softmax(logits))
    assert np.all(np.isfinite(tape.gradient(loss, logits).numpy()))


@pytest.mark.parametrize("name", [n for n in sorted(L.LOSSES) if n != "categorical_ce"])
def test_loss_decreases_as_prediction_approaches_truth(name):
    rng = np.random.default_rng(0)
    y_true = (rng.random((2, 8, 8, 1)) > 0.5).astype("float32")
    values = [float(L.get_loss(name)(y_true, (1 - lam) * 0.5 + lam * y_true))
              for lam in (0.0, 0.25, 0.5, 0.75, 0.95)]
    assert all(a > b for a, b in zip(values, values[1:])), values


def test_get_loss_registry_and_aliases():
    assert L.get_loss("dice") is L.dice_loss
    assert L.get_loss("Dice-Loss") is L.dice_loss
    assert L.get_loss("squared-jaccard") is L.squared_jaccard_loss
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        L.get_loss("focal")
    smooth = L.get_loss("dice", smooth=1e-5)
    expected = ((1 - (4.6 + 1e-5) / (4.9 + 1e-5)) + (1 - 1e-5 / (0.14 + 1e-5))) / 2
    assert float(smooth(Y_TRUE, Y_PRED)) == pytest.approx(expected, rel=1e-5)
    assert keras.saving.get_registered_object("common>jaccard_bce_loss") is L.jaccard_bce_loss


def test_losses_train_a_tiny_model():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    y = (x > 0.5).astype("float32")
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=L.jaccard_bce_loss)
    history = model.fit(x, y, batch_size=2, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
