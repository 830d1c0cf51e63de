"""SLSNet generator / discriminator builders and the row configurations."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from common.profiling import count_macs, count_params
from reproductions.slsnet.configs import (BASE, PUBLISHED, ROWS, TABLES, SLSNetConfig,
                                          canonical_row, get_row)
from reproductions.slsnet.layers import CAM, FAM, PAM
from reproductions.slsnet.model import build_discriminator, build_generator

REPO = Path(__file__).resolve().parents[3]

# Small widths and depths for behavioural tests (the structure is the paper's).
TINY = dict(image_size=32, multiscale_width=4, widths=(4, 8, 16), num_fams=(1, 2),
            fam_dilations=(1, 2), decoder_widths=(8, 4), decoder_fams=1, disc_widths=(4, 8, 16))


def tiny(row: str = "SLSNet", **changes) -> SLSNetConfig:
    return replace(ROWS[row], **{**TINY, **changes})


@functools.lru_cache(maxsize=None)
def _built(cfg: SLSNetConfig):
    return build_generator(cfg), build_discriminator(cfg)


def _run(model, data):
    """Eager inference call (no tracing or XLA compilation: fast on small CPUs)."""
    return keras.ops.convert_to_numpy(model(data, training=False))


def _images(n=2, size=32, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, size, size, 3)).astype("float32")


def _attention_layers(model):
    """(PAMs, CAMs) anywhere in the model, CAMs inside FAMs included."""
    pams, cams = [], []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, PAM):
            pams.append(layer)
        elif isinstance(layer, CAM):
            cams.append(layer)
    return pams, cams


def test_generator_and_discriminator_shapes():
    cfg = tiny()
    generator, discriminator = _built(cfg)
    images = _images()
    masks = _run(generator, images)
    assert masks.shape == (2, 32, 32, 1) and masks.dtype == np.float32
    assert ((masks >= 0) & (masks <= 1)).all()
    patches = _run(discriminator, [images, masks])
    assert patches.shape == (2, 4, 4, 1)
    assert ((patches >= 0) & (patches <= 1)).all()


@pytest.mark.parametrize("row", [
    pytest.param(row, marks=pytest.mark.slow) if ROWS[row].image_size[0] > 128 else row
    for row in ROWS
])
def test_every_row_builds(row):
    cfg = ROWS[row]
    generator, discriminator = _built(cfg)
    size = cfg.image_size[0]
    assert tuple(generator.output.shape) == (None, size, size, 1)
    assert [tuple(t.shape) for t in discriminator.inputs] == [(None, size, size, 3),
                                                              (None, size, size, 1)]
    assert tuple(discriminator.output.shape) == (None, size // 8, size // 8, 1)


@pytest.mark.parametrize("row, pams, cams, multiscale, disc", [
    # (row, PAMs in G, CAMs in G, multiscale convs, (PAMs, CAMs) in D)
    ("BL GAN", 0, 0, 0, (0, 0)),
    ("BL + PAM", 6, 0, 0, (1, 0)),
    ("BL + CAM", 0, 1 + 2 + 1 + 2, 0, (0, 1)),
    ("BL + PAM + CAM w/o MS", 6, 1 + 2 + 1 + 2, 0, (1, 1)),
    ("SLSNet", 6, 4 + 1 + 2 + 1 + 2, 4, (1, 1)),
])
def test_table6_ablation_flags(row, pams, cams, multiscale, disc):
    generator, discriminator = _built(tiny(row))
    found_pams, found_cams = _attention_layers(generator)
    assert (len(found_pams), len(found_cams)) == (pams, cams)
    convs = [layer for layer in generator.layers if layer.name.startswith("multiscale_")
             and isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == multiscale
    fams = [layer for layer in generator.layers if isinstance(layer, FAM)]
    assert len(fams) == 1 + 2 + 2 * 1
    d_pams, d_cams = _attention_layers(discriminator)
    assert (len(d_pams), len(d_cams)) == disc


def test_encoder_reaches_one_eighth_resolution():
    generator, _ = _built(tiny())
    assert tuple(generator.get_layer("bottleneck_factorized").output.shape) == (None, 4, 4, 16)
    assert tuple(generator.get_layer("up1_deconv").output.shape) == (None, 8, 8, 8)


def test_decoder_dropout_is_the_noise_z():
    generator, _ = _built(tiny(dropout=0.5))
    images = _images(1)
    train_a = keras.ops.convert_to_numpy(generator(images, training=True))
    train_b = keras.ops.convert_to_numpy(generator(images, training=True))
    assert not np.allclose(train_a, train_b)
    np.testing.assert_allclose(_run(generator, images),
                               _run(generator, images))
    no_noise, _ = _built(tiny(dropout=0.0))
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in no_noise.layers)


def _set_attention_scales(model, value=0.25):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, CAM):
            layer.gamma.assign(value)
        if isinstance(layer, PAM):
            layer.eta.assign(value)


def test_get_config_round_trip():
    generator = build_generator(tiny())
    _set_attention_scales(generator)
    clone = keras.Model.from_config(generator.get_config())
    clone.set_weights(generator.get_weights())
    images = _images()
    np.testing.assert_allclose(_run(clone, images),
                               _run(generator, images), atol=1e-6)
    assert clone.get_config() == generator.get_config()


def test_keras_save_load_identical_outputs(tmp_path):
    cfg = tiny()
    generator, discriminator = build_generator(cfg), build_discriminator(cfg)
    _set_attention_scales(generator)
    _set_attention_scales(discriminator, -0.5)
    images = _images()
    masks = _run(generator, images)
    for model, data in ((generator, images), (discriminator, [images, masks])):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(_run(loaded, data), _run(model, data),
                                   atol=1e-6)


def test_a_few_training_steps_lower_the_loss():
    keras.utils.set_random_seed(0)
    generator = build_generator(tiny(dropout=0.0, num_fams=(1, 1), fam_dilations=(1,)))
    images = _images(4, seed=1)
    masks = (images.mean(-1, keepdims=True) > 0.5).astype("float32")
    generator.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                      loss=keras.losses.BinaryCrossentropy(), run_eagerly=True)
    losses = [float(generator.train_on_batch(images, masks)) for _ in range(3)]
    assert losses[-1] < losses[0], losses


def test_paper_size_slsnet_128():
    """Table 3/4: 2.35 M parameters; Tables 5-7: 0.90 GMACs at 128 x 128 (within 10 %)."""
    generator, _ = _built(ROWS["SLSNet"])
    params = count_params(generator, trainable_only=True)
    assert abs(params - 2.35e6) / 2.35e6 < 0.10, params
    macs = count_macs(generator, include_matmul=False)
    assert abs(macs - 0.90e9) / 0.90e9 < 0.10, macs


@pytest.mark.parametrize("row, table", [
    ("BL GAN", "Table 6"), ("BL + PAM", "Table 6"), ("BL + CAM", "Table 6"),
    ("BL + PAM + CAM w/o MS", "Table 6"), ("SLSNet 64", "Table 5"),
])
def test_paper_macs_of_other_rows(row, table):
    generator, _ = _built(ROWS[row])
    macs = count_macs(generator, include_matmul=False)
    paper = PUBLISHED[table][row]["macs_g"] * 1e9
    assert abs(macs - paper) / paper < 0.10, (row, macs)


@pytest.mark.slow  # the 256 x 256 forward pass builds two 16384 x 16384 attention maps
def test_paper_macs_at_256():
    """Table 7 gives 3.61 G at 256 x 256 (Table 5 prints 3.16 G for the same model)."""
    generator, _ = _built(ROWS["SLSNet 256"])
    macs = count_macs(generator, include_matmul=False)
    assert abs(macs - 3.61e9) / 3.61e9 < 0.10, macs
    assert macs == pytest.approx(4 * count_macs(_built(ROWS["SLSNet 128"])[0],
                                                include_matmul=False), rel=1e-6)


def test_macs_ordering_matches_table6():
    """PAM adds convolutions, CAM adds none, the multiscale block adds some (Table 6)."""
    macs = {row: count_macs(_built(ROWS[row])[0], include_matmul=False)
            for row in TABLES["Table 6"]}
    assert macs["BL GAN"] == macs["BL + CAM"]
    assert macs["BL GAN"] < macs["BL + PAM"] == macs["BL + PAM + CAM w/o MS"] < macs["SLSNet"]


# --- configs -------------------------------------------------------------------------------

def test_tables_name_rows_and_paper_numbers():
    assert list(ROWS)[:2] == ["SLSNet (ISIC 2017)", "SLSNet (ISIC 2018)"]
    for table, rows in TABLES.items():
        for row in rows:
            assert row in ROWS
            assert row in PUBLISHED[table], (table, row)
    assert set(PUBLISHED) == {f"Table {n}" for n in range(3, 9)}
    metrics = {"accuracy", "dice", "jaccard", "sensitivity", "specificity",
               "thresholded_jaccard"}
    for table, rows in PUBLISHED.items():
        for row, values in rows.items():
            for key, value in values.items():
                if key in metrics and value is not None:
                    assert 0.0 <= value <= 1.0, (table, row, key)
    assert PUBLISHED["Table 3"]["SLSNet (ISIC 2017)"]["jaccard"] == pytest.approx(0.8198)
    assert PUBLISHED["Table 4"]["SLSNet (ISIC 2018)"]["thresholded_jaccard"] == pytest.approx(0.784)
    assert PUBLISHED["Table 5"]["SLSNet 256"]["macs_g"] == 3.16
    assert PUBLISHED["Table 7"]["SLSNet 256"]["macs_g"] == 3.61


def test_rows_differ_from_base_only_where_they_say():
    assert ROWS["SLSNet"] == ROWS["SLSNet 128"] == ROWS["SLSNet + BCE + L1 + Jaccard"] == BASE
    assert canonical_row("SLSNet + BCE + L1 + Jaccard") == "SLSNet (ISIC 2017)"
    assert canonical_row("BL GAN") == "BL GAN"
    assert ROWS["SLSNet (ISIC 2018)"].dataset == "isic2018"
    assert ROWS["SLSNet (ISIC 2018)"].split == "holdout:0.72,0.08,0.2"  # the paper's 80/20, a tenth of the 80 % selecting
    assert ROWS["SLSNet + BCE"].losses == ("adversarial",)
    assert (BASE.learning_rate, BASE.beta_1, BASE.beta_2, BASE.batch_size) == (2e-4, 0.5, 0.999, 8)
    assert (BASE.l1_weight, BASE.jaccard_weight, BASE.threshold) == (0.1, 0.5, 0.5)
    with pytest.raises(KeyError, match="known rows"):
        get_row("SLSNet 512")


@pytest.mark.parametrize("changes", [
    dict(image_size=100), dict(losses=("dice",)), dict(losses=()),
    dict(augmentation="mixup"), dict(split="random:0.5"), dict(fam_dilations=(1, 2)),
    dict(dropout=1.0),
])
def test_invalid_configs_are_rejected(changes):
    with pytest.raises(ValueError, match="invalid SLSNetConfig"):
        replace(BASE, **changes)


@pytest.mark.slow  # JAX compiles every eager op on first use: about a minute on 2 CPU cores
def test_runs_on_jax_backend():
    pytest.importorskip("jax")
    code = (
        "import numpy as np, keras\n"
        "from dataclasses import replace\n"
        "from reproductions.slsnet.configs import BASE\n"
        "from reproductions.slsnet.model import build_generator, build_discriminator\n"
        "from common.profiling import count_macs\n"
        f"cfg = replace(BASE, **{TINY!r})\n"
        "g, d = build_generator(cfg), build_discriminator(cfg)\n"
        "x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype('float32')\n"
        "m = keras.ops.convert_to_numpy(g(x, training=False))\n"
        "p = keras.ops.convert_to_numpy(d([x, m], training=False))\n"
        "assert keras.backend.backend() == 'jax'\n"
        "print(m.shape, p.shape, count_macs(g) > count_macs(g, include_matmul=False) > 0)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2, 32, 32, 1) (2, 4, 4, 1) True" in result.stdout
