"""SLSNet's commands end to end on tiny settings: train, resume, evaluate, predict, table, notebook."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.training.records import read_csv

REPO = Path(__file__).resolve().parents[3]

# The paper's structure with small widths and depths, so a CPU traces and trains it in seconds.
TINY = ["--set", "multiscale_width=4", "--set", "widths=4,8,16", "--set", "num_fams=1,1",
        "--set", "fam_dilations=1", "--set", "decoder_widths=8,4", "--set", "decoder_fams=1",
        "--set", "disc_widths=4,8,16", "--set", "augmentation=none"]
COMMON = ["--synthetic-size", "32", "--image-size", "32", "--batch-size", "4", "--seed", "3", "--quiet"]
EPOCHS = 4
KEYS = {"jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity", "specificity"}


def train(argv):
    from reproductions.slsnet.train import main

    return main(argv)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run_dir = train([*COMMON, *TINY, "--epochs", str(EPOCHS), "--runs-root", str(root)])[0]
    return root, Path(run_dir)


def test_run_folder_holds_the_record(runs):
    _, run = runs
    for name in ("config.json", "split.json", "history.csv", "metrics.json", "state.json",
                 "checkpoints/last.npz", "checkpoints/best.weights.h5", "per_image_val.csv"):
        assert (run / name).exists(), name
    assert not list(run.rglob("*.tmp")) and not list(run.rglob(".tmp-*"))
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["row"] == "SLSNet" and cfg["dataset"] == "synthetic"
    assert cfg["config"]["widths"] == [4, 8, 16]
    prov = cfg["provenance"]
    assert prov["backend"] == "tensorflow" and prov["hardware"] and prov["versions"]["keras"]
    assert "commit" in prov["git"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_done"] == EPOCHS and metrics["image_size"] == [32, 32]
    assert set(metrics["scores"]["val"]) == KEYS
    split = json.loads((run / "split.json").read_text())
    assert not set(split["train"]) & set(split["val"]) and len(split["train"]) + len(split["val"]) == 32


def test_short_training_lowers_generator_loss_and_raises_jaccard(runs):
    history = read_csv(runs[1] / "history.csv")
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))
    assert history[-1]["g_loss"] < history[0]["g_loss"], history
    assert max(h["val_jaccard"] for h in history[1:]) > history[0]["val_jaccard"], history


def test_resume_after_interruption_ends_like_an_uninterrupted_run(runs, tmp_path, monkeypatch):
    """Stop mid-epoch 3 (as a kill would), resume, and get the uninterrupted run's numbers."""
    from reproductions.slsnet import gan

    real_call = gan.Pix2PixStep.__call__
    calls = {"n": 0}
    steps_per_epoch = len(json.loads((runs[1] / "split.json").read_text())["train"]) // 4

    def dying(self, x, y):
        calls["n"] += 1
        if calls["n"] == 2 * steps_per_epoch + 2:
            raise KeyboardInterrupt("simulated kill")
        return real_call(self, x, y)

    run_dir = tmp_path / "run"
    monkeypatch.setattr(gan.Pix2PixStep, "__call__", dying)
    with pytest.raises(SystemExit) as stopped:     # Ctrl-C: one line, the resume command, 130
        train([*COMMON, *TINY, "--epochs", str(EPOCHS), "--run-dir", str(run_dir)])
    assert stopped.value.code == 130
    assert json.loads((run_dir / "state.json").read_text())["epochs_done"] == 2
    assert not (run_dir / "metrics.json").exists()
    monkeypatch.setattr(gan.Pix2PixStep, "__call__", real_call)
    train([*COMMON, *TINY, "--epochs", str(EPOCHS), "--run-dir", str(run_dir), "--resume"])
    resumed = json.loads((run_dir / "metrics.json").read_text())["scores"]["val"]
    full = json.loads((runs[1] / "metrics.json").read_text())["scores"]["val"]
    for key in KEYS:
        assert resumed[key] == full[key], key
    h_full, h_res = read_csv(runs[1] / "history.csv"), read_csv(run_dir / "history.csv")
    assert [h["g_loss"] for h in h_res] == [h["g_loss"] for h in h_full]


def test_resume_refuses_other_options(runs, capsys):
    with pytest.raises(SystemExit) as exc:
        train([*COMMON, *TINY, "--epochs", "7", "--run-dir", str(runs[1]), "--resume"])
    assert exc.value.code == 2
    assert "was started with config=epochs=4, not epochs=7" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--set", "no_such_key=1"], "unknown config key 'no_such_key'"),
    (["--set", "dropout=lots"], "expected float"),
    (["--row", "SLSNet 512"], "unknown row"),
    (["--encoder-weights", "imagenet"], "accepts only none"),
    (["--image-size", "64x32"], "square"),
    (["--finish"], "use it with --resume"),
])
def test_bad_options_are_clean_errors(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        train([*COMMON, "--runs-root", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_evaluate_json(runs, capsys):
    from reproductions.slsnet.evaluate import main

    main(["--run-dir", str(runs[1]), "--split", "val", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    n_val = len(json.loads((runs[1] / "split.json").read_text())["val"])
    assert set(out["mean"]) == KEYS and len(out["per_image"]) == n_val
    assert out["per_image"][0]["id"].startswith("synthetic_")
    saved = json.loads((runs[1] / "metrics.json").read_text())["scores"]["val"]
    assert out["mean"]["jaccard"] == pytest.approx(saved["jaccard"], abs=1e-6)


def test_predict_writes_binary_masks_at_each_inputs_size(runs, tmp_path):
    from reproductions.slsnet.predict import main

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (45, 60, 3), dtype=np.uint8)).save(src / "ISIC_0000001.jpg")
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(src / "IMD999.bmp")
    out = tmp_path / "out"
    main(["--run-dir", str(runs[1]), str(src), "--out", str(out)])
    a = np.asarray(Image.open(out / "ISIC_0000001_segmentation.png"))
    b = np.asarray(Image.open(out / "IMD999_segmentation.png"))
    assert a.shape == (45, 60) and b.shape == (30, 30)
    assert set(np.unique(a)) <= {0, 255} and set(np.unique(b)) <= {0, 255}


def test_predict_missing_input_is_a_clean_error(runs, tmp_path, capsys):
    from reproductions.slsnet.predict import main

    with pytest.raises(SystemExit) as exc:
        main(["--run-dir", str(runs[1]), str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "no such file" in capsys.readouterr().err


def test_table_says_not_run_and_keeps_paper_numbers_apart(runs, tmp_path):
    from reproductions.slsnet.table import main

    results = tmp_path / "results"
    main(["--runs-root", str(runs[0]), "--results-dir", str(results), "--skip-profile"])
    t6 = (results / "table_6.md").read_text()
    assert "| SLSNet | 81.98 | 90.63 | 97.61 | 87.81 | 99.92 | — | — | — | — | — | not run |" in t6
    # a synthetic smoke run is not a result: it is neither in the tables nor in the kept records
    assert "synthetic" not in (results / "other_data.md").read_text()
    assert not (results / "records").exists()


@pytest.mark.slow
def test_kill_with_sigkill_then_resume(tmp_path):
    """A real SIGKILL mid-epoch; --resume continues from the last finished epoch."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "reproductions.slsnet.train", *COMMON, *TINY, "--epochs", "6",
           "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and not (run_dir / "state.json").exists():
        time.sleep(0.5)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads((run_dir / "state.json").read_text())["epochs_done"]
    assert 1 <= done < 6
    out = subprocess.run(cmd + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"Resuming {run_dir} after epoch {done}" in out.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_done"] == 6


def test_notebook_executes_top_to_bottom(runs):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(REPO / "notebooks" / "slsnet.ipynb", as_version=4)
    env = {"SLR_RUNS_DIR": str(runs[0]), "NOTEBOOK_RUN_DIR": str(runs[1])}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(REPO)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
