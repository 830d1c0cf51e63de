"""The run specification: built once from the command line, recorded by one function, compared on resume."""
from __future__ import annotations

import dataclasses
import json

import pytest

from common.config import ConfigError
from common.training.commands import train_parser
from common.training.spec import RECORDED, RunSpec, check_resume, specs_from_args
from reproductions.aernet.paper import PAPER as AERNET
from reproductions.asnet.paper import PAPER as ASNET


def _specs(paper, *argv):
    return specs_from_args(paper, train_parser(paper).parse_args(list(argv)))


def test_the_specification_is_frozen_and_records_every_recorded_option():
    spec = _specs(ASNET, "--data-dir", "somewhere", "--seed", "4", "--bn-recalibrate", "2")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 5
    record = spec.record("python -m ...")
    assert set(RECORDED) <= set(record)
    assert (record["seed"], record["bn_recalibrate"], record["dataset"]) == (4, 2, "auto")


def test_encoder_weights_live_in_the_config_and_the_option_sets_them():
    row = AERNET.rows[AERNET.default_row]
    assert row.encoder_weights == "imagenet"
    default = _specs(AERNET, "--data-dir", "x")[0]
    scratch = _specs(AERNET, "--data-dir", "x", "--encoder-weights", "none")[0]
    assert default.config.encoder_weights == default.encoder_weights == "imagenet"
    assert scratch.config.encoder_weights is None and scratch.record("")["encoder_weights"] == "none"


def test_an_option_the_row_cannot_take_is_refused_by_the_config():
    with pytest.raises(ConfigError, match="encoder-weights"):
        _specs(AERNET, "--data-dir", "x", "--row", "U-Net", "--encoder-weights", "imagenet")


def test_resume_compares_two_specifications_and_reads_older_records():
    spec = _specs(ASNET, "--data-dir", "x", "--encoder-weights", "none")[0]
    mine = spec.record("")
    saved = {**dataclasses.asdict(spec.config), "encoder_weights": "imagenet"}   # before weights lived in the config
    older = {**{k: v for k, v in mine.items() if k not in ("config", "skip_bad", "accumulate")},
             "config": saved, "encoder_weights": "none"}
    older = json.loads(json.dumps(older, default=str))
    check_resume(older, mine, "RUN")                                       # the same run: accepted
    other = RunSpec(**{**{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}, "seed": 9})
    with pytest.raises(ConfigError, match="seed=0, not 9"):
        check_resume(older, other.record(""), "RUN")
