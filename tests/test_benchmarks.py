"""The benchmark scripts run (figures are printed, never asserted): tiny settings, marked slow."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("argv, expect", [
    (["benchmarks/train_step.py", "--size", "64x64", "--batch", "2", "--rounds", "1", "--steps", "1"], "ratio ours/theirs"),
    (["benchmarks/epoch.py", "--papers", "asnet"], "asnet (ASNet)"),
    (["benchmarks/inference.py", "--papers", "slsnet", "--runs", "1"], "slsnet (SLSNet)"),
])
def test_benchmark_prints_its_figures(argv, expect):
    done = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert expect in done.stdout
