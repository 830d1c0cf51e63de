"""What is AER-Net's own in its commands: its options, its weights errors, profile, its tables' rows.

The shared tiny run (``../conftest.py``) trains the "Attention + Residual connections + U-Net" row
(attention gates, residual decoder blocks: AER-Net's decoder on the original U-Net encoder) with
narrow widths: tracing EfficientNetB1 alone takes minutes on a loaded 2-core CPU, so the "AER-Net"
row itself runs in the slow test at the end. The runner behaviours are ``../test_runner.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.training.records import read_csv

REPO = Path(__file__).resolve().parents[3]
ROW = "Attention + Residual connections + U-Net"
TINY = ["--set", "unet_encoder_filters=4,8,16,32,64", "--set", "decoder_filters=32,16,8,4"]
COMMON = ["--encoder-weights", "none", "--image-size", "64", "--synthetic-size", "16", "--epochs", "1",
          "--batch-size", "4", "--quiet"]
KEYS = {"jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity", "specificity"}


def train(argv):
    from reproductions.aernet.train import main

    return main(argv)


@pytest.fixture
def runs(tiny_runs):
    t = tiny_runs("aernet")
    return t.root, t.run


def test_the_tiny_run_records_the_rows_settings(runs):
    """AER-Net's own parts of the record (the generic ones are ../test_runner.py's)."""
    _, run = runs
    assert run.parent.name == "attention-residual-connections-u-net"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["row"] == ROW and cfg["encoder_weights"] == "none" and cfg["config"]["encoder"] == "unet"
    assert cfg["config"]["unet_encoder_filters"] == [4, 8, 16, 32, 64]
    assert cfg["config"]["image_size"] == [32, 32] and cfg["config"]["colour_space"] == "lab"
    split = json.loads((run / "split.json").read_text())
    assert set(split) == {"train", "val"}  # synthetic data: the hold-out fallback of count:2094
    history = read_csv(run / "history.csv")
    assert all(0.0 <= h["loss"] <= 1.0 for h in history)  # Dice loss lies in [0, 1]


@pytest.mark.parametrize("argv, message", [
    (["--set", "no_such_key=1"], "unknown config key 'no_such_key'"),
    (["--set", "use_attention=maybe"], "expected true or false"),
    (["--row", "AER-Net 512"], "unknown row"),
    (["--encoder-weights", "/no/such/weights.h5"], "no such file"),
])
def test_bad_options_are_clean_errors(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        train(["--row", ROW, *COMMON, "--runs-root", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_pretrained_weights_for_the_from_scratch_unet_are_a_clean_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        train(["--row", "U-Net", *COMMON, *TINY, "--encoder-weights", "imagenet",
               "--runs-root", str(tmp_path), "--cache-dir", str(tmp_path / "cache")])
    assert exc.value.code == 2
    assert "trained from scratch" in capsys.readouterr().err


def test_profile_json_through_the_generic_command(capsys):
    from reproductions.aernet.profile import main

    assert main(["--row", "U-Net", "--image-size", "32", "--runs", "1", "--warmup", "1", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert {"row", "image_size", "params", "macs", "latency_ms"} <= set(row)
    assert row["row"] == "U-Net" and row["image_size"] == [32, 32] and "error" not in row
    assert row["params"] == 31_049_409  # the original U-Net widths 64...1024, BN included
    assert row["macs"] > 0 and row["latency_ms"] > 0


def test_table_says_not_run_and_keeps_synthetic_runs_out(runs, tmp_path):
    from common.results import collect
    from reproductions.aernet.table import main

    root, run = runs
    results = tmp_path / "results"
    assert main(["--runs-root", str(root), "--results-dir", str(results), "--skip-profile"]) == 0
    for stem in ("table_1", "table_2", "table_3", "colour_spaces", "other_data"):
        assert (results / f"{stem}.md").exists() and (results / f"{stem}.csv").exists(), stem
    t2 = (results / "table_2.md").read_text()
    assert "| AER-Net | 77.20 | 85.25 | — | — | not run |" in t2
    assert "Attention + Efficientnetb1 + Residual + U-Net (AER-Net)" in t2  # the paper's label
    t3 = (results / "table_3.md").read_text()
    assert "| Amin et al. 2020 (VGG-16) | 85.00 | 82.00 | — | — | literature row" in t3
    assert "| AER-Net | 77.29 | 85.25 | — | — | not run |" in t3
    # the synthetic run is found but, by design, is no result: not in any table, no kept record
    assert [r["metrics"]["dataset"] for r in collect("aernet", root, results)] == ["synthetic"]
    readme = (results / "README.md").read_text()
    assert "synthetic" not in readme and "| (none) |" in (results / "other_data.md").read_text()
    assert not (results / "records").exists()
    assert readme.count("| not run |") == 5 + 4 + 1 + 5


def test_table_places_runs_by_dataset_and_config(runs, tmp_path, relabel):
    """A run of the AER-Net row's config on ISIC 2018 sits beside the paper's number; a run on PH2 is
    listed as other data; the narrowed tiny run relabelled as an "AER-Net" run is a variant."""
    from reproductions.aernet.configs import ROWS
    from reproductions.aernet.table import main

    _, run = runs
    root = tmp_path / "runs"
    scored = {"dataset": None, "split_spec": "count:2094", "split": {"train": 2094, "test": 500}}
    metrics = json.loads((run / "metrics.json").read_text())
    scored["scores"] = {"test": {**metrics["scores"]["val"], "jaccard": 0.5, "dice": 0.625}}
    for dataset, row, cfg, folder in (("isic2018", "AER-Net", ROWS["AER-Net"], "a"), ("ph2", ROW, ROWS[ROW], "b"),
                                      ("isic2018", "AER-Net", None, "c")):
        relabel(run, root / "aernet" / folder / run.name, dataset=dataset, row=row, row_config=cfg,
                metrics_update={**scored, "dataset": dataset})
    results = tmp_path / "results"
    main(["--runs-root", str(root), "--results-dir", str(results), "--skip-profile"])
    t2 = (results / "table_2.md").read_text()
    assert "| AER-Net | 77.20 | 85.25 | 50.00 | 62.50 | isic2018, split count:2094, scored on test (500" in t2
    assert f"run a__{run.name}" in t2 and f"c__{run.name}" not in t2
    other = (results / "other_data.md").read_text()
    assert f"| {ROW} | ph2 | 50.00 |" in other and "isic2018" not in other
    variants = (results / "variants.md").read_text()
    assert f"| c__{run.name} | AER-Net | encoder efficientnetb1 → unet;" in variants
    kept = sorted(p.name for p in (results / "records").iterdir())
    assert kept == sorted(f"{d}__{run.name}" for d in ("a", "b", "c"))


@pytest.mark.slow
def test_aernet_row_trains_and_evaluates(tmp_path, capsys):
    """The "AER-Net" row itself (EfficientNetB1 encoder, CIELAB input) through train and evaluate."""
    from reproductions.aernet.evaluate import main as evaluate

    run = train(["--row", "AER-Net", *COMMON, "--runs-root", str(tmp_path), "--cache-dir", str(tmp_path)])[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["row"] == "AER-Net" and set(metrics["scores"]["val"]) == KEYS
    capsys.readouterr()
    evaluate(["--run-dir", str(run), "--json", "--cache-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["mean"]["jaccard"] == pytest.approx(metrics["scores"]["val"]["jaccard"], abs=1e-6)


def test_unavailable_imagenet_weights_are_a_clean_error(capsys, tmp_path, monkeypatch):
    """No network and no cached file: a message saying where to put the file, not a traceback."""
    import keras

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(SystemExit) as exc:
        train(["--row", "U-Net EfficientNetB0", "--encoder-weights", "imagenet", "--image-size", "32",
               "--synthetic-size", "8", "--epochs", "1", "--quiet", "--runs-root", str(tmp_path),
               "--cache-dir", str(tmp_path / "cache")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Could not get the ImageNet weights of encoder 'efficientnetb0'" in err
    assert "--encoder-weights none" in err
