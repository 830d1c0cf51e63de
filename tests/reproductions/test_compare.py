"""``python -m reproductions.compare``: a tiny suite end to end on the synthetic data."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from reproductions.compare import leaderboard
from reproductions.compare.__main__ import main
from reproductions.compare.suites import SUITES


def test_tiny_suite_trains_resumes_and_writes_the_leaderboard(tmp_path, ctrl_c_in_epoch_2, capsys):
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["synthetic-tiny", "--runs-root", str(runs), "--results-dir", str(results), "--quiet"]
    interrupt = ctrl_c_in_epoch_2(nth=2)            # the second entry's run, in its second epoch
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 130
    first = runs / "compare" / "synthetic-tiny" / "slsnet-generator-alone-tiny"
    assert (first / "metrics.json").exists()
    mtime = (first / "metrics.json").stat().st_mtime_ns
    interrupt.restore()
    capsys.readouterr()
    written = main(argv)
    err = capsys.readouterr().err
    assert "finished run found, reused" in err and "continuing" in err
    assert (first / "metrics.json").stat().st_mtime_ns == mtime, "a finished run was retrained"
    assert sorted(p.name for p in written) == ["synthetic-tiny.csv", "synthetic-tiny.md", "synthetic-tiny.png"]
    rows = list(csv.DictReader((results / "synthetic-tiny.csv").open()))
    assert {r["entry"] for r in rows} == {e.name for e in SUITES["synthetic-tiny"].entries}
    for r in rows:
        assert float(r["jaccard_low"]) <= float(r["jaccard"]) <= float(r["jaccard_high"])
    assert rows[0]["wilcoxon_p"] == "" and all(0 <= float(r["wilcoxon_p"]) <= 1 for r in rows[1:])
    assert float(rows[0]["jaccard"]) >= max(float(r["jaccard"]) for r in rows)
    md = (results / "synthetic-tiny.md").read_text()
    assert "Wilcoxon" in md and "bootstrap" in md
    # --plan prints one train command per trained entry, and trains nothing
    capsys.readouterr()
    assert main(["synthetic-tiny", "--plan", "--runs-root", str(tmp_path / "other")]) == []
    out = capsys.readouterr().out
    assert out.count("python -m reproductions.slsnet.train") == 1 and out.count("reproductions.asnet.train") == 1
    assert not (tmp_path / "other").exists()


def test_leaderboard_statistics():
    rng = np.random.default_rng(0)
    better = rng.uniform(0.7, 0.9, 60)
    worse = better - rng.uniform(0.05, 0.1, 60)
    low, high = leaderboard.bootstrap_interval(better)
    assert low < better.mean() < high
    assert leaderboard.wilcoxon_p(better, worse) < 1e-6 and leaderboard.wilcoxon_p(better, better) == 1.0
    per = lambda v: {str(i): {m: float(x) for m in leaderboard.METRICS} for i, x in enumerate(v)}  # noqa: E731
    rows = leaderboard.rank([leaderboard.Scored("worse", per(worse)), leaderboard.Scored("better", per(better))])
    assert [r["entry"] for r in rows] == ["better", "worse"] and rows[1]["jaccard_diff_high"] < 0
    with pytest.raises(ValueError, match="same test images"):
        leaderboard.rank([leaderboard.Scored("a", per(better)), leaderboard.Scored("b", per(better[:10]))])


def test_unknown_suite_or_entry_is_a_clean_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nope"])
    assert exc.value.code == 2 and "unknown suite 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["synthetic-tiny", "--rows", "Nope", "--plan"])
    assert exc.value.code == 2 and "no entry 'Nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["isic2017-cpu", "--plan"])
    assert exc.value.code == 2 and "--data-dir" in capsys.readouterr().err


def test_classification_suite_ranks_by_balanced_accuracy(tmp_path, capsys):
    """A tiny residual net and the colour-histogram baseline on the synthetic data's classes: both
    scored on the run's test images, ranked by balanced accuracy with intervals and a paired test."""
    runs, results = tmp_path / "runs", tmp_path / "results"
    written = main(["synthetic-classes", "--runs-root", str(runs), "--results-dir", str(results), "--quiet"])
    assert sorted(p.name for p in written) == ["synthetic-classes.csv", "synthetic-classes.md",
                                               "synthetic-classes.png"]
    rows = list(csv.DictReader((results / "synthetic-classes.csv").open()))
    assert {r["entry"] for r in rows} == {e.name for e in SUITES["synthetic-classes"].entries}
    assert all(int(r["n"]) == 6 for r in rows)                 # 30 images, a fifth scored
    for r in rows:
        assert float(r["balanced_accuracy_low"]) <= float(r["balanced_accuracy"]) <= float(r["balanced_accuracy_high"])
        assert r["per_class_recall"]
    assert rows[0]["paired_bootstrap_p"] == "" and 0 <= float(rows[1]["paired_bootstrap_p"]) <= 1
    md = (results / "synthetic-classes.md").read_text()
    assert "balanced accuracy" in md and "paired bootstrap" in md and "balanced_accuracy` checkpoint" in md


def test_classification_leaderboard_statistics():
    rng = np.random.default_rng(1)
    labels = np.array(["MEL"] * 20 + ["NV"] * 180)
    good = labels.copy()
    good[rng.choice(200, 20, replace=False)] = "BCC"              # 90 % right, every class kept
    always_nv = np.array(["NV"] * 200)                             # the majority: balanced accuracy 0.5
    per = lambda p: {f"ISIC_{i:07d}": {"label": t, "predicted": q} for i, (t, q) in enumerate(zip(labels, p))}  # noqa: E731
    rows = leaderboard.rank_classification([leaderboard.Scored("always NV", per(always_nv)),
                                            leaderboard.Scored("good", per(good))])
    assert [r["entry"] for r in rows] == ["good", "always NV"]
    assert rows[1]["balanced_accuracy"] == pytest.approx(0.5) and rows[1]["accuracy"] == pytest.approx(0.9)
    assert rows[1]["balanced_accuracy_diff_high"] < 0 and rows[1]["paired_bootstrap_p"] < 0.01
    assert "MEL 0.0" in rows[1]["per_class_recall"] and "NV 100.0" in rows[1]["per_class_recall"]
    assert leaderboard.balanced_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), 3) == pytest.approx(0.75)
    other = {k: {**v, "label": "NV"} for k, v in per(good).items()}
    with pytest.raises(ValueError, match="disagree"):
        leaderboard.rank_classification([leaderboard.Scored("a", per(good)), leaderboard.Scored("b", other)])


def test_kfold_leaderboard_gives_the_mean_over_folds_beside_the_pooled_interval():
    fold_of = {str(i): i % 2 for i in range(40)}
    values = np.array([0.9 if i % 2 else 0.5 for i in range(40)])             # fold 0: 0.5, fold 1: 0.9
    per = lambda v: {str(i): {m: float(x) for m in leaderboard.METRICS} for i, x in enumerate(v)}  # noqa: E731
    entries = [leaderboard.Scored("a", per(values), extra={"fold_of": fold_of}),
               leaderboard.Scored("b", per(values - 0.1), extra={"fold_of": fold_of})]
    rows = leaderboard.rank(entries)
    assert rows[0]["jaccard_fold_mean"] == pytest.approx(0.7) and rows[0]["folds"] == 2
    assert rows[0]["jaccard_fold_std"] == pytest.approx(np.std([0.5, 0.9], ddof=1))
    md = leaderboard.markdown(rows, "t")
    assert "JSC over folds" in md and "70.00 ± 28.28" in md
