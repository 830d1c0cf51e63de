"""AER-Net's custom layers: the attention gate (Fig. 5) against NumPy, the residual block (Fig. 4)."""
from __future__ import annotations

import numpy as np
import pytest

import keras

from reproductions.aernet.layers import AttentionGate, ImageNetScaling, ResidualBlock

RNG = np.random.default_rng(0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _resize_x2(a, interpolation):
    """Upsample ``[B, h, w, C]`` by 2: nearest, or bilinear with half-pixel centres and edge clamping."""
    if interpolation == "nearest":
        return a.repeat(2, axis=1).repeat(2, axis=2)

    def axis_weights(n):
        src = np.clip((np.arange(2 * n) + 0.5) / 2 - 0.5, 0, n - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        return lo, hi, (src - lo)

    lo, hi, f = axis_weights(a.shape[1])
    a = a[:, lo] * (1 - f)[None, :, None, None] + a[:, hi] * f[None, :, None, None]
    lo, hi, f = axis_weights(a.shape[2])
    return a[:, :, lo] * (1 - f)[None, None, :, None] + a[:, :, hi] * f[None, None, :, None]


def _gate_numpy(gate, x, g):
    """Oktay et al. (2018) Fig. 2 computed by hand from the layer's weights."""
    wx = keras.ops.convert_to_numpy(gate.theta_x.kernel)  # [2, 2, Fx, F_int], no bias
    wg = keras.ops.convert_to_numpy(gate.phi_g.kernel)[0, 0]
    bg = keras.ops.convert_to_numpy(gate.phi_g.bias)
    wpsi = keras.ops.convert_to_numpy(gate.psi.kernel)[0, 0]
    bpsi = keras.ops.convert_to_numpy(gate.psi.bias)
    b, h, w, _ = x.shape
    theta = np.zeros((b, h // 2, w // 2, wx.shape[-1]))
    for dy in range(2):
        for dx in range(2):
            theta += x[:, dy::2, dx::2, :] @ wx[dy, dx]
    q = np.maximum(theta + g @ wg + bg, 0.0)
    psi = q @ wpsi + bpsi
    alpha = _sigmoid(psi) if gate.psi_activation == "sigmoid" else np.maximum(psi, 0.0)
    return x * _resize_x2(alpha, gate.interpolation), alpha


def _randomise(layer):
    """Non-trivial weights (default bias zeros would hide bias bugs)."""
    for v in layer.weights:
        v.assign(RNG.normal(0.0, 0.5, size=tuple(v.shape)).astype("float32"))


@pytest.mark.parametrize("psi_activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_attention_gate_matches_numpy(psi_activation, interpolation):
    x = RNG.normal(size=(2, 8, 6, 5)).astype("float32")
    g = RNG.normal(size=(2, 4, 3, 7)).astype("float32")
    gate = AttentionGate(inter_channels=4, psi_activation=psi_activation, interpolation=interpolation)
    gate([x, g])
    _randomise(gate)
    expected, alpha = _gate_numpy(gate, x.astype("float64"), g.astype("float64"))
    got = keras.ops.convert_to_numpy(gate([x, g]))
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    coeffs = keras.ops.convert_to_numpy(gate.coefficients(x, g))
    assert coeffs.shape == (2, 8, 6, 1)
    np.testing.assert_allclose(coeffs, _resize_x2(alpha, interpolation), rtol=1e-4, atol=1e-5)


def test_psi_activation_changes_the_gate():
    x = RNG.normal(size=(1, 8, 8, 3)).astype("float32")
    g = RNG.normal(size=(1, 4, 4, 6)).astype("float32")
    sig = AttentionGate(inter_channels=4, psi_activation="sigmoid")
    relu = AttentionGate(inter_channels=4, psi_activation="relu")
    sig([x, g])
    relu([x, g])
    _randomise(sig)
    relu.set_weights(sig.get_weights())
    a_sig = keras.ops.convert_to_numpy(sig.coefficients(x, g))
    a_relu = keras.ops.convert_to_numpy(relu.coefficients(x, g))
    assert np.all((a_sig > 0) & (a_sig < 1))  # Fig. 5: coefficients in (0, 1)
    assert np.all(a_relu >= 0) and np.any(a_relu == 0)  # the authors' ReLU: cut to zero where psi < 0
    assert not np.allclose(keras.ops.convert_to_numpy(sig([x, g])), keras.ops.convert_to_numpy(relu([x, g])))


def test_attention_gate_default_inter_channels_and_shape_check():
    gate = AttentionGate()
    gate.build([(None, 8, 8, 6), (None, 4, 4, 10)])
    assert tuple(gate.theta_x.kernel.shape) == (2, 2, 6, 6)  # F_int = skip channels
    assert gate.compute_output_shape([(None, 8, 8, 6), (None, 4, 4, 10)]) == (None, 8, 8, 6)
    with pytest.raises(ValueError, match="must be 2x the gating signal"):
        AttentionGate().build([(None, 8, 8, 6), (None, 8, 8, 10)])
    with pytest.raises(ValueError, match="psi_activation"):
        AttentionGate(psi_activation="tanh")


def test_attention_gate_config_round_trip():
    gate = AttentionGate(inter_channels=3, subsample=2, psi_activation="relu", interpolation="nearest", name="ag")
    x = RNG.normal(size=(1, 4, 4, 2)).astype("float32")
    g = RNG.normal(size=(1, 2, 2, 5)).astype("float32")
    gate([x, g])
    _randomise(gate)
    config = gate.get_config()
    assert config["inter_channels"] == 3 and config["psi_activation"] == "relu"
    clone = AttentionGate.from_config(config)
    clone([x, g])
    clone.set_weights(gate.get_weights())
    assert clone.get_config() == config
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone([x, g])), keras.ops.convert_to_numpy(gate([x, g])))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(gate))
    assert isinstance(restored, AttentionGate) and restored.get_config() == config


def _bn_eval(v):
    """A freshly initialised BatchNormalization in inference mode: v / sqrt(1 + eps)."""
    return v / np.sqrt(1.0 + 1e-3)


def test_residual_block_shortcuts():
    x = RNG.normal(size=(2, 6, 6, 4)).astype("float32")
    identity = ResidualBlock(4)  # channels unchanged: identity shortcut
    plain = ResidualBlock(4, shortcut=False)
    projected = ResidualBlock(8)  # channels change: 1x1 conv + BN shortcut
    for layer in (identity, plain, projected):
        layer(x)
    assert not identity.project and projected.project
    assert len(plain.weights) == len(identity.weights)
    plain.set_weights(identity.get_weights())
    out_identity = keras.ops.convert_to_numpy(identity(x, training=False))
    out_plain = keras.ops.convert_to_numpy(plain(x, training=False))
    np.testing.assert_allclose(out_identity, out_plain + x, rtol=1e-5, atol=1e-5)

    main = ResidualBlock(8, shortcut=False)
    main(x)
    main.set_weights([w for w in projected.get_weights()[: len(main.weights)]])
    out_main = keras.ops.convert_to_numpy(main(x, training=False))
    w_sc = keras.ops.convert_to_numpy(projected.conv_shortcut.kernel)[0, 0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(projected(x, training=False)),
                               out_main + _bn_eval(x @ w_sc), rtol=1e-4, atol=1e-4)
    assert projected.compute_output_shape((None, 6, 6, 4)) == (None, 6, 6, 8)


def test_residual_block_plain_is_two_conv_bn_relu():
    out = keras.ops.convert_to_numpy(ResidualBlock(3, shortcut=False)(RNG.normal(size=(1, 5, 5, 2)).astype("float32")))
    assert out.shape == (1, 5, 5, 3) and out.min() >= 0.0  # ends in a ReLU


def test_residual_block_config_round_trip():
    block = ResidualBlock(6, kernel_size=3, shortcut=True, name="rb")
    config = block.get_config()
    assert (config["filters"], config["kernel_size"], config["shortcut"]) == (6, 3, True)
    clone = ResidualBlock.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
    assert isinstance(restored, ResidualBlock) and restored.get_config() == config


@pytest.mark.parametrize("mode", ["none", "tf", "torch", "caffe"])
def test_imagenet_scaling_matches_keras_preprocess_input(mode):
    x = RNG.random((2, 4, 4, 3)).astype("float32")
    got = keras.ops.convert_to_numpy(ImageNetScaling(mode)(x))
    if mode == "none":
        expected = 255.0 * x
    else:
        expected = keras.applications.imagenet_utils.preprocess_input(255.0 * x.astype("float64"), mode=mode)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    layer = ImageNetScaling(mode, name="s")
    assert ImageNetScaling.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="mode"):
        ImageNetScaling("bgr")


def test_layers_are_registered_under_aernet():
    assert keras.saving.get_registered_name(AttentionGate) == "aernet>AttentionGate"
    assert keras.saving.get_registered_name(ResidualBlock) == "aernet>ResidualBlock"
    assert keras.saving.get_registered_name(ImageNetScaling) == "aernet>ImageNetScaling"
