"""Metrics with the ISIC challenge's semantics, the Keras training metrics and the scoring CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common import metrics as M

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ binarisation and confusion
def test_8bit_boundary_is_strictly_greater_than_128():
    mask = np.array([[0, 127, 128, 129, 255]], dtype=np.uint8)
    assert M.binarize_8bit(mask).tolist() == [[False, False, False, True, True]]
    assert M.to_binary(mask).tolist() == [[False, False, False, True, True]]


def test_probability_boundary_is_greater_or_equal_half():
    probs = np.array([0.0, 0.4999, 0.5, 0.7], dtype=np.float32)
    assert M.binarize(probs).tolist() == [False, False, True, True]
    assert M.to_binary(probs).tolist() == [False, False, True, True]


def test_to_binary_takes_01_integer_masks_as_they_are():
    assert M.to_binary(np.array([0, 1, 1], dtype=np.uint8)).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="not a probability map"):
        M.to_binary(np.array([0.0, 255.0]))


def test_confusion_hand_computed():
    truth = np.array([[1, 1, 0, 0],
                      [1, 1, 0, 0],
                      [0, 0, 0, 0]], dtype=np.uint8) * 255
    pred = np.array([[1, 0, 0, 0],
                     [1, 1, 1, 0],
                     [0, 0, 0, 1]], dtype=np.uint8) * 255
    assert M.confusion(truth, pred) == (3, 2, 1, 6)
    s = M.image_scores(truth, pred)
    assert s["jaccard"] == pytest.approx(3 / 6)
    assert s["dice"] == pytest.approx(6 / 9)
    assert s["accuracy"] == pytest.approx(9 / 12)
    assert s["sensitivity"] == pytest.approx(3 / 4)
    assert s["specificity"] == pytest.approx(6 / 8)
    assert s["thresholded_jaccard"] == 0.0  # 0.5 < 0.65


def test_both_empty_scores_one():
    empty = np.zeros((4, 4), dtype=np.uint8)
    s = M.image_scores(empty, empty)
    assert s == {"jaccard": 1.0, "thresholded_jaccard": 1.0, "dice": 1.0,
                 "accuracy": 1.0, "sensitivity": 1.0, "specificity": 1.0}


def test_empty_prediction_nonempty_truth_scores_zero():
    truth = np.zeros((4, 4), dtype=np.uint8)
    truth[1:3, 1:3] = 255
    s = M.image_scores(truth, np.zeros_like(truth))
    assert s["jaccard"] == 0.0 and s["dice"] == 0.0 and s["thresholded_jaccard"] == 0.0
    assert s["sensitivity"] == 0.0 and s["specificity"] == 1.0
    assert s["accuracy"] == pytest.approx(12 / 16)


def test_empty_truth_nonempty_prediction():
    pred = np.zeros((4, 4), dtype=np.uint8)
    pred[0, 0] = 255
    s = M.image_scores(np.zeros_like(pred), pred)
    assert s["jaccard"] == 0.0 and s["dice"] == 0.0
    assert s["sensitivity"] == 1.0  # no positives in the truth: the challenge's freebie
    assert s["specificity"] == pytest.approx(15 / 16)


def test_all_lesion_truth_specificity_is_one():
    full = np.ones((3, 3), dtype=bool)
    assert M.image_scores(full, full)["specificity"] == 1.0


def test_thresholded_jaccard_cut_at_exactly_065():
    assert M.thresholded_jaccard(M.jaccard(13, 4, 3)) == pytest.approx(0.65)  # 13/20 = 0.65 kept
    assert M.thresholded_jaccard(0.65) == 0.65
    assert M.thresholded_jaccard(0.6499999) == 0.0
    assert M.thresholded_jaccard(M.jaccard(13, 5, 3)) == 0.0  # 13/21
    # the same through masks: 13 TP, 4 FP, 3 FN
    truth = np.zeros(40, dtype=bool)
    pred = np.zeros(40, dtype=bool)
    truth[:16] = True
    pred[:13] = True
    pred[16:20] = True
    assert M.image_scores(truth, pred)["thresholded_jaccard"] == pytest.approx(0.65)


def test_segmentation_scores_mean_over_images_and_size_errors():
    t1 = np.zeros((2, 2), dtype=bool)
    t1[0, 0] = True
    p1 = t1.copy()
    t2 = np.ones((3, 3, 1), dtype=np.uint8)
    p2 = np.zeros((3, 3, 1), dtype=np.uint8)
    out = M.segmentation_scores([t1, t2], [p1, p2], ids=["a", "b"])
    assert [r["id"] for r in out["per_image"]] == ["a", "b"]
    assert out["mean"]["jaccard"] == pytest.approx(0.5)
    assert out["mean"]["accuracy"] == pytest.approx(0.5)
    assert set(out["mean"]) == set(M.SEGMENTATION_KEYS)
    with pytest.raises(ValueError, match="image b"):
        M.segmentation_scores([t1, t2], [p1, p2[:2]], ids=["a", "b"])


def test_confusion_batch_matches_per_image():
    rng = np.random.default_rng(0)
    t = rng.random((5, 6, 6, 1)) > 0.5
    p = rng.random((5, 6, 6, 1))
    batch = M.confusion_batch(t, p)
    assert batch.tolist() == [list(M.confusion(t[i], p[i])) for i in range(5)]


def test_attribute_scores_one_confusion_per_attribute():
    # image 1: 2x2; image 2: 2x2. Attribute "a": tp=1, fp=1 on image 1; tp=2, fn=1 on image 2.
    ta = [np.array([[1, 0], [0, 0]], bool), np.array([[1, 1], [1, 0]], bool)]
    pa = [np.array([[1, 1], [0, 0]], bool), np.array([[1, 1], [0, 0]], bool)]
    # attribute "b" empty everywhere -> 1.0
    tb = [np.zeros((2, 2), bool)] * 2
    out = M.attribute_scores({"a": ta, "b": tb}, {"a": pa, "b": tb})
    tp, fp, fn = 3, 1, 1  # equal sizes: normalisation does not change the ratios
    assert out["per_attribute"]["a"]["jaccard"] == pytest.approx(tp / (tp + fp + fn))
    assert out["per_attribute"]["a"]["dice"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert out["per_attribute"]["b"] == {"jaccard": 1.0, "dice": 1.0}
    assert out["mean"]["jaccard"] == pytest.approx((0.6 + 1.0) / 2)
    # stacked [N, H, W, A] input gives the same
    stacked_t = np.stack([np.stack([ta[i], tb[i]], -1) for i in range(2)])
    stacked_p = np.stack([np.stack([pa[i], tb[i]], -1) for i in range(2)])
    out2 = M.attribute_scores(stacked_t, stacked_p, attributes=["a", "b"])
    assert out2["mean"] == pytest.approx(out["mean"])


def test_attribute_scores_normalises_by_image_size():
    small_t = np.ones((1, 2), bool)                  # tp=2 on 2 px  -> tp=1.0 normalised
    small_p = np.ones((1, 2), bool)
    big_t = np.zeros((1, 8), bool)                   # fp=4 on 8 px  -> fp=0.5 normalised
    big_p = np.zeros((1, 8), bool)
    big_p[0, :4] = True
    out = M.attribute_scores({"x": [small_t, big_t]}, {"x": [small_p, big_p]})
    assert out["per_attribute"]["x"]["jaccard"] == pytest.approx(1.0 / 1.5)
    raw = M.attribute_scores({"x": [small_t, big_t]}, {"x": [small_p, big_p]}, normalize=False)
    assert raw["per_attribute"]["x"]["jaccard"] == pytest.approx(2 / 6)


# ------------------------------------------------------------------ classification
def test_balanced_accuracy_hand_computed():
    y_true = [0, 0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 0, 1, 1, 0, 2]
    # recalls 3/4, 1/2, 1/1
    assert M.balanced_accuracy(y_true, y_pred) == pytest.approx((0.75 + 0.5 + 1.0) / 3)


def test_balanced_accuracy_leaves_out_classes_without_true_samples():
    y_true = [0, 0, 2, 2]
    y_pred = [0, 1, 2, 1]  # class 1 predicted but never true; class 3 never seen
    recall = M.per_class_recall(y_true, y_pred, n_classes=4)
    assert np.isnan(recall[1]) and np.isnan(recall[3])
    assert M.balanced_accuracy(y_true, y_pred, n_classes=4) == pytest.approx(0.5)


def test_ties_in_probabilities_are_undecided():
    probs = np.array([[0.2, 0.7, 0.1], [0.4, 0.4, 0.2]])
    labels = M.labels_from_probabilities(probs)
    assert labels.tolist() == [1, M.UNDECIDED]
    assert M.balanced_accuracy([1, 0], labels, n_classes=3) == pytest.approx(0.5)


def test_wilson_interval_hand_values():
    low, high = M.wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = M.wilson_interval(0, 10)  # upper bound z^2 / (n + z^2)
    z2 = 1.959964 ** 2
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(z2 / (10 + z2), abs=1e-5)


def test_accuracy_with_ci():
    y_true = np.array([1] * 50 + [0] * 50)
    y_pred = np.array([1] * 100)
    acc = M.accuracy_with_ci(y_true, y_pred)
    assert acc.accuracy == 0.5 and acc.n == 100
    assert (acc.low, acc.high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    normal = M.accuracy_with_ci(y_true, y_pred, method="normal")
    half = 1.959964 * np.sqrt(0.25 / 100)
    assert (normal.low, normal.high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-6)


# ------------------------------------------------------------------ Keras metrics
def _numpy_mean(fn, t, p):
    return np.mean([fn(*M.confusion(t[i] >= 0.5, p[i] >= 0.5)[:3]) for i in range(len(t))])


def test_keras_metrics_match_numpy_and_accumulate():
    rng = np.random.default_rng(1)
    t = (rng.random((4, 8, 8, 1)) > 0.6).astype("float32")
    p = rng.random((4, 8, 8, 1)).astype("float32")
    t[3] = 0.0
    p[3] = 0.1  # both empty -> 1.0
    jac, dsc = M.JaccardIndex(), M.DiceCoefficient()
    jac.update_state(t[:2], p[:2])
    jac.update_state(t[2:], p[2:])
    dsc.update_state(t, p)
    assert float(jac.result()) == pytest.approx(_numpy_mean(M.jaccard, t, p), abs=1e-6)
    assert float(dsc.result()) == pytest.approx(_numpy_mean(M.dice, t, p), abs=1e-6)
    jac.update_state(t[3:], p[3:], sample_weight=np.array([3.0]))
    per_image = [M.jaccard(*M.confusion(t[i], p[i] >= 0.5)[:3]) for i in range(4)]
    assert float(jac.result()) == pytest.approx((sum(per_image) + 3.0) / 7, abs=1e-6)
    jac.reset_state()
    assert float(jac.result()) == 0.0


def test_keras_thresholded_jaccard_and_config_round_trip():
    import keras

    t = np.zeros((2, 4, 5, 1), "float32")
    t[:, :4, :4] = 1.0  # 16 lesion pixels
    p = np.zeros_like(t)
    p[0, :4, :4] = 0.9
    p[1, :2, :4] = 0.9  # jaccard 0.5 -> 0
    m = M.JaccardIndex(cutoff=0.65, threshold=0.3)
    m.update_state(t, p)
    assert float(m.result()) == pytest.approx(0.5)
    clone = keras.metrics.deserialize(keras.metrics.serialize(m))
    assert isinstance(clone, M.JaccardIndex)
    assert clone.threshold == 0.3 and clone.cutoff == 0.65 and clone.name == "jaccard"
    assert keras.saving.get_registered_name(M.DiceCoefficient) == "common>DiceCoefficient"


def test_keras_metrics_in_compiled_model():
    import keras

    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(inputs))
    model.compile(loss="binary_crossentropy", metrics=[M.JaccardIndex(), M.DiceCoefficient()])
    x = np.full((2, 8, 8, 1), -5.0, "float32")
    x[:, 2:6, 2:6] = 5.0
    y = (x > 0).astype("float32")
    out = model.evaluate(x, y, verbose=0, return_dict=True)
    assert out["jaccard"] == pytest.approx(1.0) and out["dice"] == pytest.approx(1.0)


_JAX_SCRIPT = """
import json, numpy as np, keras
from common import metrics as M, losses as L
assert keras.backend.backend() == "jax", keras.backend.backend()
rng = np.random.default_rng(1)
t = (rng.random((3, 8, 8, 1)) > 0.6).astype("float32"); t[2] = 0
p = rng.random((3, 8, 8, 1)).astype("float32"); p[2] = 0.2
j, d = M.JaccardIndex(), M.DiceCoefficient()
j.update_state(t, p); d.update_state(t, p)
out = {"metric_jaccard": float(j.result()), "metric_dice": float(d.result())}
out.update({n: float(L.get_loss(n)(t, p)) for n in L.list_losses()})
print(json.dumps(out))
"""


@pytest.mark.slow  # a fresh interpreter importing JAX and Keras: ~10 s on 2 CPU cores
def test_keras_metrics_and_losses_on_jax_backend():
    pytest.importorskip("jax")
    import keras

    from common import losses as L

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jax_out = json.loads(proc.stdout.strip().splitlines()[-1])
    rng = np.random.default_rng(1)
    t = (rng.random((3, 8, 8, 1)) > 0.6).astype("float32")
    t[2] = 0
    p = rng.random((3, 8, 8, 1)).astype("float32")
    p[2] = 0.2
    assert jax_out["metric_jaccard"] == pytest.approx(_numpy_mean(M.jaccard, t, p), abs=1e-5)
    assert jax_out["metric_dice"] == pytest.approx(_numpy_mean(M.dice, t, p), abs=1e-5)
    assert keras.backend.backend() == "tensorflow"
    for name in L.list_losses():
        assert jax_out[name] == pytest.approx(float(L.get_loss(name)(t, p)), rel=1e-4, abs=1e-5), name


# ------------------------------------------------------------------ file scoring and the CLI
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "common.metrics", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def _png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array.astype(np.uint8)).save(path)


@pytest.fixture()
def mask_folders(tmp_path):
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    truth.mkdir()
    pred.mkdir()
    a = np.zeros((6, 8), np.uint8)
    a[1:5, 1:5] = 255  # 16 px
    pa = np.zeros_like(a)
    pa[1:5, 1:4] = 200  # 12 px inside: jaccard 0.75
    b = np.zeros((5, 7), np.uint8)  # both empty: 1.0
    _png(truth / "ISIC_0000001_segmentation.png", a)
    _png(truth / "ISIC_0000002_segmentation.png", b)
    _png(pred / "ISIC_0000001_segmentation.png", pa)
    _png(pred / "ISIC_0000002.png", b)
    _png(pred / "ISIC_0000099.png", b)  # extra predictions are ignored
    (truth / "LICENSE.txt").write_text("not a mask")
    return truth, pred


def test_cli_segmentation_json(mask_folders):
    truth, pred = mask_folders
    proc = _cli("segmentation", "--truth", str(truth), "--pred", str(pred), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"mean", "per_image"}
    rows = {r["id"]: r for r in out["per_image"]}
    assert set(rows) == {"ISIC_0000001", "ISIC_0000002"}
    assert rows["ISIC_0000001"]["jaccard"] == pytest.approx(0.75)
    assert rows["ISIC_0000001"]["dice"] == pytest.approx(24 / 28)
    assert rows["ISIC_0000002"]["jaccard"] == 1.0
    assert out["mean"]["jaccard"] == pytest.approx(0.875)
    assert out["mean"]["thresholded_jaccard"] == pytest.approx(0.875)
    assert set(out["mean"]) == set(M.SEGMENTATION_KEYS)


def test_cli_segmentation_threshold_and_table(mask_folders, capsys):
    truth, pred = mask_folders
    # a stricter threshold drops the 200-valued prediction: jaccard 0 for image 1
    assert M.main(["segmentation", "--truth", str(truth), "--pred", str(pred), "--json",
                   "--threshold", "200"]) == 0
    assert json.loads(capsys.readouterr().out)["mean"]["jaccard"] == pytest.approx(0.5)
    assert M.main(["segmentation", "--truth", str(truth), "--pred", str(pred), "--per-image"]) == 0
    out = capsys.readouterr().out
    assert "ISIC_0000001" in out and "thresholded_jaccard" in out and "2 images" in out


def test_cli_size_mismatch_and_missing_ids(mask_folders, tmp_path):
    truth, pred = mask_folders
    _png(pred / "ISIC_0000002.png", np.zeros((5, 6), np.uint8))
    proc = _cli("segmentation", "--truth", str(truth), "--pred", str(pred))
    assert proc.returncode == 1
    assert "size mismatch" in proc.stderr
    assert "ISIC_0000002_segmentation.png" in proc.stderr and "7x5" in proc.stderr and "6x5" in proc.stderr

    (pred / "ISIC_0000002.png").unlink()
    (pred / "ISIC_0000001_segmentation.png").unlink()
    proc = _cli("segmentation", "--truth", str(truth), "--pred", str(pred))
    assert proc.returncode == 1
    assert "2 of 2 truth masks have no prediction" in proc.stderr
    assert "ISIC_0000001" in proc.stderr and "ISIC_0000002" in proc.stderr


def test_folder_scoring_falls_back_to_stem_ids(tmp_path):
    truth, pred = tmp_path / "t", tmp_path / "p"
    truth.mkdir()
    pred.mkdir()
    m = np.zeros((4, 4), bool)
    m[1:3, 1:3] = True
    Image.fromarray(m).convert("1").save(truth / "IMD010_lesion.bmp")  # PH2: 1-bit BMP
    _png(pred / "IMD010.png", m.astype(np.uint8) * 255)
    out = M.score_mask_folders(truth, pred)
    assert out["per_image"][0]["id"] == "IMD010"
    assert out["mean"]["jaccard"] == 1.0
    _png(pred / "IMD010_pred.png", m.astype(np.uint8) * 255)
    with pytest.raises(M.ScoringError, match="two files for IMD010"):
        M.score_mask_folders(truth, pred)


def test_attribute_folders(tmp_path):
    truth, pred = tmp_path / "t", tmp_path / "p"
    truth.mkdir()
    pred.mkdir()
    m = np.zeros((4, 4), np.uint8)
    m[:2] = 255
    for name in M.ATTRIBUTES:
        _png(truth / f"ISIC_0000001_attribute_{name}.png", m)
        _png(pred / f"ISIC_0000001_attribute_{name}.png", m if name != "streaks" else np.zeros_like(m))
    out = M.score_attribute_folders(truth, pred)
    assert list(out["per_attribute"]) == list(M.ATTRIBUTES)
    assert out["per_attribute"]["streaks"]["jaccard"] == 0.0
    assert out["mean"]["jaccard"] == pytest.approx(4 / 5)


def _write_csv(path: Path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")


def test_cli_classification(tmp_path, capsys):
    header = ["image", *M.ISIC2019_CLASSES]
    onehot = lambda c: [1.0 if k == c else 0.0 for k in M.ISIC2019_CLASSES]  # noqa: E731
    truth_rows = [["ISIC_0000001", *onehot("MEL")], ["ISIC_0000002", *onehot("MEL")],
                  ["ISIC_0000003_downsampled", *onehot("NV")], ["ISIC_0000004", *onehot("BCC")]]
    _write_csv(tmp_path / "truth.csv", header, truth_rows)
    # prediction without UNK (nobody is UNK), columns in another order, rows shuffled
    pred_header = ["image", "NV", "MEL", "BCC", "AK", "BKL", "DF", "VASC", "SCC"]
    pred_rows = [["ISIC_0000004", 0.1, 0.2, 0.7, 0, 0, 0, 0, 0],
                 ["ISIC_0000001", 0.2, 0.7, 0.1, 0, 0, 0, 0, 0],
                 ["ISIC_0000002", 0.6, 0.3, 0.1, 0, 0, 0, 0, 0],
                 ["ISIC_0000003", 0.9, 0.05, 0.05, 0, 0, 0, 0, 0]]
    _write_csv(tmp_path / "pred.csv", pred_header, pred_rows)
    proc = _cli("classification", "--truth", str(tmp_path / "truth.csv"), "--pred",
                str(tmp_path / "pred.csv"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert out["accuracy"] == pytest.approx(0.75)
    low, high = M.wilson_interval(3, 4)
    assert out["accuracy_ci"] == pytest.approx([low, high])
    assert out["per_class_recall"]["MEL"] == 0.5 and out["per_class_recall"]["AK"] is None
    truth_csv = str(tmp_path / "truth.csv")
    assert M.main(["classification", "--truth", truth_csv, "--pred", str(tmp_path / "pred.csv")]) == 0
    assert "balanced multi-class accuracy: 0.8333" in capsys.readouterr().out

    _write_csv(tmp_path / "bad.csv", pred_header + ["XYZ"], [r + [0] for r in pred_rows])
    assert M.main(["classification", "--truth", truth_csv, "--pred", str(tmp_path / "bad.csv")]) == 1
    assert "unknown class column(s) ['XYZ']" in capsys.readouterr().err

    _write_csv(tmp_path / "short.csv", pred_header, pred_rows[:2])
    assert M.main(["classification", "--truth", truth_csv, "--pred", str(tmp_path / "short.csv")]) == 1
    err = capsys.readouterr().err
    assert "2 of 4 truth images have no prediction" in err and "ISIC_0000002" in err


def test_cli_help_explains_each_command(capsys):
    proc = _cli("--help")
    assert proc.returncode == 0 and "segmentation" in proc.stdout and "classification" in proc.stdout
    for command, phrase in (("segmentation", "0.65"), ("attributes", "normalised"),
                            ("classification", "Wilson")):
        with pytest.raises(SystemExit):
            M.main([command, "--help"])
        assert phrase in capsys.readouterr().out


# ------------------------------------------------------------------ real files
def test_isic2018_sample_truth_against_itself_scores_one(shared_data):
    gt = shared_data / "isic2018-sample" / "ISIC2018_Task1_Training_GroundTruth"
    if not gt.is_dir():
        pytest.skip(f"{gt} is absent")
    proc = _cli("segmentation", "--truth", str(gt), "--pred", str(gt), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["per_image"]) == 5
    assert out["mean"] == {k: 1.0 for k in M.SEGMENTATION_KEYS}
    assert all(r[k] == 1.0 for r in out["per_image"] for k in M.SEGMENTATION_KEYS)
    mask = M.read_mask(next(gt.glob("*.png")))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}


def test_ph2_one_bit_masks_read_as_8bit(shared_data):
    masks = sorted((shared_data / "ph2-dev").glob("PH2 Dataset images/*/*_lesion/*_lesion.bmp"))[:2]
    if not masks:
        pytest.skip("ph2-dev masks are absent")
    for path in masks:
        m = M.read_mask(path)
        assert m.ndim == 2 and set(np.unique(m)) <= {0, 255} and m.max() == 255
        assert M.image_scores(m, m)["jaccard"] == 1.0


def test_01_prediction_png_warns_and_rgb_masks_are_read(tmp_path, capsys):
    truth, pred = tmp_path / "t", tmp_path / "p"
    truth.mkdir()
    pred.mkdir()
    m = np.zeros((4, 4), np.uint8)
    m[:2] = 255
    Image.fromarray(np.stack([m] * 3, -1)).save(truth / "ISIC_0000001_segmentation.png")  # RGB mask
    _png(pred / "ISIC_0000001.png", m // 255)  # saved as 0/1: read as training reads it, with a warning
    out = M.score_mask_folders(truth, pred)
    assert out["mean"]["jaccard"] == 1.0
    assert "0/1" in capsys.readouterr().err


def _mask_files(folder: Path, m: np.ndarray) -> None:
    """The same lesion ``m`` (0/255) saved five ways a user's tool might save it."""
    folder.mkdir()
    z = np.zeros_like(m)
    Image.fromarray(np.stack([m, z, z], -1)).save(folder / "ISIC_0000001.png")            # red only
    Image.fromarray(np.stack([z, z, z, m], -1), mode="RGBA").save(folder / "ISIC_0000002.png")  # alpha only
    pal = Image.fromarray((m // 255).astype(np.uint8), mode="P")
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    pal.save(folder / "ISIC_0000003.png")                                                 # palette
    _png(folder / "ISIC_0000004.png", m // 255)                                           # 0/1 grey
    _png(folder / "ISIC_0000005.png", m)                                                  # 0/255 grey


def test_scorer_reads_masks_as_training_does(tmp_path):
    """The scorer and the trainer share one mask reader: a 0/1 truth is not empty (an all-black
    prediction used to score 1.0 against it), and red-only, alpha-only and palette predictions are
    the lesion they draw (they used to score 0.0 without a word)."""
    m = np.zeros((8, 8), np.uint8)
    m[2:6, 1:7] = 255
    truth, pred, black = tmp_path / "t", tmp_path / "p", tmp_path / "b"
    _mask_files(pred, m)
    truth.mkdir()
    black.mkdir()
    for i in range(1, 6):
        _png(truth / f"ISIC_000000{i}_segmentation.png", m // 255)           # truths stored as 0/1
        _png(black / f"ISIC_000000{i}.png", np.zeros_like(m))
    assert M.score_mask_folders(truth, pred)["mean"]["jaccard"] == 1.0
    assert M.score_mask_folders(truth, black)["mean"]["jaccard"] == 0.0


def test_scorer_refuses_what_is_not_a_binary_mask(tmp_path, capsys):
    truth, pred = tmp_path / "t", tmp_path / "p"
    truth.mkdir()
    pred.mkdir()
    m = np.zeros((16, 16), np.uint8)
    m[4:12] = 255
    _png(truth / "ISIC_0000001_segmentation.png", m)
    soft = np.tile(np.linspace(0, 255, 16).astype(np.uint8), (16, 1))      # a probability map
    _png(pred / "ISIC_0000001.png", soft)
    with pytest.raises(M.ScoringError, match="ISIC_0000001.png"):
        M.score_mask_folders(truth, pred)
    assert M.main(["segmentation", "--truth", str(truth), "--pred", str(pred)]) == 1
    assert "grey levels" in capsys.readouterr().err


def test_classification_refuses_nan_probabilities(tmp_path, capsys):
    header = ["image", *M.ISIC2019_CLASSES]
    onehot = lambda c: [1.0 if k == c else 0.0 for k in M.ISIC2019_CLASSES]  # noqa: E731
    _write_csv(tmp_path / "truth.csv", header, [["ISIC_0000001", *onehot("NV")], ["ISIC_0000002", *onehot("MEL")]])
    nan = ["nan"] * len(M.ISIC2019_CLASSES)
    _write_csv(tmp_path / "pred.csv", header, [["ISIC_0000001", *nan], ["ISIC_0000002", *nan]])
    assert M.main(["classification", "--truth", str(tmp_path / "truth.csv"), "--pred", str(tmp_path / "pred.csv")]) == 1
    err = capsys.readouterr().err
    assert "NaN" in err and "ISIC_0000001" in err


def test_classification_matches_the_official_isic_scorer(tmp_path):
    """The balanced multi-class accuracy of `python -m common.metrics classification` equals the
    official `isic-challenge-scoring` package's on a CSV written by the classifiers' `predict`
    writer (ties, a class without images and UNK included). Optional: runs where the package is
    installed (`pip install isic-challenge-scoring "pandas<3"`; it calls pandas's removed applymap)."""
    pytest.importorskip("isic_challenge_scoring")
    from isic_challenge_scoring import load_csv, metrics as official
    from common.training.tasks.classification import ClassificationTask

    rng = np.random.default_rng(7)
    names = [c for c in M.ISIC2019_CLASSES if c != "UNK"]
    n = 300
    truth = rng.choice([0, 1, 2, 3, 4, 6, 7], n, p=[0.2, 0.4, 0.1, 0.05, 0.15, 0.05, 0.05])  # no DF
    ids = [f"ISIC_{k:07d}" for k in range(n)]
    _write_csv(tmp_path / "truth.csv", ["image", *M.ISIC2019_CLASSES],
               [[i, *(1.0 if j == t else 0.0 for j in range(9))] for i, t in zip(ids, truth)])
    probs = rng.dirichlet(np.ones(8), n).astype(np.float32)
    probs[np.arange(0, n, 3), truth[::3]] += 0.5           # better than chance
    probs /= probs.sum(1, keepdims=True)
    probs[5, :2] = probs[5].max() + 0.1                    # a tie: undecided, wrong for both
    probs[5] /= probs[5].sum()
    ClassificationTask(8).write(tmp_path, [(Path(f"{i}.jpg"), None) for i in ids], probs, None, classes=names)
    ours = M.score_class_csvs(tmp_path / "truth.csv", tmp_path / "predictions.csv")
    # the official parsing and the function behind its balanced-accuracy score (its per-class AUCs,
    # which the full score object also computes, need images of every class)
    with open(tmp_path / "truth.csv") as t, open(tmp_path / "predictions.csv") as p:
        truth_p, weights = load_csv.parse_truth_csv(t)
        pred_p = load_csv.parse_csv(p, truth_p.columns)
    load_csv.validate_rows(truth_p, pred_p)
    load_csv.sort_rows(truth_p)
    load_csv.sort_rows(pred_p)
    reference = official.balanced_multiclass_accuracy(truth_p, pred_p, weights.score_weight)
    assert ours["balanced_accuracy"] == pytest.approx(reference, abs=1e-12)
    assert 0.2 < ours["balanced_accuracy"] < 0.9
