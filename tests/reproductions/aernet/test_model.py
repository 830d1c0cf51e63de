"""AER-Net builder: every table row builds, shapes, serialisation, training lowers the Dice loss."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras

from reproductions.aernet import configs
from reproductions.aernet import model as model_module
from reproductions.aernet.configs import BASE, CITED_ONLY, PUBLISHED, PAPER_LABELS, ROWS, TABLES
from reproductions.aernet.layers import AttentionGate, ResidualBlock
from reproductions.aernet.model import build_model, build_unet_encoder

try:
    from common.losses import dice_loss
except ImportError:  # pragma: no cover - the shared losses module is the normal source
    def dice_loss(y_true, y_pred):
        """Eq. 1 with a smoothing of 1: 1 - 2 sum(pg) / (sum p^2 + sum g^2), per image, batch mean."""
        inter = keras.ops.sum(y_true * y_pred, axis=(1, 2, 3))
        denom = keras.ops.sum(y_true ** 2, axis=(1, 2, 3)) + keras.ops.sum(y_pred ** 2, axis=(1, 2, 3))
        return keras.ops.mean(1.0 - (2.0 * inter + 1.0) / (denom + 1.0))

REPO = Path(__file__).resolve().parents[3]
SIZE = 64
SM_ENCODERS = ("seresnext101", "seresnet152")  # large segmentation-models encoders: slow to build
# A tiny original-U-Net row (attention + residual) for the tests that train or serialise repeatedly.
TINY = dataclasses.replace(ROWS["Attention + Residual connections + U-Net"],
                           unet_encoder_filters=(4, 8, 16, 32, 64), decoder_filters=(32, 16, 8, 4))


def _x(cfg, n=2, size=SIZE, seed=0):
    return np.random.default_rng(seed).random((n, size, size, cfg.input_channels), dtype=np.float32)


def _build(cfg, size=SIZE):
    return build_model(cfg, encoder_weights=None, input_shape=(size, size, cfg.input_channels))


def _row_params():
    return [pytest.param(name, marks=[pytest.mark.slow] if ROWS[name].encoder in SM_ENCODERS else [])
            for name in ROWS]


# --- configs -------------------------------------------------------------------------------------

def test_tables_reference_rows_in_paper_order():
    own = [r for table in TABLES.values() for r in table]
    assert set(own) <= set(ROWS)
    assert list(dict.fromkeys(own)) == list(ROWS)  # ROWS follow the tables' order, each once
    assert set(TABLES) == set(PUBLISHED) == set(PAPER_LABELS)
    for table, rows in TABLES.items():
        assert set(PUBLISHED[table]) <= set(rows) | set(CITED_ONLY), table
        assert set(PAPER_LABELS[table]) == set(rows) | set(PUBLISHED[table]), table
        for row, numbers in PUBLISHED[table].items():
            assert numbers and all(v is None or 0.0 < v < 1.0 for v in numbers.values()), (table, row)
    assert list(PUBLISHED["Table 3"]) == [*CITED_ONLY, "AER-Net"]  # the paper's Table 3 order
    assert PUBLISHED["Table 2"]["AER-Net"] == {"jaccard": 0.772, "dice": 0.8525}
    assert PUBLISHED["Table 3"]["AER-Net"] == {"jaccard": 0.7729, "dice": 0.8525}
    assert PUBLISHED["Table 1"]["U-Net EfficientNetB3"] == {"jaccard": 0.7565}
    assert PUBLISHED["Table 3"]["Ji et al. 2018 (ResNet34-based)"]["dice"] is None  # "-" in the paper


def test_rows_differ_from_base_only_in_their_difference():
    plain = {"use_attention", "use_residual"}
    unet = {"encoder", "encoder_weights", "decoder_filters"}
    expected = {
        "U-Net EfficientNetB1": plain, "U-Net SE-ResNeXt101": plain | {"encoder"},
        "U-Net EfficientNetB3": plain | {"encoder"}, "U-Net SE-ResNet152": plain | {"encoder"},
        "U-Net EfficientNetB0": plain | {"encoder"},
        "U-Net": unet | plain, "Attention + U-Net": unet | {"use_residual"},
        "Attention + Residual connections + U-Net": unet, "AER-Net": set(),
        "AER-Net HSV": {"colour_space"}, "AER-Net RGB": {"colour_space"},
        "AER-Net HSV + RGB": {"colour_space"}, "AER-Net grey": {"colour_space"},
    }
    assert list(expected) == list(ROWS)
    for name, cfg in ROWS.items():
        diff = {f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != getattr(BASE, f.name)}
        assert diff == expected[name], name


def test_base_follows_sections_3_1_to_3_4():
    assert (BASE.encoder, BASE.encoder_weights, BASE.psi_activation) == ("efficientnetb1", "imagenet", "sigmoid")
    assert BASE.use_attention and BASE.use_residual
    assert (BASE.colour_space, BASE.image_size, BASE.input_shape) == ("lab", (256, 256), (256, 256, 3))
    assert (BASE.loss, BASE.optimizer, BASE.learning_rate, BASE.batch_size, BASE.epochs) == ("dice", "adam", 1e-3, 16, 100)
    assert BASE.split == "count:2094"
    assert [ROWS[r].input_channels for r in TABLES[configs.COLOUR_TABLE]] == [3, 3, 6, 1, 3]


def test_config_validation():
    with pytest.raises(ValueError, match="colour_space"):
        dataclasses.replace(BASE, colour_space="xyz")
    with pytest.raises(ValueError, match="psi_activation"):
        dataclasses.replace(BASE, psi_activation="tanh")
    with pytest.raises(ValueError, match="no pretrained weights"):
        dataclasses.replace(BASE, encoder="unet")


# --- building ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_encoders():
    """Build each backbone once per module: rows differing only in the decoder or the input reuse it."""
    cache = {}
    real = model_module.build_encoder

    def cached(name, input_shape, weights=None):
        key = (name, tuple(input_shape), weights)
        if key not in cache:
            cache[key] = real(name, input_shape, weights=weights)
        return cache[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(model_module, "build_encoder", cached)
    yield cache
    patch.undo()


@pytest.fixture(scope="module")
def aernet(shared_encoders):
    """AER-Net (``BASE``) at 64 x 64 with a randomly initialised encoder."""
    return _build(BASE)


@pytest.fixture
def fake_encoder(monkeypatch):
    """A tiny strided-conv pyramid standing in for ``build_encoder``; records the calls it gets."""
    calls = []

    def build(name, input_shape, weights=None):
        calls.append({"name": name, "input_shape": tuple(input_shape), "weights": weights})
        inputs = keras.Input(input_shape)
        x, outputs = inputs, {}
        for n in range(1, 6):
            x = keras.layers.Conv2D(4 * n, 3, strides=2, padding="same")(x)
            outputs[f"P{n}"] = x
        return keras.Model(inputs, outputs, name=f"fake_{name}")

    monkeypatch.setattr(model_module, "build_encoder", build)
    return calls


@pytest.mark.parametrize("row", _row_params())
def test_every_row_builds(row, shared_encoders):
    cfg = ROWS[row]
    model = _build(cfg)
    assert model.input_shape == (None, SIZE, SIZE, cfg.input_channels)
    assert model.output_shape == (None, SIZE, SIZE, 1)
    y = keras.ops.convert_to_numpy(model(_x(cfg), training=False))
    assert y.shape == (2, SIZE, SIZE, 1) and np.all((y >= 0) & (y <= 1))
    gates = [l for l in model.layers if isinstance(l, AttentionGate)]
    blocks = [l for l in model.layers if isinstance(l, ResidualBlock)]
    assert len(blocks) == len(cfg.decoder_filters)
    assert all(b.shortcut == cfg.use_residual for b in blocks)
    # every level with an encoder skip is gated: 4 skips (strides 16..2 or 8..1) in every encoder
    assert len(gates) == (4 if cfg.use_attention else 0)
    assert all(g.psi_activation == cfg.psi_activation for g in gates)
    names = {l.name for l in model.layers}
    assert ("colour_adapter" in names) == (cfg.input_channels != 3)
    assert ("encoder_input_scaling" in names) == (cfg.encoder != "unet")


@pytest.mark.parametrize("row, kernel", [
    ("AER-Net grey", [[1.0, 1.0, 1.0]]),
    ("AER-Net HSV + RGB", [[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]] * 2),
])
def test_colour_adapter_starts_as_a_colour_mapping(row, kernel, fake_encoder):
    model = _build(ROWS[row])
    adapter = model.get_layer("colour_adapter")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(adapter.kernel)[0, 0], np.array(kernel))
    assert fake_encoder[-1]["input_shape"] == (SIZE, SIZE, 3)  # the encoder always sees 3 channels
    assert model.get_layer("encoder_input_scaling").mode == "none"  # EfficientNet normalises 0-255 inside


def test_unet_encoder_strides():
    enc = build_unet_encoder((32, 32, 1), (4, 8, 16, 32, 64))
    shapes = {k: tuple(v.shape) for k, v in enc.output.items()}
    assert shapes == {"P0": (None, 32, 32, 4), "P1": (None, 16, 16, 8), "P2": (None, 8, 8, 16),
                      "P3": (None, 4, 4, 32), "P4": (None, 2, 2, 64)}


def test_aernet_decoder_halves_channels_and_gates_from_the_coarser_level(aernet):
    widths = [aernet.get_layer(f"decoder{i}_block").output.shape[-1] for i in range(5)]
    assert widths == [256, 128, 64, 32, 16]
    sides = [aernet.get_layer(f"decoder{i}_block").output.shape[1] for i in range(5)]
    assert sides == [SIZE // 16, SIZE // 8, SIZE // 4, SIZE // 2, SIZE]
    for i in range(4):
        skip, gating = aernet.get_layer(f"decoder{i}_gate").input
        assert skip.shape[1] == 2 * gating.shape[1]  # gating signal from the next coarser level
        assert gating.shape[-1] == (1280 if i == 0 else BASE.decoder_filters[i - 1])
    with pytest.raises(ValueError):
        aernet.get_layer("decoder4_gate")  # the last level (stride 1) has no encoder skip


def test_encoder_weights_override(fake_encoder):
    _build(BASE)  # encoder_weights=None
    build_model(BASE, input_shape=(SIZE, SIZE, 3))  # default: the config's "imagenet"
    build_model(BASE, encoder_weights="none", input_shape=(SIZE, SIZE, 3))
    build_model(BASE, encoder_weights="/some/encoder.weights.h5", input_shape=(SIZE, SIZE, 3))
    assert [c["weights"] for c in fake_encoder] == [None, "imagenet", None, "/some/encoder.weights.h5"]
    assert {c["name"] for c in fake_encoder} == {"efficientnetb1"}


def test_build_errors(fake_encoder):
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_model(ROWS["U-Net"], encoder_weights="imagenet", input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="decoder_filters needs 4 widths"):
        _build(dataclasses.replace(ROWS["U-Net"], decoder_filters=(8, 8)))
    with pytest.raises(ValueError, match="decoder_filters needs 5 widths"):
        _build(dataclasses.replace(BASE, decoder_filters=(8, 8, 8, 8)))
    with pytest.raises(ValueError, match="multiple of 16"):
        _build(TINY, size=40)


def test_psi_activation_option_changes_the_model():
    relu_cfg = dataclasses.replace(TINY, psi_activation="relu")
    sig, relu = _build(TINY), _build(relu_cfg)
    relu.set_weights(sig.get_weights())
    x = _x(TINY)
    assert all(l.psi_activation == "relu" for l in relu.layers if isinstance(l, AttentionGate))
    assert not np.allclose(keras.ops.convert_to_numpy(sig(x, training=False)),
                           keras.ops.convert_to_numpy(relu(x, training=False)))


# --- serialisation -------------------------------------------------------------------------------

def _same_outputs(a, b, x):
    np.testing.assert_allclose(keras.ops.convert_to_numpy(a(x, training=False)),
                               keras.ops.convert_to_numpy(b(x, training=False)), rtol=1e-5, atol=1e-6)


def test_get_config_round_trip_tiny():
    model = _build(TINY)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    _same_outputs(clone, model, _x(TINY))


@pytest.mark.slow
def test_get_config_round_trip_aernet(aernet):
    clone = keras.Model.from_config(aernet.get_config())
    clone.set_weights(aernet.get_weights())
    _same_outputs(clone, aernet, _x(BASE))


def test_keras_save_load_same_outputs_tiny(tmp_path):
    model = _build(TINY)
    model.save(tmp_path / "tiny.keras")
    _same_outputs(keras.saving.load_model(tmp_path / "tiny.keras"), model, _x(TINY))


def test_keras_save_load_same_outputs_fake_backbone(fake_encoder, tmp_path):
    """Colour adapter, input scaling, a nested dict-output encoder, gates and blocks survive `.keras`."""
    cfg = ROWS["AER-Net grey"]
    model = _build(cfg)
    model.save(tmp_path / "grey.keras")
    _same_outputs(keras.saving.load_model(tmp_path / "grey.keras"), model, _x(cfg))


@pytest.mark.slow
def test_keras_save_load_same_outputs_aernet(aernet, tmp_path):
    """The whole model (EfficientNetB1 encoder, gates, blocks) rebuilt from its saved config + weights."""
    aernet.save(tmp_path / "aernet.keras")
    loaded = keras.saving.load_model(tmp_path / "aernet.keras")  # no custom_objects: layers are registered
    assert [l.name for l in loaded.layers] == [l.name for l in aernet.layers]
    _same_outputs(loaded, aernet, _x(BASE))


# --- training ------------------------------------------------------------------------------------

def _disks(n, size, seed=0):
    """Random images whose mask is a bright disk: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        cy, cx = rng.integers(size // 4, 3 * size // 4, size=2)
        masks[i, ..., 0] = (yy - cy) ** 2 + (xx - cx) ** 2 < (size // 5) ** 2
    images = np.clip(0.3 * rng.random((n, size, size, 3)) + 0.6 * masks, 0, 1).astype(np.float32)
    return images, masks


def _train_lowers_dice(model, cfg, size, steps, eager):
    """``steps`` Adam steps (the paper's optimiser and learning rate) on 2 images lower eq. 1."""
    x, y = _disks(2, size)
    # eager steps: tracing a training graph costs more than a few tiny steps on a small CPU
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=dice_loss,
                  run_eagerly=eager, jit_compile=False)
    before = float(dice_loss(y, model(x, training=False)))
    for _ in range(steps):
        model.train_on_batch(x, y)
    after = float(dice_loss(y, model(x, training=False)))
    assert np.isfinite(after) and after < before, (before, after)


def test_training_steps_lower_the_dice_loss_tiny():
    keras.utils.set_random_seed(0)
    _train_lowers_dice(_build(TINY, size=32), TINY, 32, steps=5, eager=True)


@pytest.mark.slow
def test_training_steps_lower_the_dice_loss_aernet():
    keras.utils.set_random_seed(0)
    _train_lowers_dice(_build(BASE), BASE, SIZE, steps=10, eager=False)


# --- JAX backend ---------------------------------------------------------------------------------

_JAX_SCRIPT = """
import json, sys
import numpy as np, keras
import reproductions.aernet.layers  # registers the custom layers
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(x, training=False)))
print(json.dumps({"backend": keras.backend.backend()}))
"""


@pytest.mark.slow
def test_tiny_model_gives_the_same_outputs_on_jax(tmp_path):
    pytest.importorskip("jax")
    model = _build(TINY)
    x = _x(TINY)
    np.save(tmp_path / "x.npy", x)
    model.save(tmp_path / "m.keras")
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", _JAX_SCRIPT, str(tmp_path / "m.keras"), str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["backend"] == "jax"
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), keras.ops.convert_to_numpy(model(x, training=False)),
                               rtol=1e-4, atol=1e-5)
