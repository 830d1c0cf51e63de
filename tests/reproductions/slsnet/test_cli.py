"""What is SLSNet's own in its commands: its options, the GAN's losses, its tables' rows, a real SIGKILL.

The runner behaviours (run folder, resume, evaluate, predict, table, notebook) are ``../test_runner.py``."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.fixture
def runs(tiny_runs):
    t = tiny_runs("slsnet")
    return t.root, t.run


def test_short_training_lowers_generator_loss_and_raises_jaccard(runs):
    history = read_csv(runs[1] / "history.csv")
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))
    assert history[-1]["g_loss"] < history[0]["g_loss"], history
    assert max(h["val_jaccard"] for h in history[1:]) > history[0]["val_jaccard"], history


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


def test_rows_that_are_one_experiment_share_a_run_and_other_sizes_do_not(runs, tmp_path, relabel):
    """One ISIC 2017 run of the SLSNet config fills "SLSNet (ISIC 2017)", "SLSNet", "SLSNet 128" and
    "SLSNet + BCE + L1 + Jaccard"; "SLSNet 64" and "SLSNet 256" stay "not run"."""
    from reproductions.slsnet.configs import BASE
    from reproductions.slsnet.table import main

    _, run = runs
    root = tmp_path / "runs"
    metrics = json.loads((run / "metrics.json").read_text())
    update = {"split_spec": "official", "split": {"train": 2000, "val": 150, "test": 600},
              "scores": {"test": {**metrics["scores"]["val"], "jaccard": 0.5}, **metrics["scores"]}}
    target = relabel(run, root / "slsnet" / "slsnet" / run.name, dataset="isic2017", row="SLSNet",
                     row_config=BASE, metrics_update={**update, "image_size": [128, 128]})
    cfg = json.loads((target / "config.json").read_text())
    cfg["config"]["image_size"] = [128, 128]   # as a run at the row's own size
    (target / "config.json").write_text(json.dumps(cfg))
    results = tmp_path / "results"
    main(["--runs-root", str(root), "--results-dir", str(results), "--skip-profile"])
    tables = {n: (results / f"table_{n}.md").read_text() for n in (3, 6, 7, 8)}
    for number, row in ((3, "SLSNet (ISIC 2017)"), (6, "SLSNet"), (7, "SLSNet 128"), (8, "SLSNet + BCE + L1 + Jaccard")):
        line = next(x for x in tables[number].splitlines() if x.startswith(f"| {row} |"))
        assert "| 50.00 |" in line and line.endswith(f"run {run.name} |"), (number, line)
    for row in ("SLSNet 64", "SLSNet 256", "BL GAN"):
        line = next(x for x in tables[7 if "SLSNet" in row else 6].splitlines() if x.startswith(f"| {row} |"))
        assert line.endswith("| not run |"), line



def test_probe_reports_the_discriminator_on_real_generated_and_swapped_value_masks(runs, capsys):
    """``probe`` loads G and D from the last state and writes its record beside the run's."""
    import numpy as np

    from reproductions.slsnet.probe import PROBES, main as probe, probe as probe_d

    run = runs[1]
    capsys.readouterr()
    result = probe(["--run-dir", str(run), "--split", "val", "--json"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["d_output"] == result["d_output"]
    assert set(result["d_output"]) == set(PROBES) and all(0 <= v <= 1 for v in result["d_output"].values())
    assert result["epoch"] == EPOCHS and result["n"] == len(json.loads((run / "split.json").read_text())["val"])
    saved = json.loads((run / "probe_discriminator_val.json").read_text())
    assert saved["d_output"] == result["d_output"] and saved["provenance"]["git"]["commit"]

    class Shape:       # a "discriminator" that sees only whether the mask is a disc, not its values
        def __call__(self, pair, training):
            m = np.asarray(pair[1])[..., 0]
            return np.full((len(m), 1), float(np.mean((m[:, 8:24, 8:24] >= 0.5).mean((1, 2)) > 0.5)))

    class Generator:   # soft masks of a square off the disc
        def __call__(self, x, training):
            out = np.full((len(x), 32, 32, 1), 0.2, "float32")
            out[:, :10, :10] = 0.9
            return out

    y = np.zeros((4, 32, 32, 1), "float32")
    y[:, 6:26, 6:26] = 1
    scores = probe_d(Generator(), Shape(), np.zeros((4, 32, 32, 3), "float32"), y)
    assert scores == {"real": 1.0, "generated": 0.0, "generated_binarised": 0.0, "real_softened": 1.0}


def test_probe_of_a_folder_that_is_not_a_run_is_a_clean_error(tmp_path, capsys):
    from reproductions.slsnet.probe import main as probe

    with pytest.raises(SystemExit) as exc:
        probe(["--run-dir", str(tmp_path)])
    assert exc.value.code == 2 and "is not a run folder" in capsys.readouterr().err
