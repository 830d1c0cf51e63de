"""ASNet layers: shared-kernel dilated convolutions, scale-aware fusion (eqs. 1-2), the ASM."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from reproductions.asnet.layers import (
    ScaleAwareFusion,
    ScaledResidual,
    SharedDilatedConv2D,
    adaptive_scale_module,
    scale_aware_module,
)

RNG = np.random.default_rng(0)


def _random(*shape):
    return RNG.normal(size=shape).astype("float32")


def test_shared_dilated_conv_has_one_kernel_and_matches_conv2d():
    layer = SharedDilatedConv2D(6, 3, dilation_rates=(1, 2, 4), name="shared")
    x = _random(2, 12, 10, 4)
    outputs = layer(x)
    assert len(outputs) == 3
    assert [v.name for v in layer.weights] == ["kernel"]
    assert tuple(layer.kernel.shape) == (3, 3, 4, 6)
    for rate, y in zip((1, 2, 4), outputs):
        assert tuple(y.shape) == (2, 12, 10, 6)
        reference = keras.layers.Conv2D(6, 3, padding="same", dilation_rate=rate, use_bias=False)
        reference.build(x.shape)
        reference.kernel.assign(layer.kernel)
        np.testing.assert_allclose(np.asarray(y), np.asarray(reference(x)), rtol=1e-5, atol=1e-5)


def test_shared_dilated_conv_bias_is_shared_and_rates_one_give_equal_branches():
    layer = SharedDilatedConv2D(3, 3, dilation_rates=(1, 1, 1), use_bias=True, bias_initializer="ones")
    outputs = [np.asarray(o) for o in layer(_random(1, 8, 8, 2))]
    assert sorted(v.name for v in layer.weights) == ["bias", "kernel"]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])


def test_shared_dilated_conv_macs_and_config():
    layer = SharedDilatedConv2D(8, 3, dilation_rates=(1, 2, 4))
    assert layer.macs((16, 20, 4)) == 3 * 16 * 20 * 9 * 4 * 8
    clone = SharedDilatedConv2D.from_config(layer.get_config())
    assert clone.dilation_rates == (1, 2, 4) and clone.filters == 8 and clone.kernel_size == 3
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "asnet>SharedDilatedConv2D"
    assert isinstance(keras.saving.deserialize_keras_object(serialized), SharedDilatedConv2D)
    with pytest.raises(ValueError):
        SharedDilatedConv2D(4, dilation_rates=(0, 1))


def test_scale_aware_fusion_matches_numpy_eqs_1_2():
    m_a, m_b, logits = _random(2, 5, 7, 3), _random(2, 5, 7, 3), _random(2, 5, 7, 2) * 3
    fused, attention = ScaleAwareFusion()([m_a, m_b, logits], return_attention=True)
    a, b = logits[..., 0], logits[..., 1]
    a_a = np.exp(a) / (np.exp(a) + np.exp(b))  # eq. 1
    a_b = np.exp(b) / (np.exp(a) + np.exp(b))
    expected = a_a[..., None] * m_a + a_b[..., None] * m_b  # eq. 2
    np.testing.assert_allclose(np.asarray(fused), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(attention), np.stack([a_a, a_b], -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(attention).sum(-1), 1.0, rtol=1e-6)


def test_scaled_residual_has_one_learnable_beta():
    layer = ScaledResidual(beta_init=0.5)
    x, f = _random(2, 3, 3, 4), _random(2, 3, 3, 4)
    np.testing.assert_allclose(np.asarray(layer([x, f])), x + 0.5 * f, rtol=1e-6)
    assert [v.name for v in layer.trainable_weights] == ["beta"] and tuple(layer.beta.shape) == ()
    assert ScaledResidual.from_config(layer.get_config()).beta_init == 0.5


def test_scale_aware_module_graph():
    m_a, m_b = keras.Input((8, 8, 16)), keras.Input((8, 8, 16))
    out = scale_aware_module(m_a, m_b, channels=4, name="sam")
    model = keras.Model([m_a, m_b], out)
    assert tuple(out.shape) == (None, 8, 8, 16)
    assert model.get_layer("sam_logits").filters == 2
    # when the logits favour A everywhere, the fusion returns M_A
    logits = model.get_layer("sam_logits")
    logits.kernel.assign(np.zeros(logits.kernel.shape, "float32"))
    logits.bias.assign(np.array([30.0, -30.0], "float32"))
    a, b = _random(1, 8, 8, 16), _random(1, 8, 8, 16)
    np.testing.assert_allclose(np.asarray(model([a, b])), a, atol=1e-5)


@pytest.mark.parametrize("fusion", ["scale_aware", "mean", "sum"])
def test_adaptive_scale_module_shapes_and_one_kernel(fusion):
    x = keras.Input((4, 4, 32))
    model = keras.Model(x, adaptive_scale_module(x, fusion=fusion, sam_channels=8, name="asm"))
    assert tuple(model.output.shape) == (None, 4, 4, 32)
    shared = [layer for layer in model.layers if isinstance(layer, SharedDilatedConv2D)]
    assert len(shared) == 1 and len(shared[0].weights) == 1 and shared[0].dilation_rates == (1, 2, 4)
    sams = [layer for layer in model.layers if isinstance(layer, ScaleAwareFusion)]
    assert len(sams) == (2 if fusion == "scale_aware" else 0)
    # beta starts at 0: the module starts as the identity on the encoder's features
    value = _random(2, 4, 4, 32)
    np.testing.assert_allclose(np.asarray(model(value)), value, atol=1e-6)


def test_adaptive_scale_module_rejects_unknown_fusion():
    with pytest.raises(ValueError, match="fusion"):
        adaptive_scale_module(keras.Input((4, 4, 8)), fusion="max")
