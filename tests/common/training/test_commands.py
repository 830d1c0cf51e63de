"""The shared train command: nothing half-written after a failure, clean errors."""
from __future__ import annotations

import dataclasses

import pytest

from common.training.commands import train_main
from reproductions.slsnet.paper import PAPER


def test_a_failure_before_the_first_epoch_leaves_no_run_folder(tmp_path):
    def broken(cfg, weights):
        raise RuntimeError("weights file unreadable")

    paper = dataclasses.replace(PAPER, build_training=broken)
    with pytest.raises(RuntimeError, match="weights file unreadable"):
        train_main(paper, ["--synthetic-size", "8", "--image-size", "32", "--runs-root", str(tmp_path),
                           "--quiet"])
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], list(tmp_path.rglob("*"))


def test_an_empty_data_folder_is_a_clean_error(tmp_path, capsys):
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(SystemExit) as exc:
        train_main(PAPER, ["--data-dir", str(empty), "--runs-root", str(tmp_path / "runs"), "--quiet"])
    assert exc.value.code in (1, 2)
    assert str(empty) in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))
