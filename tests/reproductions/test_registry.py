"""Every paper of the registry, the same way: its declaration is complete, ``python -m reproductions``
lists it, its commands answer ``--help``, and its default row (narrowed to a few filters) builds,
survives a ``get_config`` round trip and a ``.keras`` save/load with the same outputs."""
from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model_harness import check_model  # noqa: E402

from common.config import apply_overrides  # noqa: E402
from common.config import image_hw  # noqa: E402
from common.training.paper import Paper  # noqa: E402
from reproductions import registry  # noqa: E402

#: Narrow settings per paper (the architecture of the row, a few filters, a small image): the
#: paper's declared tiny run (``Paper.tiny``).
NARROW = {name: (int(str(registry.load(name).tiny.get("image_size", 32)).split("x")[0]),
                 [s for s in registry.load(name).tiny.get("sets", ()) if not s.startswith("augment")])
          for name in registry.PAPERS}
NARROW_ROW = {name: registry.load(name).tiny["row"] for name in registry.PAPERS if "row" in registry.load(name).tiny}


def test_every_registered_paper_is_a_complete_declaration():
    for name in registry.PAPERS:
        paper = registry.load(name)
        assert {"sets", "epochs", "split", "n_images"} <= set(paper.tiny), \
            f"{name}: declare its tiny run (Paper.tiny: a narrowed row the tests train in seconds)"
        assert isinstance(paper, Paper) and paper.name == name
        assert paper.default_row in paper.rows
        for row, cfg in paper.rows.items():
            task = paper.task_for(cfg)
            assert task.monitors, f"{name} {row}: a task keeps at least one checkpoint"
            h, w = image_hw(cfg)
            multiple = paper.size_multiple(cfg) if callable(paper.size_multiple) else paper.size_multiple
            assert h % multiple == 0 and w % multiple == 0, f"{name} {row}: its own image size is refused"
    with pytest.raises(KeyError, match="unknown paper"):
        registry.load("nope")


def test_python_m_reproductions_lists_every_paper_row_and_run(tmp_path, capsys):
    from reproductions.__main__ import main

    run = tmp_path / "runs" / "asnet" / "asnet" / "synthetic-fold0-1"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "metrics.json").write_text('{"row": "ASNet", "dataset": "synthetic", "fold": 0, "epochs_done": 3, '
                                      '"scores": {"test": {"jaccard": 0.5}}}')
    assert main(["--runs", "--runs-root", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    for name in registry.PAPERS:
        paper = registry.load(name)
        assert f"{name}: {paper.title}" in out
        assert all(row in out for row in paper.rows)
    assert "ASNet" in out and "1 run(s)" in out and "synthetic fold 0, 3 epochs, test jaccard 0.5000" in out


@pytest.mark.parametrize("name", registry.PAPERS)
@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "table", "profile"])
def test_every_command_of_every_paper_explains_itself(name, command, capsys):
    module = importlib.import_module(f"reproductions.{name}.{command}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert f"reproductions.{name}.{command}" in capsys.readouterr().out


@pytest.mark.parametrize("name", registry.PAPERS)
def test_the_default_row_narrowed_passes_the_model_harness(name, tmp_path):
    import keras

    paper = registry.load(name)
    size, overrides = NARROW[name]
    cfg = paper.rows[NARROW_ROW.get(name, paper.default_row)]
    cfg = apply_overrides(cfg, overrides)
    image = getattr(cfg, "image_size")
    cfg = dataclasses.replace(cfg, image_size=size if isinstance(image, int) else (size, size))
    keras.utils.set_random_seed(0)
    model = paper.build_network(cfg)
    channels = model.input_shape[-1]
    x = np.random.default_rng(0).random((2, size, size, channels), np.float32)
    task = paper.task_for(cfg)
    expected = (2, task.n_classes) if task.kind == "classification" else (2, size, size, 1)
    check_model(model, x, tmp_path, expected_shape=expected)
