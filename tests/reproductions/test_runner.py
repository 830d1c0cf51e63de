"""Runner behaviours, once for every registered paper: the run folder, resume, evaluate, predict,
table and notebook. Each paper's tiny run is ``conftest.TINY``; a paper's own ``test_cli.py`` holds
only what is that paper's (its options, its tables' rows, its folds, its GAN)."""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.training.records import read_csv
from reproductions import registry

REPO = Path(__file__).resolve().parents[2]
PAPERS = list(registry.PAPERS)
#: history columns that are timings, not numbers a rerun must repeat
TIMING = ("seconds", "time")


def _numbers(row: dict) -> dict:
    return {k: v for k, v in row.items() if not any(t in k for t in TIMING)}


@pytest.mark.parametrize("name", PAPERS)
def test_run_folder_holds_the_record(name, tiny_runs):
    t = tiny_runs(name)
    for run in t.runs:
        for item in ("config.json", "split.json", "history.csv", "metrics.json", "state.json",
                     "checkpoints/last.npz", "checkpoints/best.weights.h5", f"per_image_{t.split}.csv"):
            assert (run / item).exists(), (run, item)
        assert not list(run.rglob("*.tmp")) and not list(run.rglob(".tmp-*")), "half-written files left"
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["paper"] == name and cfg["dataset"] == "synthetic" and cfg["row"] in registry.load(name).rows
        prov = cfg["provenance"]
        assert prov["backend"] == "tensorflow" and prov["hardware"] and prov["versions"]["keras"]
        assert "commit" in prov["git"]
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["epochs_done"] == t.epochs and set(metrics["scores"]) == t.split_parts - {"train"}
        assert all(math.isfinite(v) for v in metrics["scores"][t.split].values())
        split = json.loads((run / "split.json").read_text())
        assert set(split) == t.split_parts and not set(split["train"]) & set(split[t.split])
        scored = sorted(r["id"] for r in read_csv(run / f"per_image_{t.split}.csv"))
        assert scored == sorted(split[t.split])
        history = read_csv(run / "history.csv")
        assert [h["epoch"] for h in history] == list(range(1, t.epochs + 1))
        assert all(math.isfinite(v) for h in history for v in _numbers(h).values() if isinstance(v, float))
    held_out = [set(json.loads((r / "split.json").read_text())[t.split]) for r in t.runs]
    assert len(set().union(*held_out)) <= t.n_images


@pytest.mark.parametrize("name", PAPERS)
def test_resume_after_interruption_ends_like_an_uninterrupted_run(name, tiny_runs, tmp_path, ctrl_c_in_epoch_2):
    """Ctrl-C one step into epoch 2, then ``--resume``: the uninterrupted run's history and scores."""
    t = tiny_runs(name)
    root = tmp_path / "runs"
    argv = [*t.train_argv(), "--runs-root", str(root)]
    interrupt = ctrl_c_in_epoch_2()
    with pytest.raises(SystemExit) as stopped:  # one line naming the resume command, exit status 130
        t.command("train")(argv)
    assert stopped.value.code == 130
    (run,) = [p.parent for p in root.rglob("state.json")]
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 1
    assert not (run / "metrics.json").exists()
    interrupt.restore()
    (resumed,) = t.command("train")([*argv, "--resume"])
    assert Path(resumed) == run
    full = t.run
    assert json.loads((run / "split.json").read_text()) == json.loads((full / "split.json").read_text())
    got = json.loads((run / "metrics.json").read_text())["scores"]
    want = json.loads((full / "metrics.json").read_text())["scores"]
    assert got == want
    assert [_numbers(h) for h in read_csv(run / "history.csv")] == \
        [_numbers(h) for h in read_csv(full / "history.csv")]


@pytest.mark.parametrize("name", PAPERS)
def test_resume_refuses_other_options(name, tiny_runs, capsys):
    t = tiny_runs(name)
    with pytest.raises(SystemExit) as exc:
        t.command("train")([*t.train_argv(epochs=7), "--run-dir", str(t.run), "--resume"])
    assert exc.value.code == 2
    assert f"epochs={t.epochs}, not epochs=7" in capsys.readouterr().err


@pytest.mark.parametrize("name", PAPERS)
def test_evaluate_json_repeats_the_recorded_scores(name, tiny_runs, capsys):
    t = tiny_runs(name)
    capsys.readouterr()
    t.command("evaluate")(["--run-dir", str(t.run), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"run_dir", "dataset", "split", "n", "csv", "mean", "per_image"} <= set(out)
    ids = json.loads((t.run / "split.json").read_text())[t.split]
    assert out["split"] == t.split and out["dataset"] == "synthetic" and out["n"] == len(ids)
    assert sorted(r["id"] for r in out["per_image"]) == sorted(ids)
    saved = json.loads((t.run / "metrics.json").read_text())["scores"][t.split]
    assert set(out["mean"]) == set(saved)
    for key, value in saved.items():
        assert out["mean"][key] == pytest.approx(value, abs=1e-6), key


def test_evaluate_names_its_csv_after_post_processing_given_on_the_command_line(tiny_runs, capsys):
    """Scoring a run at another threshold writes its own CSV; the row's scores stay."""
    t = tiny_runs("slsnet")
    evaluate = t.command("evaluate")
    capsys.readouterr()
    evaluate(["--run-dir", str(t.run), "--json"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    evaluate(["--run-dir", str(t.run), "--json", "--threshold", "0.3"])
    other = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(row["csv"]).name == f"evaluate_synthetic_{t.split}.csv"
    assert Path(other["csv"]).name == f"evaluate_synthetic_{t.split}_threshold-0.3.csv"
    assert Path(row["csv"]).is_file() and other["postprocess"]["threshold"] == 0.3
    saved = json.loads(Path(other["csv"]).with_suffix(".json").read_text())   # the command's own record
    assert saved["mean"] == other["mean"] and saved["runs"] == [t.run.name] and "per_image" not in saved
    assert saved["command"].endswith(f"--run-dir {t.run.name} --json --threshold 0.3")
    assert saved["provenance"]["git"]["commit"] and str(t.root) not in json.dumps(saved)


@pytest.mark.parametrize("name", PAPERS)
def test_predict_writes_binary_masks_at_each_inputs_size(name, tiny_runs, tmp_path):
    t = tiny_runs(name)
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (45, 60, 3), dtype=np.uint8)).save(src / "ISIC_0000001.jpg")
    Image.fromarray(rng.integers(0, 255, (70, 50, 3), dtype=np.uint8)).save(src / "IMD999.bmp")
    out = tmp_path / "out"
    written = t.command("predict")(["--run-dir", str(t.run), str(src), "--out", str(out)])
    if json.loads((t.run / "metrics.json").read_text())["task"] == "classification":
        (table,) = written
        rows = read_csv(table)
        assert Path(table).name == "predictions.csv" and sorted(r["image"] for r in rows) == ["IMD999", "ISIC_0000001"]
        probs = [[v for k, v in r.items() if k != "image"] for r in rows]
        assert all(abs(sum(p) - 1) < 1e-4 for p in probs)
        return
    assert sorted(Path(p).name for p in written) == ["IMD999_segmentation.png", "ISIC_0000001_segmentation.png"]
    a, b = Image.open(out / "ISIC_0000001_segmentation.png"), Image.open(out / "IMD999_segmentation.png")
    assert a.mode == "L" and b.mode == "L"
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == (45, 60) and b.shape == (70, 50)
    assert set(np.unique(a)) <= {0, 255} and set(np.unique(b)) <= {0, 255}


@pytest.mark.parametrize("name", PAPERS)
def test_predict_missing_input_is_a_clean_error(name, tiny_runs, tmp_path, capsys):
    t = tiny_runs(name)
    with pytest.raises(SystemExit) as exc:
        t.command("predict")(["--run-dir", str(t.run), str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("name", PAPERS)
def test_table_says_not_run_and_keeps_synthetic_runs_out(name, tiny_runs, tmp_path):
    from common.results import collect

    t = tiny_runs(name)
    results = tmp_path / "results"
    t.command("table")(["--runs-root", str(t.root), "--results-dir", str(results), "--skip-profile"])
    readme = (results / "README.md").read_text()
    assert "| not run |" in readme
    # the synthetic runs are found but, by design, are no result: in no table, no kept record
    assert {r["metrics"]["dataset"] for r in collect(name, t.root, results)} == {"synthetic"}
    assert "synthetic" not in readme and "synthetic" not in (results / "other_data.md").read_text()
    assert not (results / "records").exists()


@pytest.mark.parametrize("name", PAPERS)
def test_notebook_executes_top_to_bottom(name, tiny_runs, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    t = tiny_runs(name)
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    monkeypatch.setenv("SLR_RUNS_DIR", str(t.root))
    monkeypatch.setenv("NOTEBOOK_RUN_DIR", str(t.run))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"


def test_predict_never_overwrites_without_being_asked(tiny_runs, tmp_path, capsys):
    """A ground-truth folder given as --out used to lose its masks; two inputs with one id used to
    overwrite each other's mask ("wrote 3 masks", one file)."""
    t = tiny_runs("slsnet")
    predict = t.command("predict")
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(src / "ISIC_0000001.jpg")
    out = tmp_path / "truth"
    out.mkdir()
    truth = out / "ISIC_0000001_segmentation.png"
    truth.write_bytes(b"ground truth")
    with pytest.raises(SystemExit) as exc:
        predict(["--run-dir", str(t.run), str(src), "--out", str(out)])
    assert exc.value.code == 2 and truth.read_bytes() == b"ground truth"
    err = capsys.readouterr().err
    assert "ISIC_0000001_segmentation.png" in err and "--overwrite" in err
    predict(["--run-dir", str(t.run), str(src), "--out", str(out), "--overwrite"])
    assert truth.read_bytes() != b"ground truth"
    # one id twice: X.jpg beside X_downsampled.jpg, or the same name in two folders
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(src / "ISIC_0000001_downsampled.jpg")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(other / "ISIC_0000001.jpg")
    for inputs in ([str(src)], [str(src / "ISIC_0000001.jpg"), str(other)]):
        with pytest.raises(SystemExit) as exc:
            predict(["--run-dir", str(t.run), *inputs, "--out", str(tmp_path / "fresh")])
        assert exc.value.code == 2 and "overwrite each other" in capsys.readouterr().err
        assert not (tmp_path / "fresh").exists()
    # --out naming a file
    with pytest.raises(SystemExit) as exc:
        predict(["--run-dir", str(t.run), str(other), "--out", str(truth)])
    assert exc.value.code == 2 and "is a file" in capsys.readouterr().err


def test_predict_with_a_corrupt_image_names_it_and_writes_nothing(tiny_runs, tmp_path, capsys):
    t = tiny_runs("slsnet")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(src / "ISIC_0000001.jpg")
    (src / "ISIC_0000002.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    with pytest.raises(SystemExit) as exc:
        t.command("predict")(["--run-dir", str(t.run), str(src), "--out", str(tmp_path / "out")])
    assert exc.value.code == 1
    assert "ISIC_0000002.jpg" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.png"))


def test_resume_refuses_another_data_folder(tiny_runs, shared_data, capsys):
    ph2 = shared_data / "ph2-dev"
    if not ph2.is_dir():
        pytest.skip(f"{ph2} is absent")
    t = tiny_runs("slsnet")
    with pytest.raises(SystemExit) as exc:
        t.command("train")(["--run-dir", str(t.run), "--resume", "--data-dir", str(ph2)])
    assert exc.value.code == 2 and "--resume" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--split", "holdout:0.5"], "validation fraction"),
    (["--split", "holdout:a,b"], "numbers"),
    (["--seed", "-1"], "--seed"),
    (["--set", "learning_rate=-5"], "learning rate"),
    (["--set", "dropout=inf"], "finite"),
    (["--set", "threshold=2"], "threshold"),
    (["--batch-size", "500"], "larger than the training part"),  # asked for: refused
])
def test_options_out_of_range_are_one_line_errors(tiny_runs, argv, words, capsys, tmp_path):
    t = tiny_runs("slsnet")
    with pytest.raises(SystemExit) as exc:
        t.command("train")([*t.train_argv(), "--runs-root", str(tmp_path / "runs"), *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and words in err and "Traceback" not in err, err
    assert not list((tmp_path / "runs").rglob("config.json")), "a refused run left a folder"


def test_damaged_run_files_stop_resume_with_one_line(tiny_runs, tmp_path, capsys):
    t = tiny_runs("slsnet")
    train = t.command("train")
    for damage, code, words in (
            (lambda run: (run / "checkpoints" / "last.npz").write_bytes(b"PK cut"), 1, "last.npz"),
            (lambda run: (run / "config.json").write_text('{"paper": "sls'), 1, "config.json"),
            (lambda run: [(run / "checkpoints" / "last.npz").unlink(), (run / "metrics.json").unlink()],
             2, "no finished epoch")):
        run = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(t.run, run)
        damage(run)
        argv = ["--run-dir", str(run), "--resume"] + (["--finish"] if code == 2 else [])
        with pytest.raises(SystemExit) as exc:
            train(argv)
        err = capsys.readouterr().err
        assert exc.value.code == code and words in err and "Traceback" not in err, err
