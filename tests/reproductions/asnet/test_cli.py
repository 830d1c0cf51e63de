"""ASNet's commands end to end on tiny settings: 5-fold style training (--fold all / --fold K /
--resume), the poly schedule and coupled weight decay, evaluate, predict, profile, table, notebook.

The runner tests train the U-Net row narrowed to widths 4-8-16 on 20 synthetic 32x32 images (2
folds, 2 epochs, 2 steps per epoch): every piece the ASNet row uses in the runner (input scaling,
BN momentum, optimizer, schedule, augmentation, folds, scoring) is the same code, and a ResNet34 train
step takes about a minute to trace on a CPU. Every row's full model is built by the profile test.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from common.training.records import read_csv

REPO = Path(__file__).resolve().parents[3]

TINY = ["--row", "U-Net", "--set", "unet_filters=4,8,16"]
COMMON = ["--synthetic-size", "20", "--image-size", "32x32", "--batch-size", "4", "--split", "kfold:2",
          "--seed", "3", "--quiet"]
EPOCHS = 2
STEPS = 10 // 4  # 10 training images per fold, batches of 4, the remainder dropped
KEYS = {"jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity", "specificity"}


def train(argv):
    from reproductions.asnet.train import main

    return main(argv)


@pytest.fixture(scope="module")
def folds(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run_dirs = train([*COMMON, *TINY, "--epochs", str(EPOCHS), "--fold", "all", "--runs-root", str(root)])
    return root, [Path(p) for p in run_dirs]


# ------------------------------------------------------------------ optimizer (section 2.5)


def test_poly_schedule_and_its_serialization():
    from reproductions.asnet.paper import PolyDecay

    schedule = PolyDecay(0.01, 100, 0.9)
    for step in (0, 1, 50, 99):
        assert float(schedule(step)) == pytest.approx(0.01 * (1 - step / 100) ** 0.9, rel=1e-5)
    assert float(schedule(100)) == 0.0 and float(schedule(250)) == 0.0
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(clone, PolyDecay) and clone.get_config() == schedule.get_config()
    with pytest.raises(ValueError):
        PolyDecay(0.01, 0)


def test_coupled_weight_decay_is_pytorchs_sgd():
    """buf = 0.9 buf + (g + wd w); w -= lr buf (torch.optim.SGD, momentum 0.9, weight_decay 1e-4)."""
    from reproductions.asnet.paper import CoupledSGD

    w0 = np.array([1.0, -2.0, 0.5], "float32")
    grads = [np.array([0.3, 0.1, -0.2], "float32"), np.array([-0.1, 0.4, 0.2], "float32")]
    var = keras.Variable(w0.copy())
    opt = CoupledSGD(l2=1e-4, learning_rate=0.01, momentum=0.9)
    opt.build([var])
    w, buf = w0.astype("float64"), np.zeros(3)
    for g in grads:
        opt.apply_gradients([(g, var)])
        buf = 0.9 * buf + (g + 1e-4 * w)
        w = w - 0.01 * buf
    np.testing.assert_allclose(np.asarray(var), w, rtol=1e-6)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone, CoupledSGD) and clone.l2 == 1e-4
    with pytest.raises(ValueError, match="weight_decay"):
        CoupledSGD(l2=1e-4, weight_decay=1e-4)


def test_optimizer_of_section_2_5():
    from reproductions.asnet.configs import BASE
    from reproductions.asnet.paper import CoupledSGD, PolyDecay, make_optimizer

    opt = make_optimizer(BASE, steps_per_epoch=173)
    assert isinstance(opt, CoupledSGD) and opt.l2 == 1e-4 and opt.momentum == 0.9
    schedule = opt._learning_rate
    assert isinstance(schedule, PolyDecay)
    assert (schedule.initial_learning_rate, schedule.power, schedule.total_steps) == (0.01, 0.9, 100 * 173)


def test_runner_passes_the_epoch_length_to_build_training_that_asks_for_it():
    from common.training.commands import _build_training

    class Paper:
        pass

    paper = Paper()
    paper.build_training = lambda cfg, weights, steps_per_epoch=1: (cfg, weights, steps_per_epoch)
    assert _build_training(paper, "cfg", None, steps_per_epoch=7) == ("cfg", None, 7)
    paper.build_training = lambda cfg, weights: (cfg, weights)  # other papers: unchanged call
    assert _build_training(paper, "cfg", None, steps_per_epoch=7) == ("cfg", None)


# ------------------------------------------------------------------ train --fold all / K / resume


def test_fold_all_writes_one_run_per_fold_scoring_its_held_out_fold(folds):
    root, runs = folds
    assert [r.name.split("-")[1] for r in runs] == ["fold0", "fold1"]
    assert all(r.name.startswith("synthetic-fold") for r in runs)
    held_out = []
    for k, run in enumerate(runs):
        for name in ("config.json", "split.json", "history.csv", "metrics.json", "checkpoints/last.npz",
                     "checkpoints/best.weights.h5", "per_image_test.csv"):
            assert (run / name).exists(), (run, name)
        split = json.loads((run / "split.json").read_text())
        assert set(split) == {"train", "test"} and not set(split["train"]) & set(split["test"])
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["fold"] == k and metrics["split_spec"] == "kfold:2"
        assert metrics["split"] == {"train": 10, "test": 10} and metrics["epochs_done"] == EPOCHS
        assert set(metrics["scores"]) == {"test"} and set(metrics["scores"]["test"]) == KEYS
        scored = [row["id"] for row in read_csv(run / "per_image_test.csv")]
        assert sorted(scored) == sorted(split["test"])
        held_out.append(set(split["test"]))
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["fold"] == k and cfg["config"]["split"] == "kfold:2" and cfg["row"] == "U-Net"
    assert not held_out[0] & held_out[1]
    assert len(held_out[0] | held_out[1]) == 20  # the folds cover every image once


def test_poly_schedule_ran_to_the_end_of_the_run(folds):
    """The optimizer's iterations (the schedule's step, in the checkpoint) reach epochs x steps."""
    from reproductions.asnet.configs import BASE
    from reproductions.asnet.paper import make_optimizer

    with np.load(folds[1][0] / "checkpoints" / "last.npz") as state:
        iterations = int(state["optimizer/model/00000"])
    assert iterations == EPOCHS * STEPS
    opt = make_optimizer(dataclasses.replace(BASE, epochs=EPOCHS), STEPS)
    assert float(opt._learning_rate(iterations)) == 0.0


def test_one_fold_then_resume_after_interruption(folds, tmp_path, monkeypatch):
    """``--fold 1`` alone, killed at the start of epoch 2, resumed: the run of ``--fold all`` again."""
    from common.training import steps

    real_call = steps.SupervisedStep.__call__
    calls = {"n": 0}

    def dying(self, x, y):
        calls["n"] += 1
        if calls["n"] == STEPS + 1:
            raise KeyboardInterrupt("simulated kill")
        return real_call(self, x, y)

    root = tmp_path / "runs"
    argv = [*COMMON, *TINY, "--epochs", str(EPOCHS), "--fold", "1", "--runs-root", str(root)]
    monkeypatch.setattr(steps.SupervisedStep, "__call__", dying)
    with pytest.raises(SystemExit) as stopped:     # Ctrl-C: one line, the resume command, 130
        train(argv)
    assert stopped.value.code == 130
    (run,) = (root / "asnet" / "u-net").iterdir()
    assert run.name.startswith("synthetic-fold1-")
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 1
    assert not (run / "metrics.json").exists()
    monkeypatch.setattr(steps.SupervisedStep, "__call__", real_call)
    (resumed,) = train([*argv, "--resume"])
    assert Path(resumed) == run and len(list((root / "asnet" / "u-net").iterdir())) == 1
    full = folds[1][1]
    assert json.loads((run / "split.json").read_text()) == json.loads((full / "split.json").read_text())
    got = json.loads((run / "metrics.json").read_text())
    want = json.loads((full / "metrics.json").read_text())
    assert got["fold"] == 1 and got["epochs_done"] == EPOCHS
    for key in KEYS:
        assert got["scores"]["test"][key] == want["scores"]["test"][key], key
    losses = [h["loss"] for h in read_csv(run / "history.csv")]
    assert losses == [h["loss"] for h in read_csv(full / "history.csv")]


@pytest.mark.parametrize("argv, message", [
    (["--fold", "2"], "--fold 2: choose 0..1 or all"),
    (["--set", "no_such_key=1"], "unknown config key 'no_such_key'"),
    (["--row", "MultiResU-Net"], "unknown row"),
    (["--encoder-weights", "imagenet"], "trained from scratch"),
    (["--run-dir", "somewhere", "--fold", "all"], "each fold gets its own folder"),
])
def test_bad_options_are_clean_errors(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        train([*COMMON, *TINY, "--runs-root", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# ------------------------------------------------------------------ evaluate, predict


def test_evaluate_json_scores_the_held_out_fold(folds, capsys):
    from reproductions.asnet.evaluate import main

    run = folds[1][1]
    main(["--run-dir", str(run), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) >= {"run_dir", "dataset", "split", "n", "csv", "mean", "per_image"}
    assert out["split"] == "test" and out["dataset"] == "synthetic" and out["n"] == 10
    assert set(out["mean"]) == KEYS and len(out["per_image"]) == 10
    test_ids = json.loads((run / "split.json").read_text())["test"]
    assert sorted(r["id"] for r in out["per_image"]) == sorted(test_ids)
    saved = json.loads((run / "metrics.json").read_text())["scores"]["test"]
    assert out["mean"]["jaccard"] == pytest.approx(saved["jaccard"], abs=1e-6)


def test_predict_writes_binary_masks_at_each_inputs_size(folds, tmp_path):
    from reproductions.asnet.predict import main

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (45, 60, 3), dtype=np.uint8)).save(src / "ISIC_0000001.jpg")
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(src / "IMD999.bmp")
    out = tmp_path / "out"
    written = main(["--run-dir", str(folds[1][0]), str(src), "--out", str(out)])
    assert len(written) == 2
    a = np.asarray(Image.open(out / "ISIC_0000001_segmentation.png"))
    b = np.asarray(Image.open(out / "IMD999_segmentation.png"))
    assert a.shape == (45, 60) and b.shape == (30, 40)
    assert set(np.unique(a)) <= {0, 255} and set(np.unique(b)) <= {0, 255}


# ------------------------------------------------------------------ profile


def test_profile_json_lists_every_row(capsys):
    from reproductions.asnet.configs import ROWS
    from reproductions.asnet.profile import main

    assert main(["--all", "--image-size", "32x32", "--no-latency", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["row"] for r in results] == list(ROWS)
    by_row = {r["row"]: r for r in results}
    for r in results:
        assert "error" not in r and r["image_size"] == [32, 32] and r["latency_ms"] is None
        assert r["params"] > 1e6 and r["macs"] > 0
    # the input-scaling layer adds no weights: test_model.py's counts hold
    assert by_row["ASNet"]["params"] == 29_182_303 and by_row["Baseline_Wide"]["params"] == 29_167_706
    assert by_row["ASNet"]["macs"] > by_row["Baseline"]["macs"]


# ------------------------------------------------------------------ table


def test_table_keeps_paper_numbers_apart_and_skips_synthetic_runs(folds, tmp_path):
    from reproductions.asnet.table import main

    results = tmp_path / "results"
    main(["--runs-root", str(folds[0]), "--results-dir", str(results), "--skip-profile"])
    t2 = (results / "table_2.md").read_text()
    assert "| ASNet | 82.15 ± 0.33 | 88.88 ± 0.39 | 96.00 ± 0.23 | — | — | — | not run |" in t2
    assert "| MultiResU-Net | 80.30 ± 0.37 | — | — | — | — | — | literature row (not part of this suite) |" in t2
    assert "Ibtehaz & Rahman" in (results / "README.md").read_text()
    rows = {r["method"]: r for r in read_csv(results / "table_2.csv")}
    assert rows["ASNet"]["jaccard_paper_std"] == pytest.approx(0.00328)
    assert rows["U-Net"]["ours_status"] == "not run" and rows["MultiResU-Net"]["ours_status"] == "literature"
    # a synthetic smoke run is not a result: neither in the tables nor in the kept records
    assert "synthetic" not in (results / "other_data.md").read_text()
    assert not (results / "records").exists()


def _fold_scores(runs):
    return [json.loads((r / "metrics.json").read_text())["scores"]["test"] for r in runs]


def test_fold_runs_summarise_to_mean_and_std(folds):
    from common.results import collect, comparison_table, other_runs_table, summarise

    root, runs = folds
    records = collect("asnet", root, root / "no-results")
    res = summarise(records, "U-Net", "synthetic")
    scores = _fold_scores(runs)
    jac = [s["jaccard"] for s in scores]
    assert len(res.runs) == 2 and "2 folds (mean ± std)" in res.split
    assert res.scores["jaccard"] == pytest.approx(np.mean(jac))
    assert res.std["jaccard"] == pytest.approx(np.std(jac, ddof=1))
    md, _ = comparison_table("t", ["U-Net"], {"U-Net": {"jaccard": 0.787, "jaccard_std": 0.00317}},
                             {"U-Net": res}, ["jaccard"], "x", ["U-Net"])
    line = next(line for line in md.splitlines() if line.startswith("| U-Net"))
    assert f"| 78.70 ± 0.32 | {100 * np.mean(jac):.2f} ± {100 * np.std(jac, ddof=1):.2f} |" in line
    md, csv_rows, _ = other_runs_table(records, [], ["jaccard"], ["U-Net"])
    assert f"{100 * np.mean(jac):.2f} ± {100 * np.std(jac, ddof=1):.2f}" in md
    assert csv_rows[0]["jaccard_std"] == pytest.approx(np.std(jac, ddof=1))


def test_table_reports_fold_runs_on_the_papers_data_as_mean_and_std(folds, tmp_path):
    """The fold records relabelled as ISIC 2018 runs land in Table 2 as mean ± std, with their runs."""
    from reproductions.asnet.table import main

    root = tmp_path / "runs"
    for run in folds[1]:
        target = root / "asnet" / "u-net" / run.name.replace("synthetic", "isic2018")
        target.mkdir(parents=True)
        for name in ("config.json", "split.json", "history.csv"):
            shutil.copyfile(run / name, target / name)
        metrics = json.loads((run / "metrics.json").read_text())
        metrics["dataset"] = "isic2018"
        (target / "metrics.json").write_text(json.dumps(metrics))
    results = tmp_path / "results"
    main(["--runs-root", str(root), "--results-dir", str(results), "--skip-profile"])
    scores = _fold_scores(folds[1])
    line = next(line for line in (results / "table_2.md").read_text().splitlines() if line.startswith("| U-Net "))
    cells = [c.strip() for c in line.strip("|").split("|")]
    for cell, key in zip(cells[4:7], ("jaccard", "dice", "accuracy")):
        values = [s[key] for s in scores]
        assert cell == f"{100 * np.mean(values):.2f} ± {100 * np.std(values, ddof=1):.2f}", key
    assert "kfold:2, 2 folds (mean ± std), scored on test (10 images)" in cells[7]
    assert sorted(p.name for p in (results / "records").iterdir()) == sorted(
        "u-net__" + r.name.replace("synthetic", "isic2018") for r in folds[1])


@pytest.mark.slow
def test_params_table_at_192x256(tmp_path):
    from reproductions.asnet.table import params_table

    md = params_table(tmp_path, macs=False)
    assert "| ASNet | 29,182,303 |" in md and "| Baseline_Wide | 29,167,706 |" in md
    assert (tmp_path / "table_2_params.csv").exists()


# ------------------------------------------------------------------ slow: ASNet row; notebook (fast)


@pytest.mark.slow
def test_asnet_row_trains_every_fold(tmp_path):
    """The ASNet row itself (ResNet18 encoder, narrow decoder and SAM) through --fold all."""
    runs = train(["--synthetic-size", "20", "--image-size", "32x32", "--batch-size", "4", "--split", "kfold:2",
                  "--epochs", "1", "--fold", "all", "--quiet", "--set", "encoder=resnet18",
                  "--set", "decoder_filters=8,8,8,8,8", "--set", "sam_channels=8", "--runs-root", str(tmp_path)])
    assert len(runs) == 2
    for run in runs:
        metrics = json.loads((Path(run) / "metrics.json").read_text())
        assert metrics["row"] == "ASNet" and math.isfinite(metrics["scores"]["test"]["jaccard"])


def test_notebook_executes_top_to_bottom(folds):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(REPO / "notebooks" / "asnet.ipynb", as_version=4)
    env = {"SLR_RUNS_DIR": str(folds[0]), "NOTEBOOK_RUN_DIR": str(folds[1][0])}
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
