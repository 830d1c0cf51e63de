"""Parameter and MAC counts against hand computations; latency."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from common.profiling import (count_macs, count_params, latency_ms, mac_breakdown,
                              profile_model)

L = keras.layers


def _model(layer, input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("layer, input_shape, expected", [
    # Conv2D 'same': H*W * k*k * C_in * C_out
    (L.Conv2D(8, 3, padding="same"), (16, 16, 3), 16 * 16 * 9 * 3 * 8),
    # Conv2D stride 2 'valid': output 7x7
    (L.Conv2D(4, 3, strides=2), (16, 16, 2), 7 * 7 * 9 * 2 * 4),
    # dilation does not change the MACs per output element
    (L.Conv2D(4, 3, padding="same", dilation_rate=2), (8, 8, 2), 8 * 8 * 9 * 2 * 4),
    # grouped: C_in / groups per output
    (L.Conv2D(8, 3, padding="same", groups=2), (8, 8, 4), 8 * 8 * 9 * 2 * 8),
    # factorized 3x1
    (L.Conv2D(6, (3, 1), padding="same"), (5, 5, 6), 5 * 5 * 3 * 6 * 6),
    # Conv1D
    (L.Conv1D(5, 3), (10, 4), 8 * 3 * 4 * 5),
    # transposed: every input element spread over k*k*C_out
    (L.Conv2DTranspose(4, 3, strides=2, padding="same"), (8, 8, 6), 8 * 8 * 6 * 9 * 4),
    # depthwise: output elements * k*k
    (L.DepthwiseConv2D(3, padding="same", depth_multiplier=2), (8, 8, 3), 8 * 8 * 6 * 9),
    # separable: depthwise + pointwise
    (L.SeparableConv2D(5, 3, padding="same"), (8, 8, 4), 8 * 8 * 4 * 9 + 8 * 8 * 4 * 5),
    # Dense on a 2-D input and on a sequence
    (L.Dense(7), (5,), 5 * 7),
    (L.Dense(7), (3, 5), 3 * 5 * 7),
    # EinsumDense: multi-head projection, contracted over d
    (L.EinsumDense("abd,dhk->abhk", output_shape=(None, 2, 3)), (4, 6), 4 * 6 * 2 * 3),
])
def test_layer_macs_by_hand(layer, input_shape, expected):
    assert count_macs(_model(layer, input_shape)) == expected


def test_uncounted_layers_and_nested_models():
    inner = keras.Sequential([keras.Input((8, 8, 4)), L.Conv2D(4, 1), L.ReLU()], name="inner")
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D()(x)  # 4x4
    x = L.UpSampling2D()(x)  # 8x8
    x = inner(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(2)(x)
    model = keras.Model(inputs, outputs)
    expected = 8 * 8 * 9 * 3 * 4 + 8 * 8 * 4 * 4 + 4 * 2
    assert count_macs(model) == expected
    breakdown = mac_breakdown(model)
    assert breakdown["layers"] == expected and breakdown["matmul"] == 0
    assert sum(breakdown["per_layer"].values()) == expected


def test_shared_layer_is_counted_per_call():
    conv = L.Conv2D(3, 3, padding="same")
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, conv(conv(inputs)))
    assert count_macs(model) == 2 * 6 * 6 * 9 * 3 * 3


class _Attention(keras.layers.Layer):
    """A custom layer with a sub-layer and its own matmul (declared by macs())."""

    def build(self, input_shape):
        self.proj = L.Dense(input_shape[-1])
        self.proj.build(input_shape)

    def call(self, x):
        q = self.proj(x)
        return keras.ops.matmul(keras.ops.softmax(keras.ops.matmul(q, keras.ops.transpose(
            x, (0, 2, 1)))), x)

    def macs(self, input_shape):
        batch, n, c = input_shape
        return batch * 2 * n * n * c


def test_custom_layer_macs_and_sublayers():
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, _Attention()(inputs))
    breakdown = mac_breakdown(model)
    assert breakdown["layers"] == 5 * 4 * 4  # the Dense sub-layer
    assert breakdown["matmul"] == 2 * 5 * 5 * 4
    assert count_macs(model) == 5 * 4 * 4 + 2 * 5 * 5 * 4
    assert count_macs(model, include_matmul=False) == 5 * 4 * 4


def test_subclassed_model_multi_input_and_batch_axis():
    class TwoInputs(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = L.Dense(3)
            self.b = L.Dense(3)

        def call(self, inputs):
            return self.a(inputs[0]) + self.b(self.a(inputs[1]))

    model = TwoInputs()
    expected = 4 * 3 + 4 * 3 + 3 * 3
    assert count_macs(model, [(4,), (4,)]) == expected
    functional = _model(L.Conv2D(2, 3, padding="same"), (6, 6, 1))
    assert count_macs(functional, (1, 6, 6, 1)) == count_macs(functional, (6, 6, 1))
    # the forward pass leaves the layers' call methods as they were
    assert "call" not in vars(functional.layers[1])


def test_keras_applications_model():
    """MobileNetV2 (alpha 1.0, 224 x 224, 1000 classes): 300 M MACs (Sandler et al. 2018)."""
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    macs = count_macs(model)
    assert abs(macs - 300e6) / 300e6 < 0.02, macs
    assert count_params(model) == model.count_params()


def test_count_params():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3), L.BatchNormalization()])
    assert count_params(model) == 4 * 3 + 3 + 4 * 3
    assert count_params(model, trainable_only=True) == 4 * 3 + 3 + 2 * 3


def test_latency_and_profile():
    model = _model(L.Dense(3), (4,))
    ms = latency_ms(model, (4,), warmup=1, runs=3)
    assert ms > 0
    result = profile_model(model, (4,), warmup=1, runs=2)
    assert result["params"] == 15 and result["macs"] == 12
    assert result["latency_ms"] > 0 and result["fps"] == pytest.approx(1000 / result["latency_ms"])
    no_time = profile_model(model, measure_latency=False)
    assert no_time["latency_ms"] is None and no_time["macs"] == 12
    with pytest.raises(ValueError):
        latency_ms(model, (4,), runs=0)


def test_unknown_input_shape_needs_input_shape():
    class Plain(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(ValueError, match="input_shape"):
        count_macs(Plain())
    assert count_macs(Plain(), (3,)) == 6
    assert np.isfinite(latency_ms(_model(L.Dense(1), (2,)), runs=1, warmup=1))
