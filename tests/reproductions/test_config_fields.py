"""Every field of every paper's config changes what runs, or setting it is refused.

- A text field names the values it accepts (``CHOICES``); any other value is a clean error listing
  them. A text field without a fixed list (``OPEN_FIELDS``) has its own parser.
- A run notes which fields it read (``common.training.fields``); ``--set`` on a field the row did not
  read is refused before training goes on, and ``config.json`` lists the row's unused fields.
- No field is dead: each is read by the paper's tiny run or, when that row does not use it, by the
  code of the rows that do.
"""
from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path

import numpy as np
import pytest

from common.config import ConfigError
from common.config import resolve_config
from common.training import fields
from reproductions import registry

REPO = Path(__file__).resolve().parents[2]
PAPERS = list(registry.PAPERS)


def _fields(name):
    cls = type(registry.load(name).rows[registry.load(name).default_row])
    return cls, dataclasses.fields(cls)


def _set(*overrides):
    return {"overrides": list(overrides)}


@pytest.mark.parametrize("name", PAPERS)
def test_every_text_field_lists_its_values_or_has_its_own_parser(name):
    cls, fs = _fields(name)
    hints = typing.get_type_hints(cls)
    choices, open_fields = getattr(cls, "CHOICES", {}), getattr(cls, "OPEN_FIELDS", {})
    for f in fs:
        if str in (typing.get_args(hints[f.name]) or (hints[f.name],)):
            assert f.name in choices or f.name in open_fields, f"{name}: text field {f.name} accepts anything"
    for row, cfg in registry.load(name).rows.items():
        for field_name, allowed in choices.items():
            assert getattr(cfg, field_name) in allowed, f"{name} {row}: {field_name} outside its own choices"


@pytest.mark.parametrize("name, field_name", [(n, f) for n in PAPERS for f in
                                              getattr(_fields(n)[0], "CHOICES", {})])
def test_an_unsupported_value_is_refused_naming_the_supported_ones(name, field_name):
    paper = registry.load(name)
    cfg = paper.rows[paper.default_row]
    with pytest.raises(ConfigError) as err:
        resolve_config(cfg, **_set(f"{field_name}=no_such_value"))
    message = str(err.value)
    allowed = type(cfg).CHOICES[field_name]
    assert field_name in message and all(("none" if a is None else str(a)) in message for a in allowed)


def _sources(name) -> str:
    files = [p for p in (REPO / "reproductions" / name).glob("*.py") if p.name != "configs.py"]
    files += list((REPO / "common").rglob("*.py"))
    return "\n".join(p.read_text() for p in files)


@pytest.mark.parametrize("name", PAPERS)
def test_no_field_is_dead(name, tiny_runs):
    """Read by the tiny run, or (a field that row does not use) read by the package's code."""
    t = tiny_runs(name)
    record = json.loads((t.run / "config.json").read_text())
    _, fs = _fields(name)
    unused = record["unused_fields"]
    assert set(unused) <= {f.name for f in fs}
    source = _sources(name)
    for field_name in unused:
        assert re.search(rf"cfg\.{field_name}\b|\"{field_name}\"", source), \
            f"{name}: nothing reads config field {field_name}; remove it or make it take effect"


#: Per paper, settings under which a field is not read by the tiny row (so --set on it is refused).
IDLE = {
    "slsnet": (["--set", "losses=adversarial,jaccard"], "l1_weight=1.0"),
    "aernet": ([], "encoder_input_scaling=false"),
    "asnet": ([], "sam_channels=8"),
    "transfer_ensemble": ([], "deeplab_output_stride=8"),
    "isic2019_classifiers": ([], "unet_filters=8,16"),
}


@pytest.mark.parametrize("name", PAPERS)
def test_set_on_a_field_the_row_does_not_read_is_refused(name, tiny_runs, capsys, tmp_path):
    assert set(IDLE) == set(PAPERS), "add the new paper's idle field here"
    t = tiny_runs(name)
    extra, idle = IDLE[name]
    with pytest.raises(SystemExit) as exc:
        t.command("train")([*t.train_argv(), *extra, "--set", idle, "--dry-run", "--runs-root", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--set {idle.split('=')[0]}: row" in err and "does not use this field" in err
    assert not any(tmp_path.rglob("config.json")), "a refused run leaves no folder"


def _dry_run_loss(t, capsys, *overrides):
    capsys.readouterr()
    t.command("train")([*t.train_argv(), *overrides, "--dry-run"])
    out = capsys.readouterr().out
    return float(re.search(r"\(loss ([0-9.]+)\)", out).group(1)), out


def test_aernet_loss_field_changes_the_loss(tiny_runs, capsys):
    """``--set loss=bce`` trains with BCE (it used to be recorded and ignored)."""
    t = tiny_runs("aernet")
    dice, out = _dry_run_loss(t, capsys)
    bce, _ = _dry_run_loss(t, capsys, "--set", "loss=bce")
    assert dice != bce and "fields read:" in out and "loss" in out.split("fields read:")[1].split("\n")[0]


def test_the_rows_threshold_is_used_by_validation_scoring_and_predict():
    from common.training.evaluation import postprocess_of as _post
    from common.training.tasks import SegmentationTask
    from reproductions.aernet.configs import BASE

    cfg = dataclasses.replace(BASE, threshold=0.6)
    task = SegmentationTask().bind(cfg)
    prob = np.full((1, 8, 8), 0.55, np.float32)
    truth = np.ones((1, 8, 8, 1), np.uint8)

    class Sample:
        id = "a"

    assert task.validation(prob, truth, [Sample()])["val_jaccard"] == 0.0      # 0.55 < 0.6: nothing
    assert SegmentationTask().bind(BASE).validation(prob, truth, [Sample()])["val_jaccard"] == 1.0
    assert task.postprocess(cfg).threshold == 0.6
    assert _post(task, cfg)(prob[0]).sum() == 0                      # predict and evaluate


def test_tracking_ignores_the_dataclass_machinery_and_follows_replace():
    from reproductions.aernet.configs import BASE

    cfg = fields.tracked(BASE)
    dataclasses.asdict(cfg)
    assert cfg == BASE and fields.reads(cfg) == set()
    copy = dataclasses.replace(cfg, epochs=3)
    copy.colour_space  # noqa: B018 - a read
    assert fields.reads(cfg) == {"colour_space"} and fields.untracked(copy) == dataclasses.replace(BASE, epochs=3)
