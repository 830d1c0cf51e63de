"""Every careless option gets a clear error before any work; --help says what each row trains;
Ctrl-C ends with the resume command; --skip-bad leaves bad files out and lists them in the record."""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from common.data import synthetic

REPO = Path(__file__).resolve().parents[3]
SLSNET_TINY = ["--set", "multiscale_width=4", "--set", "widths=4,8,16", "--set", "num_fams=1,1",
               "--set", "fam_dilations=1", "--set", "decoder_widths=8,4", "--set", "decoder_fams=1",
               "--set", "disc_widths=4,8,16", "--image-size", "32", "--batch-size", "4"]


def _main(paper, argv):
    return importlib.import_module(f"reproductions.{paper}.train").main(argv)


def _isic2018(root: Path, n: int) -> Path:
    images, masks = root / "ISIC2018_Task1-2_Training_Input", root / "ISIC2018_Task1_Training_GroundTruth"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for i in range(n):
        image, mask, _ = synthetic.generate_sample(i, (48, 64), seed=1)
        Image.fromarray(image).save(images / f"ISIC_{i:07d}.jpg", quality=95)
        Image.fromarray(mask[..., 0] * 255).save(masks / f"ISIC_{i:07d}_segmentation.png")
    return root


@pytest.mark.parametrize("paper, argv, message", [
    ("slsnet", ["--image-size", "33"], "image_size 33 must be a multiple of 8"),
    ("asnet", ["--image-size", "33"], "both sides must be multiples of 32"),
    ("aernet", ["--image-size", "48x64"], "e.g. 32 or 64 for 48"),
    ("asnet", ["--row", "U-Net", "--set", "unet_filters=4,8,16", "--image-size", "30"],
     "multiples of 4"),
    ("slsnet", ["--image-size", "32x"], "image size '32x' is not N or HxW"),
    ("slsnet", ["--image-size", "x32"], "is not N or HxW"),
    ("slsnet", ["--batch-size", "0"], "argument --batch-size: 0 is out of range: it must be at least 1"),
    ("slsnet", ["--epochs", "0"], "argument --epochs: 0 is out of range"),
    ("slsnet", ["--epochs", "-1"], "argument --epochs: -1 is out of range"),
    ("slsnet", ["--epochs", "two"], "argument --epochs: 'two' is not a whole number"),
    ("slsnet", ["--split", "holdout:0.9,0.9"], "together at most 1"),
    ("slsnet", ["--split", "holdout:1.5,0.2"], "each between 0 and 1"),
    ("slsnet", ["--split", "kfold:1"], "k-fold needs 2 <= K"),
    ("asnet", ["--fold", "7"], "--fold 7: choose 0..4 or all"),
    ("asnet", ["--fold", "x"], "--fold x: choose 0..4 or all"),
    ("slsnet", ["--resume", "--run-dir", "/nonexistent/run"], "holds no run (config.json missing)"),
])
def test_careless_options_are_clear_errors_before_any_work(paper, argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        _main(paper, [*argv, "--runs-root", str(tmp_path / "runs"), "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))


def test_count_split_on_a_small_folder_names_the_count_and_the_alternatives(tmp_path, capsys):
    root = _isic2018(tmp_path / "isic", 5)
    with pytest.raises(SystemExit) as exc:
        _main("aernet", ["--data-dir", str(root), "--encoder-weights", "none", "--image-size", "32",
                         "--runs-root", str(tmp_path / "runs"), "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--split count:2094: isic2018 has 5 training images" in err
    assert "--split holdout:0.8,0.2" in err and "--split kfold:5" in err
    assert not any((tmp_path / "runs").rglob("config.json"))


def test_help_shows_each_default_once_and_every_rows_schedule(capsys):
    from reproductions.slsnet.configs import ROWS

    with pytest.raises(SystemExit):
        _main("slsnet", ["--help"])
    out = capsys.readouterr().out
    assert out.count("(default: the row's)") == 5          # split, epochs, batch size, image size, weights
    assert "(default: None)" not in out and "(default: False)" not in out
    for name, cfg in ROWS.items():
        assert f'"{name}"' in out and f"{cfg.epochs} epochs, batch {cfg.batch_size}, " \
                                      f"{cfg.image_size[0]}x{cfg.image_size[1]}" in out
    assert "quick settings apply: epochs 8, synthetic_size 128, image_size 64x64" in out


def test_skip_bad_leaves_bad_files_out_and_records_them(tmp_path, capsys):
    root = _isic2018(tmp_path / "isic", 12)
    bad = root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000003.jpg"
    bad.write_bytes(b"not a jpeg at all" * 20)
    argv = ["--data-dir", str(root), "--split", "holdout:0.75,0.25", "--epochs", "1", *SLSNET_TINY,
            "--runs-root", str(tmp_path / "runs"), "--quiet"]
    with pytest.raises(SystemExit) as exc:
        _main("slsnet", argv)
    assert exc.value.code == 1 and "ISIC_0000003.jpg" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="ISIC_0000003"):
        run = Path(_main("slsnet", [*argv, "--skip-bad"])[0])
    record = json.loads((run / "config.json").read_text())
    assert record["skip_bad"] is True
    assert [s["id"] for s in record["skipped"]] == ["ISIC_0000003"]
    assert "ISIC_0000003.jpg" in record["skipped"][0]["error"]
    split = json.loads((run / "split.json").read_text())
    assert "ISIC_0000003" not in split["train"] + split["val"]
    assert len(split["train"]) + len(split["val"]) == 11


def test_ctrl_c_prints_the_resume_command_and_exits_130(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reproductions.slsnet.train", *SLSNET_TINY, "--synthetic-size", "16",
         "--epochs", "100000", "--run-dir", str(run), "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("epoch 2/"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, "".join(lines[-5:]) + rest
    assert "Traceback" not in rest
    done = json.loads((run / "state.json").read_text())["epochs_done"]
    assert f"interrupted after epoch {done} of 100000" in rest
    assert f"python -m reproductions.slsnet.train --resume --run-dir {run}" in rest
    assert (run / "checkpoints" / "last.npz").exists()


def test_output_to_a_file_has_one_line_per_epoch_and_no_backend_noise(tmp_path):
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out, "w") as fo, open(err, "w") as fe:
        done = subprocess.run(
            [sys.executable, "-m", "reproductions.slsnet.train", *SLSNET_TINY, "--synthetic-size", "16",
             "--epochs", "2", "--runs-root", str(tmp_path / "runs")],
            cwd=REPO, stdout=fo, stderr=fe, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    log = err.read_text()
    assert done.returncode == 0, log
    assert "\r" not in log                       # no progress-bar frames in a log file
    assert [line.split(":")[0] for line in log.splitlines() if line.startswith("epoch ")] == \
        ["epoch 1/2", "epoch 2/2"]
    for noise in ("cuInit", "absl::InitializeLog", "oneDNN", "cuda drivers", "remapper"):
        assert noise not in log, noise
    header = out.read_text().splitlines()[0].split()
    assert header == ["split", "jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity",
                      "specificity"]
