"""Encoder registry: feature-map keys/strides/channels, names, weights loading and its errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from common import backbones
from common.backbones import (
    ENCODERS,
    WeightsUnavailableError,
    build_encoder,
    encoder_spec,
    keras_cache_dir,
    list_encoders,
    load_image_classifiers_weights,
    preprocessing_mode,
)

REPO = Path(__file__).resolve().parents[2]
LEVELS = ("P1", "P2", "P3", "P4", "P5")

# channels of P1..P5 per encoder
CHANNELS = {
    "resnet18": (64, 64, 128, 256, 512),
    "resnet34": (64, 64, 128, 256, 512),
    "efficientnetb0": (96, 144, 240, 672, 1280),
    "efficientnetb1": (96, 144, 240, 672, 1280),
    "efficientnetb2": (96, 144, 288, 720, 1408),
    "efficientnetb3": (144, 192, 288, 816, 1536),
    "efficientnetb4": (144, 192, 336, 960, 1792),
    "efficientnetb5": (144, 240, 384, 1056, 2048),
    "efficientnetb6": (192, 240, 432, 1200, 2304),
    "efficientnetb7": (192, 288, 480, 1344, 2560),
    "resnet50": (64, 256, 512, 1024, 2048),
    "resnet101": (64, 256, 512, 1024, 2048),
    "resnet152": (64, 256, 512, 1024, 2048),
    "resnet50v2": (64, 256, 512, 1024, 2048),
    "resnet101v2": (64, 256, 512, 1024, 2048),
    "resnet152v2": (64, 256, 512, 1024, 2048),
    "densenet121": (64, 128, 256, 512, 1024),
    "densenet169": (64, 128, 256, 640, 1664),
    "densenet201": (64, 128, 256, 896, 1920),
    "xception": (64, 128, 256, 728, 2048),
    "inceptionresnetv2": (64, 192, 320, 1088, 1536),
    "xception_same": (64, 128, 256, 728, 2048),
    "inceptionresnetv2_same": (64, 192, 320, 1088, 1536),
    "vgg16": (128, 256, 512, 512, 512),
    "vgg19": (128, 256, 512, 512, 512),
    "mobilenetv2": (96, 144, 192, 576, 1280),
    "seresnet152": (64, 256, 512, 1024, 2048),
    "seresnext101": (64, 256, 512, 1024, 2048),
}
SMALL = [
    "resnet18", "resnet34", "efficientnetb0", "efficientnetb1", "efficientnetb2", "resnet50",
    "resnet50v2", "densenet121", "vgg16", "vgg19", "mobilenetv2",
]
LARGE = [name for name in CHANNELS if name not in SMALL]


def _check_levels(encoder, name, size):
    assert isinstance(encoder.output, dict)
    assert sorted(encoder.output) == list(LEVELS)
    for n, level in enumerate(LEVELS, start=1):
        shape = tuple(encoder.output[level].shape)
        assert shape[1:3] == (size // 2**n, size // 2**n), (name, level, shape)
        assert shape[3] == CHANNELS[name][n - 1], (name, level, shape)


def test_registry_lists_every_family():
    names = list_encoders()
    assert set(CHANNELS) == set(names)
    assert names == list(ENCODERS)
    for name in names:
        assert len(encoder_spec(name).feature_layers) == 5


@pytest.mark.parametrize("name", SMALL)
def test_small_encoders_levels(name):
    encoder = build_encoder(name, (64, 64, 3))
    _check_levels(encoder, name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE)
def test_large_encoders_levels(name):
    if ENCODERS[name].source == "segmentation_models" and keras.backend.backend() != "tensorflow":
        pytest.skip("segmentation-models encoders need the TensorFlow backend")
    encoder = build_encoder(name, (256, 256, 3))
    _check_levels(encoder, name, 256)


def test_forward_pass_matches_symbolic_shapes():
    encoder = build_encoder("resnet18", (64, 96, 3))
    features = encoder(np.zeros((2, 64, 96, 3), "float32"), training=False)
    for n, level in enumerate(LEVELS, start=1):
        assert features[level].shape == (2, 64 // 2**n, 96 // 2**n, CHANNELS["resnet18"][n - 1])


def test_case_insensitive_names_and_model_name():
    encoder = build_encoder("ResNet18", (32, 32, 3), model_name="enc")
    assert encoder.name == "enc"
    assert build_encoder("resnet18", (32, 32, 3)).name == "resnet18_encoder"


def test_unknown_name_lists_known_encoders():
    with pytest.raises(ValueError) as info:
        build_encoder("resnet35", (64, 64, 3))
    message = str(info.value)
    assert "resnet35" in message
    for name in ("resnet34", "efficientnetb7", "seresnext101", "inceptionresnetv2"):
        assert name in message
    with pytest.raises(ValueError):
        preprocessing_mode("nope")


def test_bad_weights_argument():
    with pytest.raises(ValueError, match="weights"):
        build_encoder("resnet18", (32, 32, 3), weights="/no/such/file.weights.h5")


def test_preprocessing_modes():
    assert preprocessing_mode("resnet34") == "none"
    assert preprocessing_mode("efficientnetb0") == "none"
    assert preprocessing_mode("resnet50") == "caffe"
    assert preprocessing_mode("vgg16") == "caffe"
    assert preprocessing_mode("resnet50v2") == "tf"
    assert preprocessing_mode("xception") == "tf"
    assert preprocessing_mode("mobilenetv2") == "tf"
    assert preprocessing_mode("densenet121") == "torch"
    assert preprocessing_mode("seresnext101") == "torch"
    assert {preprocessing_mode(n) for n in list_encoders()} <= {"torch", "caffe", "tf", "none"}


def test_layer_names_do_not_depend_on_session_counters():
    first = [layer.name for layer in build_encoder("vgg16", (32, 32, 3)).layers]
    keras.layers.Activation("relu")  # advance Keras's global name counters
    second = [layer.name for layer in build_encoder("vgg16", (32, 32, 3)).layers]
    assert first == second
    assert first[0] == "input_layer"


def test_valid_padding_family_needs_static_size():
    with pytest.raises(ValueError, match="divisible by 32"):
        build_encoder("xception", (None, None, 3))
    with pytest.raises(ValueError, match="divisible by 32"):
        build_encoder("inceptionresnetv2", (250, 256, 3))


@pytest.mark.slow
def test_xception_native_shapes_are_resized():
    native = backbones.native_feature_shapes("xception", (256, 256, 3))
    assert [shape[0] for shape in native.values()] == [125, 63, 32, 16, 8]
    encoder = build_encoder("xception", (256, 256, 3))
    assert encoder.get_layer("P1_resize") is not None


# ------------------------------------------------------------------ imagenet without network


def _offline(monkeypatch):
    calls = []

    def fail(fname=None, origin=None, **kwargs):
        calls.append((fname, origin, kwargs))
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", fail)
    return calls


def test_imagenet_without_network_resnet34(monkeypatch):
    calls = _offline(monkeypatch)
    with pytest.raises(WeightsUnavailableError) as info:
        build_encoder("resnet34", (64, 64, 3), weights="imagenet")
    message = str(info.value)
    fname = "resnet34_imagenet_1000_no_top.h5"
    assert calls and calls[0][0] == fname and calls[0][2]["cache_subdir"] == "models"
    assert os.path.join(keras_cache_dir(), fname) in message
    assert "KERAS_HOME" in message and "~/.keras/models" in message
    assert "github.com/qubvel/classification_models" in message


def test_imagenet_without_network_keras_applications(monkeypatch):
    calls = _offline(monkeypatch)
    with pytest.raises(WeightsUnavailableError) as info:
        build_encoder("vgg16", (32, 32, 3), weights="imagenet")
    fname = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert calls and calls[0][0] == fname
    assert os.path.join(keras_cache_dir(), fname) in str(info.value)


def test_cache_dir_respects_keras_home(tmp_path):
    code = "from common.backbones import keras_cache_dir; print(keras_cache_dir())"
    env = dict(os.environ, KERAS_HOME=str(tmp_path), KERAS_BACKEND="tensorflow")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == os.path.join(str(tmp_path), "models")


# ------------------------------------------------------------------ image-classifiers weights


@pytest.fixture(scope="module")
def ic_resnet34():
    """image-classifiers' own ResNet34 (tf.keras) with random weights, BN statistics included."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("image-classifiers builds on tf.keras (TensorFlow backend)")
    tfkeras = pytest.importorskip("classification_models.tfkeras")
    ResNet34, _ = tfkeras.Classifiers.get("resnet34")
    source = ResNet34(input_shape=(64, 64, 3), weights=None, include_top=False)
    rng = np.random.default_rng(0)
    for variable in source.weights:
        shape = tuple(variable.shape)
        if "moving_variance" in variable.name or "gamma" in variable.name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_mean" in variable.name or "beta" in variable.name:
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = rng.normal(0.0, np.sqrt(2.0 / int(np.prod(shape[:-1]))), shape)
        variable.assign(value.astype("float32"))
    images = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    names = ["relu0", "stage2_unit1_relu1", "stage3_unit1_relu1", "stage4_unit1_relu1", "relu1"]
    probe = keras.Model(source.input, [source.get_layer(n).output for n in names])
    features = dict(zip(LEVELS, (np.asarray(f) for f in probe(images, training=False))))
    return source, images, features


def _assert_same_features(encoder, images, theirs):
    ours = encoder(images, training=False)
    for level in LEVELS:
        scale = float(np.abs(theirs[level]).max()) + 1e-6
        np.testing.assert_allclose(
            np.asarray(ours[level]) / scale, theirs[level] / scale, atol=2e-5, err_msg=level
        )


def test_image_classifiers_resnet34_weight_transfer(ic_resnet34):
    """Weights of image-classifiers' own ResNet34 map onto ours by name and give the same features."""
    source, images, features = ic_resnet34
    ours = build_encoder("resnet34", (64, 64, 3))
    assert ours.count_params() == source.count_params()
    assigned = load_image_classifiers_weights(ours, source)
    assert assigned == len(ours.weights) == len(source.weights)
    _assert_same_features(ours, images, features)


def _legacy_h5(source, path):
    """Write `source`'s weights in the Keras-2 .h5 layout of the published weight files."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    return str(path)


def test_imagenet_weights_load_from_keras_cache(ic_resnet34, monkeypatch, tmp_path):
    """weights='imagenet' loads the cached image-classifiers file through the same name mapping."""
    source, images, features = ic_resnet34
    cached = _legacy_h5(source, tmp_path / "resnet34_imagenet_1000_no_top.h5")
    requested = []

    def cached_get_file(fname=None, origin=None, **kwargs):
        requested.append((fname, origin, kwargs))
        return cached

    monkeypatch.setattr(keras.utils, "get_file", cached_get_file)
    ours = build_encoder("resnet34", (64, 64, 3), weights="imagenet")
    fname, origin, kwargs = requested[0]
    assert fname == "resnet34_imagenet_1000_no_top.h5"
    assert origin.endswith("/resnet34_imagenet_1000_no_top.h5")
    assert kwargs["file_hash"] == "8caaa0ad39d927cb8ba5385bf945d582"
    _assert_same_features(ours, images, features)
    # the path of such a file works too
    _assert_same_features(build_encoder("resnet34", (64, 64, 3), weights=cached), images, features)


def test_weights_path_round_trip(tmp_path):
    first = build_encoder("resnet18", (32, 32, 3))
    path = tmp_path / "resnet18.weights.h5"
    first.save_weights(path)
    second = build_encoder("resnet18", (32, 32, 3), weights=str(path))
    images = np.random.default_rng(3).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    a, b = first(images, training=False), second(images, training=False)
    for level in LEVELS:
        np.testing.assert_array_equal(a[level], b[level])


def test_mapping_reports_missing_layers():
    ours = build_encoder("resnet18", (32, 32, 3))
    arrays = backbones.image_classifiers_weight_arrays(ours)
    del arrays["conv0"]
    arrays["bn0"]["gamma"] = np.ones(3, "float32")
    with pytest.raises(ValueError, match="conv0.*missing|bn0/gamma"):
        load_image_classifiers_weights(ours, arrays)


# ------------------------------------------------------------------ segmentation-models / JAX


@pytest.mark.slow
def test_segmentation_models_levels_are_its_own_feature_layers():
    """Our named levels are the layers segmentation-models' U-Net picks by index."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")
    from common.backbones import registry

    os.environ["SM_FRAMEWORK"] = "tf.keras"
    sm = pytest.importorskip("segmentation_models")
    for name in ("seresnet152", "seresnext101"):
        base = registry._base_model(ENCODERS[name], (256, 256, 3), None)
        registry._canonicalise_auto_names(base)
        indices = sm.Backbones.get_feature_layers(name, n=4)  # P4, P3, P2, P1
        assert [base.layers[i].name for i in indices] == list(ENCODERS[name].feature_layers[3::-1])
        assert base.layers[-1].name == ENCODERS[name].feature_layers[4]


@pytest.mark.slow
def test_segmentation_models_encoder_saves_and_loads(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")
    encoder = build_encoder("seresnet152", (64, 64, 3))
    images = np.random.default_rng(4).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    expected = encoder(images, training=False)
    encoder.save(tmp_path / "se.keras")
    loaded = keras.saving.load_model(tmp_path / "se.keras", custom_objects=backbones.custom_objects())
    encoder.save_weights(tmp_path / "se.weights.h5")
    reloaded = build_encoder("seresnet152", (64, 64, 3), weights=str(tmp_path / "se.weights.h5"))
    for other in (loaded, reloaded):
        got = other(images, training=False)
        for level in LEVELS:
            np.testing.assert_array_equal(np.asarray(got[level]), np.asarray(expected[level]))


@pytest.mark.slow
def test_jax_backend_resnet_and_sm_error():
    """ResNet18/34 are plain keras.layers (run on JAX); segmentation-models encoders refuse clearly."""
    pytest.importorskip("jax")
    code = (
        "import numpy as np, keras\n"
        "from common.backbones import build_encoder\n"
        "e = build_encoder('resnet18', (32, 32, 3))\n"
        "f = e(np.zeros((1, 32, 32, 3), 'float32'))\n"
        "assert f['P5'].shape == (1, 1, 1, 512), f['P5'].shape\n"
        "try:\n"
        "    build_encoder('seresnet152', (64, 64, 3))\n"
        "except RuntimeError as err:\n"
        "    assert 'TensorFlow backend' in str(err), err\n"
        "    print('OK', keras.backend.backend())\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK jax" in done.stdout
