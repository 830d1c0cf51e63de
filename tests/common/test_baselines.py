"""The classical Otsu baseline: a dark lesion on bright skin, and scoring on the networks' folds."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common import baselines


def test_otsu_finds_the_dark_lesion_and_drops_small_specks():
    image = np.full((60, 80, 3), 200, np.uint8)
    yy, xx = np.mgrid[:60, :80]
    lesion = (yy - 30) ** 2 + (xx - 40) ** 2 < 15 ** 2
    image[lesion] = 60
    image[2:4, 2:4] = 50                       # a dark speck away from the lesion
    image[30, 40] = 220                        # a bright hole inside it
    mask = baselines.otsu_mask(image)
    assert mask[lesion].all() and not mask[~lesion].any()
    assert not baselines.otsu_mask(np.full((8, 8, 3), 9, np.uint8)).any()


def test_scores_every_fold_and_writes_a_record(shared_data, tmp_path, capsys):
    root = shared_data / "isic2018-sample"
    assert baselines.main(["otsu", "--data-dir", str(root), "--split", "kfold:5", "--runs-root", str(tmp_path)]) == 0
    (record,) = tmp_path.glob("baselines/otsu/*/metrics.json")
    data = json.loads(record.read_text())
    assert [f["fold"] for f in data["folds"]] == [0, 1, 2, 3, 4] and all(f["n"] == 1 for f in data["folds"])
    assert data["mean"]["jaccard"] == pytest.approx(np.mean([f["scores"]["jaccard"] for f in data["folds"]]))
    assert "mean ± std: jaccard" in capsys.readouterr().out
