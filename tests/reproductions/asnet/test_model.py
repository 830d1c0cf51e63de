"""ASNet models: every Table 2 row builds, shapes, parameter counts, serialization, training."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from reproductions.asnet import configs
from reproductions.asnet.configs import BASE, PUBLISHED, ROWS, TABLES, Config
from reproductions.asnet.layers import ScaleAwareFusion, SharedDilatedConv2D
from reproductions.asnet.model import build_model

SIZE = (64, 64)

# Parameter counts do not depend on the input size (convolutions only).
PARAMS = {
    "U-Net": 31_049_409,
    "Baseline": 24_456_026,
    "Baseline_ASM_w/o_DI": 29_182_303,
    "Baseline_ASM_w/o_SA": 26_821_467,
    "Baseline_Wide": 29_167_706,
    "ASNet": 29_182_303,
}


def tiny(row: str) -> Config:
    return dataclasses.replace(ROWS[row], image_size=SIZE, encoder_weights=None)


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {row: build_model(tiny(row)) for row in ROWS}


# ------------------------------------------------------------------ configs


def test_rows_in_table_order_and_paper_numbers():
    assert list(ROWS) == [
        "U-Net", "Baseline", "Baseline_ASM_w/o_DI", "Baseline_ASM_w/o_SA", "Baseline_Wide", "ASNet"
    ]
    assert TABLES == {"Table 2": list(ROWS)}
    table = PUBLISHED["Table 2"]
    assert set(table) == set(ROWS) | set(configs.CITED_ONLY)
    assert table["ASNet"] == {
        "jaccard": 0.8215, "jaccard_std": 0.00328, "dice": 0.8888, "dice_std": 0.00390,
        "accuracy": 0.9600, "accuracy_std": 0.00228,
    }
    assert table["U-Net"]["jaccard"] == 0.7870 and table["Baseline"]["accuracy_std"] == 0.00617
    assert table["MultiResU-Net"] == {"jaccard": 0.8030, "jaccard_std": 0.00372}
    for row in table.values():
        assert all(0.0 <= v <= 1.0 for v in row.values())


def test_rows_differ_from_base_only_where_the_paper_says():
    def diff(cfg):
        return {f.name for f in dataclasses.fields(Config) if getattr(cfg, f.name) != getattr(BASE, f.name)}

    assert ROWS["ASNet"] == BASE
    assert diff(ROWS["Baseline"]) == {"use_asm"}
    assert diff(ROWS["Baseline_ASM_w/o_DI"]) == {"asm_dilation_rates"}
    assert diff(ROWS["Baseline_ASM_w/o_SA"]) == {"asm_fusion"}
    assert diff(ROWS["Baseline_Wide"]) == {"use_asm", "decoder_residual_blocks"}
    assert diff(ROWS["U-Net"]) == {"architecture", "use_asm", "encoder_weights", "preprocessing"}


def test_training_settings_of_section_2_5():
    assert BASE.image_size == (192, 256)  # H x W: 256x192 landscape, ISIC's average aspect ratio
    assert (BASE.learning_rate, BASE.lr_power, BASE.momentum, BASE.weight_decay) == (0.01, 0.9, 0.9, 1e-4)
    assert (BASE.optimizer, BASE.lr_schedule, BASE.batch_size, BASE.split) == ("sgd", "poly", 12, "kfold:5")
    assert (BASE.encoder, BASE.encoder_weights) == ("resnet34", "imagenet")
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE.batch_size = 4


# ------------------------------------------------------------------ models


@pytest.mark.parametrize("row", list(ROWS))
def test_every_row_builds_with_its_parameter_count(models, row):
    model = models[row]
    assert tuple(model.input.shape) == (None, *SIZE, 3)
    assert tuple(model.output.shape) == (None, *SIZE, 1)
    assert model.count_params() == PARAMS[row]


def test_row_structure(models):
    def shared(model):
        return [layer for layer in model.layers if isinstance(layer, SharedDilatedConv2D)]

    assert shared(models["ASNet"])[0].dilation_rates == (1, 2, 4)
    assert len(shared(models["ASNet"])[0].weights) == 1
    assert shared(models["Baseline_ASM_w/o_DI"])[0].dilation_rates == (1, 1, 1)
    assert not shared(models["Baseline"]) and not shared(models["Baseline_Wide"]) and not shared(models["U-Net"])
    assert sum(isinstance(layer, ScaleAwareFusion) for layer in models["ASNet"].layers) == 2
    assert not any(isinstance(layer, ScaleAwareFusion) for layer in models["Baseline_ASM_w/o_SA"].layers)
    assert models["Baseline_ASM_w/o_SA"].get_layer("asm_mean") is not None
    assert models["Baseline_Wide"].get_layer("decoder4_res3_add") is not None
    assert models["ASNet"].get_layer("encoder").name == "encoder"


def test_wide_baseline_matches_asnet_complexity():
    assert abs(PARAMS["Baseline_Wide"] - PARAMS["ASNet"]) / PARAMS["ASNet"] < 0.001


def test_output_is_a_probability_map(models):
    images = np.random.default_rng(0).uniform(0, 255, (2, *SIZE, 3)).astype("float32")
    for row in ("ASNet", "U-Net"):
        out = np.asarray(models[row](images, training=False))
        assert out.shape == (2, *SIZE, 1) and out.min() >= 0.0 and out.max() <= 1.0


def test_bad_configs():
    with pytest.raises(ValueError, match="divisible by 32"):
        build_model(dataclasses.replace(tiny("ASNet"), image_size=(48, 64)))
    with pytest.raises(ValueError, match="use_asm"):
        build_model(dataclasses.replace(tiny("U-Net"), use_asm=True))
    with pytest.raises(ValueError, match="architecture"):
        build_model(dataclasses.replace(tiny("ASNet"), architecture="fpn"))


def test_get_config_round_trip(models):
    model = models["ASNet"]
    clone = keras.Model.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    images = np.random.default_rng(1).uniform(0, 255, (1, *SIZE, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(clone(images, training=False)), np.asarray(model(images, training=False)), atol=1e-6
    )


def test_keras_save_load_gives_identical_outputs(models, tmp_path):
    model = models["ASNet"]
    # a non-zero beta, so that the adaptive scale module contributes to the output
    model.get_layer("asm_residual").beta.assign(0.7)
    path = tmp_path / "asnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    images = np.random.default_rng(2).uniform(0, 255, (2, *SIZE, 3)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(loaded(images, training=False)), np.asarray(model(images, training=False))
    )
    assert float(loaded.get_layer("asm_residual").beta.numpy()) == pytest.approx(0.7)


def _train(cfg: Config, steps: int, run_eagerly: bool) -> tuple[list[float], float]:
    keras.utils.set_random_seed(1)
    model = build_model(cfg)
    model.compile(
        optimizer=keras.optimizers.SGD(BASE.learning_rate, momentum=BASE.momentum, weight_decay=BASE.weight_decay),
        loss="binary_crossentropy",
        jit_compile=False,  # XLA compilation of the train step alone takes a minute on a CPU
        run_eagerly=run_eagerly,  # tracing a ResNet34 U-Net train step takes ~30-50 s on 2 CPU cores
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, *SIZE, 3)).astype("float32")
    yy, xx = np.mgrid[: SIZE[0], : SIZE[1]]
    masks = ((yy - 32) ** 2 + (xx - 30) ** 2 < 15**2).astype("float32")[None, ..., None].repeat(2, 0)
    images[masks[..., 0] > 0] *= 0.4  # a darker "lesion"
    losses = [float(model.train_on_batch(images, masks)) for _ in range(steps)]
    return losses, float(model.get_layer("asm_residual").beta.numpy())


def test_few_training_steps_lower_the_loss():
    """A narrow ASNet (ResNet18 encoder, thin decoder and SAMs) with the paper's SGD settings."""
    cfg = dataclasses.replace(
        tiny("ASNet"), encoder="resnet18", decoder_filters=(32, 16, 16, 8, 8), sam_channels=8, asm_beta_init=0.1
    )
    losses, beta = _train(cfg, steps=3, run_eagerly=True)
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0], losses
    assert beta != pytest.approx(0.1), "beta is learnable"


@pytest.mark.slow
def test_few_training_steps_lower_the_loss_full_width():
    losses, beta = _train(dataclasses.replace(tiny("ASNet"), asm_beta_init=0.1), steps=6, run_eagerly=False)
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0], losses
    assert beta != pytest.approx(0.1)


@pytest.mark.slow
def test_asnet_runs_on_jax():
    """layers.py and model.py use keras.ops only: the model builds and runs on the JAX backend."""
    pytest.importorskip("jax")
    code = (
        "import dataclasses, numpy as np, keras\n"
        "from reproductions.asnet.configs import ROWS\n"
        "from reproductions.asnet.model import build_model\n"
        "cfg = dataclasses.replace(ROWS['ASNet'], image_size=(64, 64), encoder_weights=None)\n"
        "y = build_model(cfg)(np.zeros((1, 64, 64, 3), 'float32'))\n"
        "assert y.shape == (1, 64, 64, 1), y.shape\n"
        "print('OK', keras.backend.backend())\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    repo = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK jax" in done.stdout
