"""python -m common.data inspect: text, --json, exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.data.__main__ import main

REPO = Path(__file__).resolve().parents[3]


def run(*args):
    """The CLI in a fresh interpreter, as a user runs it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "common.data", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def call(capsys, *args):
    """The CLI in this process (faster): (exit status, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:                  # argparse --help
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_inspect_json_ph2_dev(shared_data):
    out = run("inspect", str(shared_data / "ph2-dev"), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["dataset"] == "ph2" and report["samples"] == 100
    assert report["classes"] == {"common nevus": 40, "atypical nevus": 40, "melanoma": 20}
    assert report["sizes"]["min"][0] >= 370 and report["sizes"]["max"][0] <= 390
    assert report["problems"] == [] and report["with_masks"] == 100


def test_inspect_json_isic2018_sample(shared_data):
    report = json.loads(run("inspect", str(shared_data / "isic2018-sample"), "--json").stdout)
    assert report["dataset"] == "isic2018" and report["samples"] == 5
    assert report["splits"] == {"train": 5} and report["sizes"]["min"] == [600, 450]


def test_inspect_text_and_synthetic_default(capsys):
    code, out, _ = call(capsys, "inspect")
    assert code == 0 and out.startswith("synthetic: 200 samples")
    report = json.loads(call(capsys, "inspect", "--dataset", "synthetic", "--size", "30", "--json")[1])
    assert report["samples"] == 30 and report["dataset"] == "synthetic"


def test_inspect_reports_problems(tmp_path, build, capsys):
    root = build.isic2018(tmp_path / "d", with_val=False)
    gt = root / "ISIC2018_Task1_Training_GroundTruth"
    (gt / "ISIC_0000001_segmentation.png").unlink()
    from PIL import Image
    mask = Image.open(gt / "ISIC_0000002_segmentation.png")
    mask.resize((mask.width // 2, mask.height // 2)).save(gt / "ISIC_0000002_segmentation.png")
    (root / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000000.jpg").write_bytes(b"garbage")
    (root / "ISIC2018_Task1-2_Training_Input" / "notes.docx").write_bytes(b"x")
    problems = "\n".join(json.loads(call(capsys, "inspect", str(root), "--json")[1])["problems"])
    assert "ISIC_0000001_segmentation.png: missing mask" in problems
    assert "ISIC_0000002_segmentation.png: mask is" in problems
    assert "unreadable image" in problems and "ISIC_0000000.jpg" in problems
    assert "notes.docx: stray file" in problems
    code, text, _ = call(capsys, "inspect", str(root), "--strict")
    assert code == 1 and "problems: 4" in text


@pytest.mark.parametrize("make", ["empty", "unknown"])
def test_inspect_fails_clearly_on_unknown_folder(tmp_path, make, capsys):
    if make == "unknown":
        (tmp_path / "holiday.jpg").write_bytes(b"x")
    code, _, err = call(capsys, "inspect", str(tmp_path))
    assert code == 2 and str(tmp_path) in err and "Known layouts" in err
    assert ("is empty" in err) == (make == "empty")


def test_inspect_unrecognised_layout_exit_status_in_a_fresh_interpreter(tmp_path):
    out = run("inspect", str(tmp_path))
    assert out.returncode == 2 and "Known layouts" in out.stderr


def test_help_lists_layouts(capsys):
    code, out, _ = call(capsys, "inspect", "--help")
    assert code == 0 and "--json" in out and "isic2019" in out
