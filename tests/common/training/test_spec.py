"""The run specification: built once from the command line, recorded by one function, compared on resume."""
from __future__ import annotations

import dataclasses
import json
import os

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


def test_fast_is_recorded_and_a_resumed_fast_run_stays_fast(tmp_path):
    from common.results import run_options

    spec = _specs(ASNET, "--data-dir", "x", "--fast")[0]
    record = spec.record("")
    assert record["exact"] is False and "--fast" in run_options({"config": record})
    assert _specs(ASNET, "--data-dir", "x")[0].record("")["exact"] is True
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({**json.loads(json.dumps(record, default=str)), "paper": "asnet",
                                                 "config": dataclasses.asdict(spec.config)}, default=str))
    resumed = _specs(ASNET, "--resume", "--run-dir", str(run))[0]
    assert resumed.exact is False
    check_resume(json.loads((run / "config.json").read_text()), resumed.record(""), run)


def test_exact_reruns_ask_xla_for_its_deterministic_gpu_kernels(monkeypatch):
    from common.training.determinism import XLA_DETERMINISTIC, configure_xla

    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    configure_xla(exact=False)
    assert XLA_DETERMINISTIC not in os.environ["XLA_FLAGS"]
    configure_xla(exact=True)
    configure_xla(exact=True)
    flags = os.environ["XLA_FLAGS"].split()
    assert flags == ["--xla_force_host_platform_device_count=2", XLA_DETERMINISTIC]


def test_default_accumulation_is_the_fewest_parts_that_fit_the_micro_batch():
    from common.training.memory import default_accumulation

    assert default_accumulation(8, None) == 1
    assert default_accumulation(8, 8) == 1
    assert default_accumulation(8, 2) == 4
    assert default_accumulation(16, 5) == 4          # 16 / 4 = 4 images per step, the most under 5
    assert default_accumulation(32, 1) == 32
    assert default_accumulation(12, 5, devices=2) == 2    # 12 / (2 x 2) = 3 per device
    assert default_accumulation(7, 2) == 7                # a prime batch: one image at a time


def test_rows_too_large_for_a_card_train_as_micro_batches_by_default_and_the_option_overrides(capsys):
    from reproductions.isic2019_classifiers.paper import PAPER as THESIS
    from reproductions.slsnet.paper import PAPER as SLSNET

    # SLSNet 256: the position attention takes about 5 GB per image; the discriminator needs 2
    spec = _specs(SLSNET, "--row", "SLSNet 256", "--data-dir", "x")[0]
    assert (spec.config.batch_size, spec.accumulate) == (8, 4)
    assert "4 micro-batches (2 images each)" in capsys.readouterr().err
    assert _specs(SLSNET, "--row", "SLSNet 128", "--data-dir", "x")[0].accumulate == 1
    assert _specs(SLSNET, "--row", "SLSNet 256", "--data-dir", "x", "--accumulate", "2")[0].accumulate == 2
    # the thesis's U-Net at 768x1024: one image at a time, the batch of 32 kept; its classifiers whole
    assert _specs(THESIS, "--row", "U-Net", "--data-dir", "x")[0].accumulate == 32
    assert _specs(THESIS, "--row", "VGG16", "--data-dir", "x")[0].accumulate == 1
    # smaller images need fewer parts, or none
    assert _specs(THESIS, "--row", "U-Net", "--data-dir", "x", "--image-size", "192x256")[0].accumulate == 2
    assert _specs(THESIS, "--row", "U-Net", "--data-dir", "x", "--image-size", "128x128")[0].accumulate == 1
