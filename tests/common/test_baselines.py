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


def _colour_classes(root, n_per_class=12):
    """An ISIC 2019 folder of reddish (MEL) and bluish (NV) images with noise: a colour histogram
    separates them."""
    from PIL import Image

    folder = root / "ISIC_2019_Training_Input"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for k in range(2 * n_per_class):
        cls = k % 2
        base = np.array([180, 60, 60] if cls == 0 else [60, 60, 180], np.int64)
        image = np.clip(base + rng.integers(-40, 40, (24, 32, 3)), 0, 255).astype(np.uint8)
        name = f"ISIC_{k:07d}"
        Image.fromarray(image).save(folder / f"{name}.jpg", quality=95)
        rows.append(",".join([name] + ["1.0" if j == cls else "0.0" for j in range(9)]))
    (root / "ISIC_2019_Training_GroundTruth.csv").write_text(
        "image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK\n" + "\n".join(rows) + "\n")
    return root


def test_softmax_regression_is_class_balanced():
    """90 points of class 0 and 10 of class 1, overlapping: balanced weights move the boundary so
    the rare class's recall rises, as the balanced accuracy wants."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (90, 1)), rng.normal(1.5, 1, (10, 1))])
    y = np.array([0] * 90 + [1] * 10)
    recalls = {}
    for balanced in (False, True):
        w, b = baselines.fit_softmax_regression(x, y, 2, 1e-3, balanced=balanced)
        predicted = (x @ w + b).argmax(1)
        recalls[balanced] = np.mean(predicted[y == 1] == 1)
    assert recalls[True] > recalls[False] and recalls[True] >= 0.7
    h = baselines.colour_histogram(np.full((4, 4, 3), 255, np.uint8))
    assert h.shape == (512,) and h[-1] == 1.0 and h[:-1].sum() == 0


def test_colour_histogram_baseline_separates_colours(tmp_path, capsys):
    root = _colour_classes(tmp_path / "data")
    argv = ["colour-histogram", "--data-dir", str(root), "--split", "holdout:0.5,0.25,0.25",
            "--runs-root", str(tmp_path / "runs")]
    assert baselines.main(argv) == 0
    (record,) = (tmp_path / "runs").glob("baselines/colour-histogram/*/metrics.json")
    data = json.loads(record.read_text())
    (fold,) = data["folds"]
    assert fold["part"] == "test" and fold["n"] == 6 and fold["scores"]["balanced_accuracy"] == 1.0
    assert fold["confusion_matrix"]["classes"][:2] == ["MEL", "NV"] and fold["l2"] in baselines.HISTOGRAM_L2
    assert "balanced accuracy 1.0000" in capsys.readouterr().out


def test_colour_histogram_baseline_refuses_data_without_classes(shared_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        baselines.main(["colour-histogram", "--data-dir", str(shared_data / "isic2018-sample"),
                        "--split", "holdout:0.6,0.2,0.2", "--runs-root", str(tmp_path)])
    assert exc.value.code == 2 and "no class labels" in capsys.readouterr().err
