"""The shared train command: nothing half-written after a failure, clean errors."""
from __future__ import annotations

import dataclasses

import pytest

from common.training.commands import train_main
from reproductions.slsnet.paper import PAPER


def test_a_failure_before_the_first_epoch_leaves_no_run_folder(tmp_path):
    def broken(cfg):
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


def test_evaluate_on_the_runs_own_folder_keeps_its_split(tmp_path):
    """``--data-dir`` naming the run's own dataset (however spelt) must not score the training images."""
    from common.training.runs import another_dataset

    own, other = tmp_path / "ph2", tmp_path / "other"
    own.mkdir(), other.mkdir()
    (tmp_path / "link").symlink_to(own)
    record = {"dataset": "ph2", "data_dir": str(own)}
    for spelling in (str(own), str(own) + "/", str(tmp_path / "link"), str(own / ".." / "ph2")):
        assert not another_dataset(spelling, record), spelling
    assert another_dataset(str(other), record)
    assert another_dataset(str(own), {"dataset": "synthetic", "data_dir": None})
    assert not another_dataset(None, record)


def test_a_row_batch_larger_than_the_training_part_is_recorded_as_it_ran(tmp_path, capsys):
    """Runs at batch 17 and 64 on 17 training images were identical while config.json kept 64."""
    import json

    (run,) = train_main(PAPER, ["--synthetic-size", "8", "--image-size", "32", "--epochs", "1",
                                "--runs-root", str(tmp_path), "--quiet"])
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["batch_size"] > 6 and record["batch_size_ran"] == 6
    assert "each epoch is one batch of 6 (recorded)" in capsys.readouterr().err


def test_a_run_without_a_validation_part_names_its_checkpoint_by_its_monitor(shared_data, tmp_path, capsys):
    """``--split count:N`` keeps no validation part: the newest weights are kept, and state.json,
    metrics.json and ``evaluate --checkpoint`` all call that checkpoint by the task's monitor."""
    import json

    from common.training.evaluation import evaluate_main
    from reproductions.asnet.paper import PAPER as ASNET

    (run,) = train_main(ASNET, ["--row", "U-Net", "--set", "unet_filters=4,8,16",
                                "--data-dir", str(shared_data / "isic2018-sample"), "--encoder-weights", "none",
                                "--image-size", "32", "--epochs", "1", "--batch-size", "2", "--split", "count:4",
                                "--runs-root", str(tmp_path), "--quiet"])
    state = json.loads((run / "state.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(state["checkpoints"]) == [metrics["checkpoint"]] == ["jaccard"] and "val" not in metrics["scores"]
    capsys.readouterr()
    result = evaluate_main(ASNET, ["--run-dir", str(run), "--checkpoint", "jaccard", "--json"])
    assert result["checkpoint"] == "jaccard" and result["split"] == "test"
    assert result["mean"]["jaccard"] == pytest.approx(metrics["scores"]["test"]["jaccard"], abs=1e-6)
