"""Kept run records speak of the project only: the data folder by its name, not the machine's path."""
from __future__ import annotations

from common.results import scrub_paths


def test_scrub_paths_keeps_the_folder_name_and_nothing_else():
    record = {"data_dir": "/home/someone/data/ph2-dev", "seed": 3,
              "command": "python -m reproductions.asnet.train --data-dir ../elsewhere/ph2-dev --fold all"}
    clean = scrub_paths(record)
    assert clean["data_dir"] == "DATA/ph2-dev" and clean["seed"] == 3
    assert clean["command"] == "python -m reproductions.asnet.train --data-dir DATA/ph2-dev --fold all"
    assert record["data_dir"].startswith("/home")                      # the run folder's own copy is untouched
    assert scrub_paths({"data_dir": None, "command": "python -m x"}) == {"data_dir": None, "command": "python -m x"}
    other = scrub_paths({"command": "python -m x.train --runs-root /home/a/runs --cache-dir=/tmp/c "
                                    "--run-dir /home/a/runs/x/ph2-fold0 --fold 0"})["command"]
    assert other == "python -m x.train --runs-root RUNS --cache-dir=CACHE --run-dir ph2-fold0 --fold 0"


def test_runner_options_that_change_numbers_are_named_in_the_provenance():
    from common.results import RunResult, run_options

    rec = {"config": {"bn_recalibrate": 4, "precision": "mixed_bfloat16",
                      "scale": {"devices": 2, "strategy": "jax DataParallel", "jit_requested": True}},
           "metrics": {}}
    words = run_options(rec)
    assert words == "BatchNorm recalibrated from 4 batches, 2 devices (jax DataParallel), mixed_bfloat16, XLA"
    assert run_options({"config": {}, "metrics": {}}) == ""
    text = RunResult(row="r", dataset="ph2", split="kfold:5", scores={}, epochs=3, image_size=(64, 64),
                     options=words, runs=["a"]).provenance()
    assert "weights none, BatchNorm recalibrated from 4 batches" in text
