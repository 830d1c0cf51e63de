"""Nothing half-written, nothing unreadable to the lab, damaged records named: the run folder's
writers and readers under faults (a full disk, a damaged checkpoint or record)."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid

import pytest

from common.data.errors import DataError
from common.training import records, state


def test_records_are_written_with_the_mode_a_plain_open_gives(tmp_path):
    """Atomic writes went through mkstemp's 0600: a lab's colleagues could not read the runs."""
    mask = os.umask(0o022)
    try:
        path = records.atomic_write_text(tmp_path / "config.json", "{}")
    finally:
        os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_a_damaged_checkpoint_or_record_is_named(tmp_path):
    bad = tmp_path / "last.npz"
    bad.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DataError, match=r"last\.npz: the training checkpoint cannot be read"):
        state.load_state(bad, {}, {})
    cut = tmp_path / "config.json"
    cut.write_text('{"paper": "slsnet", "config": {"epo')
    with pytest.raises(DataError, match=r"config\.json: not valid JSON"):
        records.load_json(cut)


def _tmpfs(tmp_path, options: str):
    """A tmpfs mounted with ``options`` for the test (skipped where it cannot be mounted: not root,
    or no mount in a container); unmounted afterwards."""
    where = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("mount is not available here")
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs."""
    yield from _tmpfs(tmp_path, "size=1M")


def test_full_disk_while_writing_a_record_leaves_no_partial_file(tiny_disk):
    with pytest.raises(OSError) as exc:
        records.atomic_write_bytes(tiny_disk / "checkpoints" / "last.npz", b"x" * (2 << 20))
    assert exc.value.errno == errno.ENOSPC
    assert not [p for p in tiny_disk.rglob("*") if p.is_file()]


def test_full_disk_while_building_the_cache_is_an_error_not_a_crash(tiny_disk):
    """The memory-mapped arrays used to be sparse files: a full disk killed the process with SIGBUS
    (exit 135) and left the partial arrays filling the disk."""
    from common.data import load_arrays, load_index

    index = load_index("synthetic", None, synthetic_size=40, seed=0)
    with pytest.raises(OSError) as exc:
        load_arrays(index, index.samples, (96, 96), cache_dir=tiny_disk, progress=False)
    assert exc.value.errno == errno.ENOSPC and "cache" in str(exc.value)
    assert not [p for p in tiny_disk.rglob("*tmp*")], "partial cache files were left"


def test_full_disk_when_saving_weights_is_refused_before_hdf5_starts(tmp_path, monkeypatch):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    Usage = shutil.disk_usage(tmp_path).__class__
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10 ** 9, 10 ** 9, 10))
    with pytest.raises(OSError) as exc:
        state.save_weights_atomic(model, tmp_path / "best.weights.h5")
    assert exc.value.errno == errno.ENOSPC and "best.weights.h5" in str(exc.value)
    assert not list(tmp_path.iterdir())


@pytest.fixture
def read_only_disk(tmp_path):
    """A read-only tmpfs."""
    yield from _tmpfs(tmp_path, "size=1M,ro")


@pytest.mark.parametrize("option", ["--runs-root", "--cache-dir"])
def test_a_read_only_runs_root_or_cache_is_one_line(read_only_disk, option, capsys):
    from reproductions.asnet.train import main

    target = read_only_disk / "runs" if option == "--runs-root" else read_only_disk
    with pytest.raises(SystemExit) as exc:
        main(["--epochs", "1", "--synthetic-size", "24", option, str(target)])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "not allowed to write here" in err and "Traceback" not in err, err


def test_partial_cache_arrays_of_a_killed_builder_are_removed(tmp_path):
    from common.data import load_arrays, load_index

    index = load_index("synthetic", None, synthetic_size=6, seed=0)
    load_arrays(index, index.samples, (16, 16), cache_dir=tmp_path, progress=False)
    (entry,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = finished.pid                                            # a process that has ended
    stale = entry / f"images.npy.tmp-{dead}-abcdef12"
    stale.write_bytes(b"partial")
    mine = entry / f"masks.npy.tmp-{os.getpid()}-abcdef12"
    mine.write_bytes(b"being written")
    (entry / "meta.json").unlink()                                 # forces a rebuild of the entry
    load_arrays(index, index.samples, (16, 16), cache_dir=tmp_path, progress=False)
    assert not stale.exists() and mine.exists()


def test_a_driver_without_a_visible_gpu_is_warned_with_the_install_fix():
    cpu_only = {"backend": "tensorflow", "accelerators": [], "hardware": "CPU"}
    hint = records.gpu_install_hint(cpu_only, driver=True)
    assert "tensorflow[and-cuda]" in hint and "trains on the CPU" in hint
    assert "jax[cuda12]" in records.gpu_install_hint({**cpu_only, "backend": "jax"}, driver=True)
    assert records.gpu_install_hint(cpu_only, driver=False) is None
    assert records.gpu_install_hint({**cpu_only, "accelerators": ["NVIDIA T4"]}, driver=True) is None


def test_every_run_names_its_device(capsys):
    from reproductions.asnet.train import main

    main(["--epochs", "1", "--synthetic-size", "24", "--dry-run"])
    assert "device: CPU (" in capsys.readouterr().err


def test_recording_a_config_is_not_a_use_of_its_fields(tmp_path):
    """Writing a tracked config to a record reads every field without noting one: the record writer
    says so itself (``fields.field_values``), whatever its file is called."""
    import dataclasses
    import json

    from common.training import fields, records

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        used: int = 1
        idle: int = 2

    cfg = fields.tracked(Cfg())
    assert cfg.used == 1
    records.atomic_write_json(tmp_path / "config.json", {"config": cfg})
    assert json.loads((tmp_path / "config.json").read_text())["config"] == {"used": 1, "idle": 2}
    assert fields.reads(cfg) == {"used"} and fields.unused(cfg) == ["idle"]


def test_one_default_runs_root_for_every_command(monkeypatch, tmp_path):
    """Train, tables, plans, notebooks and the ensemble share one default: $SLR_RUNS_DIR, else the
    checkout's runs/ (wherever the command is started from)."""
    import argparse

    from common.training.arguments import add_common_train_arguments
    from common.training import records

    monkeypatch.delenv("SLR_RUNS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert records.default_runs_root() == records.CHECKOUT / "runs"
    parser = argparse.ArgumentParser()
    add_common_train_arguments(parser, default_row="x", rows={"x": None})
    assert parser.parse_args([]).runs_root == str(records.CHECKOUT / "runs")
    monkeypatch.setenv("SLR_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert records.default_runs_root() == tmp_path / "elsewhere"
