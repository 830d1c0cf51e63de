"""AER-Net's commands end to end on tiny settings: train, evaluate, predict, profile, table, notebook.

The module's run trains the "Attention + Residual connections + U-Net" row (attention gates, residual
decoder blocks: AER-Net's decoder on the original U-Net encoder) with narrow widths for one epoch on
the embedded synthetic data: tracing EfficientNetB1 alone takes minutes on a loaded 2-core CPU, so
the "AER-Net" row itself runs in the slow test at the end.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache")
    run_dir = train(["--row", ROW, *COMMON, *TINY, "--runs-root", str(root), "--cache-dir", str(cache)])[0]
    return root, Path(run_dir), cache


def test_run_folder_holds_the_record(runs):
    _, run, _ = runs
    for name in ("config.json", "split.json", "history.csv", "metrics.json", "state.json",
                 "checkpoints/last.npz", "checkpoints/best.weights.h5", "per_image_val.csv"):
        assert (run / name).exists(), name
    assert run.parent.name == "attention-residual-connections-u-net"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["paper"] == "aernet" and cfg["row"] == ROW and cfg["dataset"] == "synthetic"
    assert cfg["encoder_weights"] == "none" and cfg["config"]["encoder"] == "unet"
    assert cfg["config"]["unet_encoder_filters"] == [4, 8, 16, 32, 64]
    assert cfg["config"]["image_size"] == [64, 64] and cfg["config"]["colour_space"] == "lab"
    prov = cfg["provenance"]
    assert prov["backend"] == "tensorflow" and prov["hardware"] and prov["versions"]["keras"]
    assert "commit" in prov["git"]
    split = json.loads((run / "split.json").read_text())
    assert set(split) == {"train", "val"}  # synthetic data: the hold-out fallback of count:2094
    assert not set(split["train"]) & set(split["val"]) and len(split["train"]) + len(split["val"]) == 16
    history = read_csv(run / "history.csv")
    assert [h["epoch"] for h in history] == [1] and np.isfinite(history[0]["loss"])
    assert 0.0 <= history[0]["loss"] <= 1.0 and "val_jaccard" in history[0]  # Dice loss lies in [0, 1]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_done"] == 1 and metrics["image_size"] == [64, 64]
    assert set(metrics["scores"]["val"]) == KEYS and metrics["encoder_weights"] == "none"


def test_evaluate_json(runs, capsys):
    from reproductions.aernet.evaluate import main

    _, run, cache = runs
    main(["--run-dir", str(run), "--json", "--cache-dir", str(cache)])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    n_val = len(json.loads((run / "split.json").read_text())["val"])
    assert out["split"] == "val"  # the split has no test part: evaluate falls back to val
    assert set(out["mean"]) == KEYS and len(out["per_image"]) == n_val == out["n"]
    saved = json.loads((run / "metrics.json").read_text())["scores"]["val"]
    assert out["mean"]["jaccard"] == pytest.approx(saved["jaccard"], abs=1e-6)


def test_predict_writes_binary_masks_at_each_inputs_size(runs, tmp_path):
    from reproductions.aernet.predict import main

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (45, 60, 3), dtype=np.uint8)).save(src / "ISIC_0000001.jpg")
    Image.fromarray(rng.integers(0, 255, (70, 50, 3), dtype=np.uint8)).save(src / "IMD999.bmp")
    out = tmp_path / "out"
    written = main(["--run-dir", str(runs[1]), str(src), "--out", str(out)])
    assert sorted(p.name for p in written) == ["IMD999_segmentation.png", "ISIC_0000001_segmentation.png"]
    a = Image.open(out / "ISIC_0000001_segmentation.png")
    b = Image.open(out / "IMD999_segmentation.png")
    assert a.mode == "L" and b.mode == "L"
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == (45, 60) and b.shape == (70, 50)
    assert set(np.unique(a)) <= {0, 255} and set(np.unique(b)) <= {0, 255}


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

    root, run, _ = runs
    results = tmp_path / "results"
    assert main(["--runs-root", str(root), "--results-dir", str(results), "--skip-params"]) == 0
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


def test_table_places_runs_by_dataset(runs, tmp_path):
    """A run on ISIC 2018 sits beside the paper's number; a run on PH2 is listed as other data."""
    import shutil

    from reproductions.aernet.table import main

    _, run, _ = runs
    root = tmp_path / "runs"
    for dataset, row in (("isic2018", "AER-Net"), ("ph2", ROW)):
        target = root / "aernet" / dataset / run.name
        shutil.copytree(run, target)
        metrics = json.loads((target / "metrics.json").read_text())
        metrics.update(dataset=dataset, row=row, split_spec="count:2094", split={"train": 2094, "test": 500})
        metrics["scores"] = {"test": {**metrics["scores"]["val"], "jaccard": 0.5, "dice": 0.625}}
        (target / "metrics.json").write_text(json.dumps(metrics))
    results = tmp_path / "results"
    main(["--runs-root", str(root), "--results-dir", str(results), "--skip-params"])
    t2 = (results / "table_2.md").read_text()
    assert "| AER-Net | 77.20 | 85.25 | 50.00 | 62.50 | isic2018, split count:2094, scored on test (500" in t2
    other = (results / "other_data.md").read_text()
    assert f"| {ROW} | ph2 | 50.00 |" in other and "isic2018" not in other
    kept = sorted(p.name for p in (results / "records").iterdir())
    assert kept == sorted(f"{d}__{run.name}" for d in ("isic2018", "ph2"))


def test_notebook_executes_top_to_bottom(runs, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    root, run, cache = runs
    nb = nbformat.read(REPO / "notebooks" / "aernet.ipynb", as_version=4)
    monkeypatch.setenv("SLR_RUNS_DIR", str(root))
    monkeypatch.setenv("NOTEBOOK_RUN_DIR", str(run))
    monkeypatch.setenv("SLR_CACHE_DIR", str(cache))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
    assert any(str(run) in "".join(o.get("text", "")) for o in outputs)  # the chosen run was shown


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
