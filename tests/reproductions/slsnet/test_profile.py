"""The SLSNet profile CLI (Table 5 columns)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reproductions.slsnet import profile
from reproductions.slsnet.configs import ROWS

REPO = Path(__file__).resolve().parents[3]


def test_cli_json_subprocess():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "reproductions.slsnet.profile", "--row", "SLSNet 64",
         "--runs", "1", "--warmup", "1", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert {"row", "image_size", "params", "macs", "latency_ms"} <= set(row)
    assert row["row"] == "SLSNet 64" and row["image_size"] == 64
    assert abs(row["params"] - 2.35e6) / 2.35e6 < 0.10
    assert abs(row["macs"] - 0.23e9) / 0.23e9 < 0.10  # Table 5 / Table 7: 0.23 G at 64 x 64
    assert row["attention_macs"] > 0 and row["latency_ms"] > 0
    assert row["paper_macs_g"] == {"Table 5": 0.23, "Table 7": 0.23}


def test_main_in_process(capsys):
    assert profile.main(["--row", "BL GAN", "--row", "SLSNet", "--image-size", "32",
                         "--no-latency", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["row"] for r in rows] == ["BL GAN", "SLSNet"]
    assert all(r["image_size"] == 32 and r["latency_ms"] is None for r in rows)
    bl, slsnet = rows
    assert bl["attention_macs"] == 0 < slsnet["attention_macs"]
    assert bl["macs"] < slsnet["macs"]
    assert slsnet["paper_macs_g"] == {}  # the paper has no 32 x 32 row

    text = profile._format(rows)
    assert "MACs (G)" in text and "BL GAN" in text and "SLSNet" in text


def test_paper_macs_follow_equal_configurations():
    assert profile.paper_macs("SLSNet (ISIC 2017)") == {"Table 5": 0.90, "Table 6": 0.90,
                                                        "Table 7": 0.90}
    assert profile.paper_macs("SLSNet 256") == {"Table 5": 3.16, "Table 7": 3.61}
    assert profile.paper_macs("BL + CAM") == {"Table 6": 0.85}
    assert profile.paper_macs("SLSNet + BCE")["Table 6"] == 0.90  # same generator, other loss
    assert profile.paper_macs("SLSNet", image_size=64) == {}


def test_default_rows_are_the_generator_rows_of_tables_5_to_7():
    rows = profile.default_rows()
    assert rows[:3] == ["SLSNet 64", "SLSNet 128", "SLSNet 256"]
    assert rows[3:] == ["BL GAN", "BL + PAM", "BL + CAM", "BL + PAM + CAM w/o MS", "SLSNet"]
    assert all(row in ROWS for row in rows)


@pytest.mark.parametrize("argv", [
    ["--row", "SLSNet 512"], ["--image-size", "30"], ["--runs", "0"],
    ["--row", "SLSNet", "--all"],
])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        profile.main(argv)
    assert excinfo.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_explains(capsys):
    with pytest.raises(SystemExit) as excinfo:
        profile.main(["--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "Table 5" in out and "--json" in out and "SLSNet 64" in out
