"""What is ASNet's own in its commands: 5-fold style training (--fold all / --fold K), the poly
schedule and coupled weight decay, its options, profile, its tables' fold rows. The runner behaviours
(resume, evaluate, predict, table, notebook) are ``../test_runner.py``.

The shared tiny run (``../conftest.py``) trains the U-Net row narrowed to widths 4-8-16 on 20 synthetic 32x32 images (2
folds, 2 epochs, 2 steps per epoch): every piece the ASNet row uses in the runner (input scaling,
BN momentum, optimizer, schedule, augmentation, folds, scoring) is the same code, and a ResNet34 train
step takes about a minute to trace on a CPU. Every row's full model is built by the profile test.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

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


def test_poly_schedule_and_its_serialization():
    from reproductions.asnet.optimizer import PolyDecay

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
    from reproductions.asnet.optimizer import CoupledSGD

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
    from reproductions.asnet.optimizer import CoupledSGD, PolyDecay, make_optimizer

    opt = make_optimizer(BASE, steps_per_epoch=173)
    assert isinstance(opt, CoupledSGD) and opt.l2 == 1e-4 and opt.momentum == 0.9
    schedule = opt._learning_rate
    assert isinstance(schedule, PolyDecay)
    assert (schedule.initial_learning_rate, schedule.power, schedule.total_steps) == (0.01, 0.9, 100 * 173)


def test_runner_passes_the_epoch_length_to_build_training_that_asks_for_it():
    from common.training.fit import build_parts

    class Paper:
        pass

    paper = Paper()
    paper.build_training = lambda cfg, steps_per_epoch=1: (cfg, steps_per_epoch)
    assert build_parts(paper, "cfg", steps_per_epoch=7) == ("cfg", 7)
    paper.build_training = lambda cfg: (cfg,)  # other papers: unchanged call
    assert build_parts(paper, "cfg", steps_per_epoch=7) == ("cfg",)


# ------------------------------------------------------------------ train --fold all / K / resume


@pytest.fixture
def folds(tiny_runs):
    t = tiny_runs("asnet")
    return t.root, t.runs


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
    from reproductions.asnet.optimizer import make_optimizer

    with np.load(folds[1][0] / "checkpoints" / "last.npz") as state:
        iterations = int(state["optimizer/model/00000"])
    assert iterations == EPOCHS * STEPS
    opt = make_optimizer(dataclasses.replace(BASE, epochs=EPOCHS), STEPS)
    assert float(opt._learning_rate(iterations)) == 0.0


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


def test_table_reports_fold_runs_of_the_rows_config_as_mean_and_std(folds, tmp_path, relabel):
    """Fold records of the U-Net row's own config on ISIC 2018 land in Table 2 as mean ± std."""
    from reproductions.asnet.configs import ROWS
    from reproductions.asnet.table import main

    root = tmp_path / "runs"
    for run in folds[1]:
        relabel(run, root / "asnet" / "u-net" / run.name.replace("synthetic", "isic2018"), dataset="isic2018",
                row_config=ROWS["U-Net"])
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
    assert "| (none) |" in (results / "variants.md").read_text()


def test_a_narrowed_run_is_a_variant_and_leaves_the_row_not_run(folds, tmp_path, relabel):
    """The tiny runs (widths 4-8-16, batch 4) relabelled as ISIC 2018 runs of the U-Net row are not
    the paper's U-Net: Table 2's row stays "not run", the runs are listed as variants with what differs."""
    from reproductions.asnet.table import main

    root = tmp_path / "runs"
    for run in folds[1]:
        relabel(run, root / "asnet" / "u-net" / run.name.replace("synthetic", "isic2018"), dataset="isic2018")
    results = tmp_path / "results"
    main(["--runs-root", str(root), "--results-dir", str(results), "--skip-profile"])
    line = next(line for line in (results / "table_2.md").read_text().splitlines() if line.startswith("| U-Net "))
    assert line.endswith("| not run |")
    variants = (results / "variants.md").read_text()
    (line,) = [x for x in variants.splitlines() if "| U-Net | " in x]      # the two folds: one entry
    assert "kfold:2, 2 folds (mean ± std)" in line and " ± " in line
    assert "unet_filters 64,128,256,512,1024 → 4,8,16" in variants and "batch_size 12 → 4" in variants
    assert "Variants" in (results / "README.md").read_text()


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

