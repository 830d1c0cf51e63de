"""The GPU check script runs end to end on the CPU (tiny sizes), so it is known to work before it
meets a GPU. Slow: it trains tiny runs in subprocesses."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    assert gpu_check.main(["--small", "--papers", "asnet", "--backends", "tensorflow",
                           "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [r["check"] for r in rows] == ["dry run", "same numbers", "--precision mixed", "--jit"]
    assert rows[0]["peak"].endswith("at batch 2") and rows[1]["result"] == "yes"
    assert "| asnet: ASNet | tensorflow | dry run |" in capsys.readouterr().out
