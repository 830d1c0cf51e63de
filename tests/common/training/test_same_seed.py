"""Same seed, same numbers, for every paper: two runs of one command are identical, and a run killed
with SIGKILL after its first epoch and resumed with only ``--resume --run-dir`` ends with the same
history, metrics and weights (max abs difference 0) as the uninterrupted run; on TensorFlow in this
process and on JAX in subprocesses (its steps are compiled differently).

Each registered paper trains its declared tiny run (``Paper.tiny``: a narrowed row on a few synthetic
images), so the structure of its real step (the GAN step with its two optimizers, BN, dropout as
noise, schedules, folds, classes) runs in seconds. On JAX, SLSNet runs by default and the others
with ``-m slow``.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from common.training.records import read_csv
from reproductions import registry

REPO = Path(__file__).resolve().parents[3]
EPOCHS = 3

#: every registered paper's tiny run (``Paper.tiny``), three epochs at another seed
PAPERS = {name: registry.load(name).tiny_argv() for name in registry.PAPERS}


def _argv(paper, run_dir):
    return [*PAPERS[paper], "--epochs", str(EPOCHS), "--seed", "5", "--quiet", "--run-dir", str(run_dir)]


def _train(paper, argv):
    return importlib.import_module(f"reproductions.{paper}.train").main(argv)


def _history(run_dir):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_csv(run_dir / "history.csv")]


def _metrics(run_dir):
    data = json.loads((run_dir / "metrics.json").read_text())
    data.pop("provenance")
    return data


def _weights(run_dir) -> dict[str, np.ndarray]:
    out = {}
    with np.load(run_dir / "checkpoints" / "last.npz") as state:
        out.update({f"last/{k}": state[k] for k in state.files})
    with h5py.File(run_dir / "checkpoints" / "best.weights.h5", "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(f"best/{name}", obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_run(a: Path, b: Path) -> None:
    assert _history(a) == _history(b)
    assert _metrics(a) == _metrics(b)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and wa
    differ = [k for k in wa if not np.array_equal(wa[k], wb[k], equal_nan=True)]
    assert not differ, f"{len(differ)} of {len(wa)} arrays differ, e.g. {differ[:3]}"


_KILL_AFTER_FIRST_EPOCH = textwrap.dedent("""
    import sys, time
    import common.training.loop as loop
    write = loop.atomic_write_json
    def pausing(path, obj):
        write(path, obj)
        if str(path).endswith("state.json") and obj["epochs_done"] == 1:
            print("EPOCH-1-WRITTEN", flush=True)
            time.sleep(600)          # the parent kills us here, with SIGKILL
    loop.atomic_write_json = pausing
    import importlib
    importlib.import_module("reproductions.%s.train").main(sys.argv[1:])
""")


def _killed_after_first_epoch(paper, argv, env=None) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _KILL_AFTER_FIRST_EPOCH % paper, *argv], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "EPOCH-1-WRITTEN" in line:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "".join(lines[-20:])


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_same_command_same_numbers_and_sigkill_resume_ends_the_same(paper, tmp_path):
    first, second, killed = tmp_path / "first", tmp_path / "second", tmp_path / "killed"
    _train(paper, _argv(paper, first))
    _train(paper, _argv(paper, second))
    assert_same_run(first, second)

    _killed_after_first_epoch(paper, _argv(paper, killed))
    assert json.loads((killed / "state.json").read_text())["epochs_done"] == 1
    assert not (killed / "metrics.json").exists()
    _train(paper, ["--resume", "--run-dir", str(killed), "--quiet"])   # every option from the record
    assert_same_run(first, killed)


def _jax_env(cache: Path) -> dict:
    # XLA's persistent cache: the four processes compile the same programs once (about 35 s each
    # for the GAN step on 2 cores), and every run still executes them from scratch.
    return {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": str(cache),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def _jax_run(paper, argv, env):
    env = {**os.environ, **env}
    done = subprocess.run([sys.executable, "-m", f"reproductions.{paper}.train", *argv], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("paper", [name if name == "slsnet" else pytest.param(name, marks=pytest.mark.slow)
                                   for name in registry.PAPERS])
def test_same_numbers_and_sigkill_resume_on_jax(paper, tmp_path):
    pytest.importorskip("jax")
    env = _jax_env(tmp_path / "xla-cache")
    first, second, killed = tmp_path / "first", tmp_path / "second", tmp_path / "killed"
    _jax_run(paper, _argv(paper, first), env)
    _jax_run(paper, _argv(paper, second), env)
    assert json.loads((first / "config.json").read_text())["provenance"]["backend"] == "jax"
    assert_same_run(first, second)
    _killed_after_first_epoch(paper, _argv(paper, killed), env)
    _jax_run(paper, ["--resume", "--run-dir", str(killed), "--quiet"], env)
    assert_same_run(first, killed)
