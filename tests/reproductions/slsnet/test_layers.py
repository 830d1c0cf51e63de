"""SLSNet layers against NumPy computations of the paper's equations."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from reproductions.slsnet.layers import CAM, FAM, PAM, FactorizedConv


def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _randomise_bn(bn, rng):
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([
        rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
        rng.normal(0, 0.2, beta.shape).astype("float32"),
        rng.normal(0, 0.2, mean.shape).astype("float32"),
        rng.uniform(0.5, 1.5, var.shape).astype("float32"),
    ])


def _conv1x1_bn_relu(x, conv, bn):
    kernel, bias = conv.get_weights()
    y = np.einsum("bhwc,cd->bhwd", x, kernel[0, 0]) + bias
    gamma, beta, mean, var = bn.get_weights()
    y = gamma * (y - mean) / np.sqrt(var + bn.epsilon) + beta
    return np.maximum(y, 0.0)


def test_cam_matches_equations_1_2():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 5, 6)).astype("float32") * 0.3
    layer = CAM()
    layer.build(x.shape)
    layer.gamma.assign(0.7)
    out = keras.ops.convert_to_numpy(layer(x))

    b, h, w, c = x.shape
    expected = np.empty_like(x)
    for n in range(b):
        a = x[n].reshape(h * w, c).T  # A in R^{C x N}
        energy = a @ a.T  # energy[j, i] = A_j . A_i (symmetric)
        attention = _softmax(energy, axis=1)  # x_ji: softmax over i   (eq. 1)
        e = 0.7 * (attention @ a) + a  # E_j = gamma sum_i x_ji A_i + A_j   (eq. 2)
        expected[n] = e.T.reshape(h, w, c)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    att = keras.ops.convert_to_numpy(layer.attention(x))
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-5)


def test_cam_starts_as_identity():
    x = np.random.default_rng(1).normal(size=(1, 3, 3, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(CAM()(x)), x, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(PAM()(x)), x, atol=1e-6)


@pytest.mark.parametrize("reduction", [8, 1])
def test_pam_matches_equations_3_4(reduction):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4, 16)).astype("float32")
    layer = PAM(reduction=reduction)
    layer.build(x.shape)
    layer.eta.assign(-1.3)
    for bn in (layer.b_bn, layer.c_bn, layer.d_bn):
        _randomise_bn(bn, rng)
    out = keras.ops.convert_to_numpy(layer(x, training=False))

    bmap = _conv1x1_bn_relu(x, layer.b_conv, layer.b_bn)
    cmap = _conv1x1_bn_relu(x, layer.c_conv, layer.c_bn)
    dmap = _conv1x1_bn_relu(x, layer.d_conv, layer.d_bn)
    assert bmap.shape[-1] == max(1, 16 // reduction) and dmap.shape[-1] == 16
    b, h, w, c = x.shape
    expected = np.empty_like(x)
    for n in range(b):
        bf = bmap[n].reshape(h * w, -1)  # rows B_i
        cf = cmap[n].reshape(h * w, -1)  # rows C_j
        df = dmap[n].reshape(h * w, -1)  # rows D_i
        energy = cf @ bf.T  # energy[j, i] = B_i . C_j
        s = _softmax(energy, axis=1)  # s_ji   (eq. 3)
        e = -1.3 * (s @ df) + x[n].reshape(h * w, c)  # (eq. 4)
        expected[n] = e.reshape(h, w, c)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_attention_macs():
    assert CAM().macs((1, 16, 16, 128)) == 2 * 256 * 128 * 128
    assert CAM().macs((None, 4, 4, 8)) == 2 * 16 * 8 * 8
    assert PAM().macs((1, 32, 32, 64)) == 1024 * 1024 * (8 + 64)
    assert PAM(reduction=1).macs((2, 4, 4, 16)) == 2 * 16 * 16 * (16 + 16)
    assert PAM().macs((1, 2, 2, 4)) == 4 * 4 * (1 + 4)  # at least one channel for B, C


def test_factorized_conv_is_residual_non_bottleneck_1d():
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 6)).astype("float32")
    layer = FactorizedConv(dilation=2)
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == x.shape and (y >= 0).all()
    kernels = [conv.kernel.shape for conv in (layer.conv_v1, layer.conv_h1, layer.conv_v2,
                                              layer.conv_h2)]
    assert kernels == [(3, 1, 6, 6), (1, 3, 6, 6), (3, 1, 6, 6), (1, 3, 6, 6)]
    assert layer.conv_v2.dilation_rate == (2, 1) and layer.conv_h2.dilation_rate == (1, 2)
    # with the residual branch's last batch norm zeroed, the block is relu(x)
    layer.bn2.gamma.assign(np.zeros(6, "float32"))
    layer.bn2.beta.assign(np.zeros(6, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), np.maximum(x, 0), atol=1e-6)


def test_fam_is_factorized_conv_then_cam():
    x = np.random.default_rng(4).normal(size=(1, 6, 6, 4)).astype("float32")
    fam = FAM(dilation=1)
    fam.build(x.shape)
    fam.cam.gamma.assign(0.5)
    expected = fam.cam(fam.factorized(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fam(x)),
                               keras.ops.convert_to_numpy(expected), atol=1e-6)
    plain = FAM(use_cam=False)
    plain(x)
    assert plain.cam is None
    assert len(plain.weights) == len(fam.factorized.weights) == len(fam.weights) - 1


@pytest.mark.parametrize("layer", [
    CAM(gamma_initializer="ones"),
    PAM(reduction=4),
    FactorizedConv(dilation=2, dropout=0.1, kernel_size=5),
    FAM(dilation=2, dropout=0.2, use_cam=False),
])
def test_get_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


def test_layers_save_and_load(tmp_path):
    inputs = keras.Input((8, 8, 8))
    x = PAM(name="pam")(inputs)
    x = FAM(dilation=2, name="fam")(x)
    x = CAM(name="cam")(x)
    x = FactorizedConv(name="fc")(x)
    model = keras.Model(inputs, x)
    model.get_layer("pam").eta.assign(0.3)
    model.get_layer("cam").gamma.assign(-0.2)
    model.get_layer("fam").cam.gamma.assign(0.4)
    data = np.random.default_rng(5).normal(size=(2, 8, 8, 8)).astype("float32")
    path = tmp_path / "layers.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(data)),
                               keras.ops.convert_to_numpy(model(data)), atol=1e-6)
