"""The thesis's U-Net figures (Figs. 6.1, 6.2): the best and the worst test predictions of a run."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib")


def test_best_and_worst_rank_every_test_image_by_jaccard(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from common import viz
    from reproductions.isic2019_classifiers import train
    from reproductions.isic2019_classifiers.paper import PAPER

    runs = train.main(["--row", "U-Net", "--set", "unet_filters=4,8,16", "--synthetic-size", "20",
                       "--image-size", "32", "--batch-size", "4", "--epochs", "2", "--seed", "3", "--quiet",
                       "--runs-root", str(tmp_path)])
    run = runs[0]
    n_test = len(json.loads((run / "split.json").read_text())["test"])
    fig, ranking = viz.best_and_worst(PAPER, run, n=2)
    scores = [s for _, s in ranking]
    assert len(ranking) == n_test and scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4 and titles[0].startswith("best: " + ranking[0][0])
    assert titles[2].startswith("worst: " + ranking[-1][0])
