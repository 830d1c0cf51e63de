"""The transfer-ensemble networks: encoders at exact strides, same-padded weights, both input sizes."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from common.backbones import build_encoder  # noqa: E402
from common.backbones.registry import _canonicalise_auto_names  # noqa: E402
from reproductions.transfer_ensemble.configs import (  # noqa: E402
    BASE, MODELS, PREPROCESSING, ROWS, TABLES, attribute_row)
from reproductions.transfer_ensemble.model import ENCODER_TAPS, build_model  # noqa: E402

NARROW = dict(pyramid_width=4, head_width=4, aggregation_width=4, decoder_widths=(4, 4))


@pytest.mark.parametrize("model", list(ENCODER_TAPS))
def test_encoder_levels_are_exactly_one_over_two_to_the_n(model):
    name, taps, relu = ENCODER_TAPS[model]
    encoder = build_encoder(name, (None, None, 3), None, feature_layers=taps, relu_levels=relu)
    for h, w in ((192, 256), (384, 576)):
        shapes = {k: tuple(v.shape) for k, v in encoder(np.zeros((1, h, w, 3), "float32")).items()}
        for n in range(1, 6):
            assert shapes[f"P{n}"][1:3] == (h // 2 ** n, w // 2 ** n), (model, h, w, n, shapes)


@pytest.mark.parametrize("ctor, name", [("Xception", "xception_same"), ("InceptionResNetV2", "inceptionresnetv2_same")])
def test_keras_applications_weights_load_into_the_same_padded_copy_layer_by_layer(ctor, name, tmp_path):
    original = getattr(keras.applications, ctor)(include_top=False, weights=None, input_shape=(96, 128, 3))
    _canonicalise_auto_names(original)
    rng = np.random.default_rng(0)
    for layer in original.layers:
        for w in layer.weights:
            w.assign(rng.normal(size=w.shape).astype("float32"))
    path = tmp_path / "original.weights.h5"
    original.save_weights(path)
    same = build_encoder(name, (96, 128, 3), weights=str(path))
    by_name = {layer.name: layer for layer in same.layers}
    checked = 0
    for layer in original.layers:
        if not layer.weights:
            continue
        for a, b in zip(layer.get_weights(), by_name[layer.name].get_weights()):
            np.testing.assert_array_equal(a, b)
        checked += 1
    assert checked > 50
    # the valid-padded original does not give exact strides; the copy does
    p1 = "block1_conv2_act" if ctor == "Xception" else "activation_2"
    assert original.get_layer(p1).output.shape[1:3] != (48, 64)
    assert same.output["P1"].shape[1:3] == (48, 64) and same.output["P5"].shape[1:3] == (3, 4)


def test_every_row_builds_at_its_paper_size():
    seen = set()
    for row, cfg in ROWS.items():
        key = (cfg.model, cfg.image_size)
        if key in seen:
            continue
        seen.add(key)
        net = build_model(replace(cfg, **NARROW), None)
        assert net.output.shape[1:] == (*cfg.image_size, 1), row
    assert {(m, (192, 256)) for m in MODELS} <= seen
    assert ("densenet169", (384, 576)) in seen


def test_decoder_initialiser_is_glorot_uniform_by_default_and_he_normal_on_request():
    net = build_model(replace(BASE, model="xception", **NARROW), None, input_shape=(32, 32, 3))
    assert type(net.get_layer("aggregation_conv").kernel_initializer).__name__ == "GlorotUniform"
    net = build_model(replace(BASE, model="xception", decoder_init="he_normal", **NARROW), None, input_shape=(32, 32, 3))
    assert type(net.get_layer("up5_conv1").kernel_initializer).__name__ == "HeNormal"


def test_pyramid_merges_by_add_and_pools_four_levels():
    net = build_model(replace(BASE, model="xception", **NARROW), None, input_shape=(64, 64, 3))
    assert isinstance(net.get_layer("P4_merged"), keras.layers.Add)
    pooled = net.get_layer("pyramid_pooling")
    assert isinstance(pooled, keras.layers.Concatenate)
    assert pooled.output.shape[1:] == (16, 16, 4 * NARROW["head_width"])


def test_input_scaling_follows_the_paper_with_the_weights_reading_as_an_option():
    assert PREPROCESSING["paper"]["inceptionresnetv2"] == "caffe"       # mean subtraction, sec. II.A.2
    assert PREPROCESSING["weights"]["inceptionresnetv2"] == "tf"        # what its weights were trained on
    assert PREPROCESSING["paper"]["deeplabv3plus"] == "unit"
    net = build_model(replace(BASE, model="xception", **NARROW), None, input_shape=(32, 32, 3))
    assert net.get_layer("input_scaling").mode == "tf"


def test_deeplab_takes_a_rotated_input_and_refuses_imagenet_with_the_fix(tmp_path):
    cfg = replace(BASE, model="deeplabv3plus")
    net = build_model(cfg, None, input_shape=(None, None, 3))
    assert net(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 64, 96, 1)
    assert net(np.zeros((1, 96, 64, 3), "float32")).shape == (1, 96, 64, 1)
    with pytest.raises(ValueError, match="Pascal VOC"):
        build_model(cfg, "imagenet")
    # a weights file of this model loads back
    path = tmp_path / "deeplab.weights.h5"
    net.save_weights(path)
    again = build_model(cfg, str(path), input_shape=(None, None, 3))
    x = np.random.default_rng(1).uniform(size=(1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(net.predict_on_batch(x), again.predict_on_batch(x), atol=1e-6)


def test_rows_cover_every_table_cell():
    assert TABLES["Table I"] == ["DenseNet169", "ResNet152", "Inception-ResNet-v2", "Xception", "DeepLabV3+"]
    assert len(TABLES["Table III"]) == 15
    cfg = ROWS[attribute_row("densenet169", "streaks")]
    assert cfg.image_size == (384, 576) and cfg.loss == "squared_jaccard" and cfg.attribute == "streaks"
    assert ROWS["DenseNet169"].loss == "jaccard_bce" and ROWS["DenseNet169"].epochs == 70
    with pytest.raises(ValueError, match="attributes"):
        replace(BASE, model="deeplabv3plus", attribute="streaks")
