"""The committed notebooks are the template's, executed: opening one shows the comparison."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _template():
    pytest.importorskip("nbformat")
    spec = importlib.util.spec_from_file_location("make_notebooks", REPO / "tools" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed_outputs(name: str, made) -> list[dict]:
    """The committed ``notebooks/<name>.ipynb``: the template's cells, every code cell executed,
    no error, nothing of the machine that ran it; returns its outputs."""
    committed = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())
    assert ["".join(c["source"]) for c in committed["cells"]] == [c.source for c in made.cells], \
        f"regenerate with: python tools/make_notebooks.py --execute {name}"
    code = [c for c in committed["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code)
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = json.dumps(outputs)
    for leak in ("/tmp/", "/home/", "/root/", "site-packages", "cuInit", "absl::"):
        assert leak not in text, leak
    return outputs


@pytest.mark.parametrize("paper", ["slsnet", "aernet", "asnet", "isic2019_classifiers"])
def test_committed_notebook_is_the_template_executed(paper):
    outputs = _executed_outputs(paper, _template().notebook(paper, _template().PAPERS[paper]))
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2      # curves and overlays


def test_committed_overview_is_the_template_executed():
    """The overview opens with the leaderboards and shows the side-by-side predictions."""
    outputs = _executed_outputs("overview", _template().overview())
    assert "Leaderboard: isic2017-cpu" in json.dumps(outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2      # a leaderboard figure, the predictions
