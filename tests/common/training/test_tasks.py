"""The tasks of the runner: classification with three checkpoints and an ISIC 2019 CSV, attribute
masks scored as ISIC 2018 Task 2, and the predict function's ensembles, test-time views and
double-threshold post-processing; trained end to end on the synthetic data through the shared
commands (``train_main``, ``evaluate_main``, ``predict_main``)."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from toy_papers import ATTRIBUTES, CLASSIFIER, LESION  # noqa: E402

from common.training.commands import train_main
from common.training.evaluation import evaluate_main
from common.training.prediction import predict_main  # noqa: E402
from common.training.records import read_csv  # noqa: E402
from common.training.tasks import (AttributeTask, ClassificationTask, Member, Monitor, PostProcess,  # noqa: E402
                                   Predictor, SegmentationTask, checkpoint_file, tta_views)


def _train(paper, root, *extra):
    return train_main(paper, ["--runs-root", str(root), "--quiet", *extra])


def _evaluate(paper, capsys, *argv):
    capsys.readouterr()
    evaluate_main(paper, [*argv, "--json"])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    return _train(CLASSIFIER, tmp_path_factory.mktemp("cls"), "--epochs", "3")[0]


def test_classifier_keeps_three_checkpoints_and_scores_each(classifier_run):
    run = classifier_run
    kept = sorted(p.name for p in (run / "checkpoints").glob("best*.weights.h5"))
    assert kept == ["best.weights.h5", "best_accuracy.weights.h5", "best_balanced_accuracy.weights.h5"]
    history = read_csv(run / "history.csv")
    assert {"val_loss", "val_accuracy", "val_balanced_accuracy", "best", "best_accuracy",
            "best_balanced_accuracy"} <= set(history[0])
    # the "loss" checkpoint is the epoch of lowest validation loss
    losses = [float(r["val_loss"]) for r in history]
    marked = [i for i, r in enumerate(history) if int(r["best"])]
    assert marked[-1] == int(np.argmin(losses))
    record = json.loads((run / "metrics.json").read_text())
    assert record["task"] == "classification" and record["checkpoint"] == "loss"
    assert set(record["checkpoints"]) == {"loss", "accuracy", "balanced_accuracy"}
    assert record["scores"] == record["checkpoints"]["loss"]["scores"]
    test = record["checkpoints"]["balanced_accuracy"]["scores"]["test"]
    assert set(test) == {"loss", "accuracy", "balanced_accuracy"}
    confusion = np.array(record["details"]["test"]["confusion_matrix"]["rows_true_columns_predicted"])
    assert confusion.shape == (3, 3) and confusion.sum() == record["split"]["test"]
    assert json.loads((run / "config.json").read_text())["classes"] == ["regular", "atypical", "melanoma-like"]


def test_evaluate_takes_a_checkpoint_and_matches_the_record(classifier_run, capsys):
    record = json.loads((classifier_run / "metrics.json").read_text())
    for name in ("loss", "accuracy", "balanced_accuracy"):
        result = _evaluate(CLASSIFIER, capsys, "--run-dir", str(classifier_run), "--checkpoint", name)
        assert result["checkpoint"] == name
        assert result["mean"] == pytest.approx(record["checkpoints"][name]["scores"]["test"], abs=1e-12)
        rows = list(csv.DictReader(open(result["csv"])))
        assert len(rows) == record["split"]["test"]
        assert np.mean([r["label"] == r["predicted"] for r in rows]) == pytest.approx(result["mean"]["accuracy"])


def test_unknown_checkpoint_is_a_clean_error(classifier_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main(CLASSIFIER, ["--run-dir", str(classifier_run), "--checkpoint", "jaccard"])
    assert exit_info.value.code == 2
    assert "keeps loss, accuracy, balanced_accuracy" in capsys.readouterr().err


def _write_images(folder: Path, n: int = 3, sizes=((40, 48), (32, 32), (50, 30))) -> list[Path]:
    from common.data import synthetic

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image, _, _ = synthetic.generate_sample(100 + i, sizes[i % len(sizes)])
        path = folder / f"ISIC_{1000000 + i:07d}.jpg"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def test_predict_writes_the_isic2019_style_csv(classifier_run, tmp_path):
    images = _write_images(tmp_path / "in")
    out = tmp_path / "out"
    written = predict_main(CLASSIFIER, ["--run-dir", str(classifier_run), "--checkpoint", "accuracy",
                                        str(tmp_path / "in"), "--out", str(out)])
    assert written == [out / "predictions.csv"]
    rows = list(csv.reader(open(out / "predictions.csv")))
    assert rows[0] == ["image", "regular", "atypical", "melanoma-like"]
    assert [r[0] for r in rows[1:]] == [p.stem for p in images]
    probs = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_isic2019_csv_has_the_challenge_columns_with_unk(tmp_path):
    classes = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC"]
    out = np.eye(8, dtype=np.float32)[[0, 7]]
    ClassificationTask(8).write(tmp_path, [(Path("x/ISIC_0000001_downsampled.jpg"), (1, 1)),
                                           (Path("ISIC_0000002.jpg"), (1, 1))], out, PostProcess(), classes)
    rows = list(csv.reader(open(tmp_path / "predictions.csv")))
    assert rows[0] == ["image", "MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
    assert rows[1][0] == "ISIC_0000001" and float(rows[1][1]) == 1 and float(rows[1][-1]) == 0
    assert float(rows[2][8]) == 1


def test_classification_scores_are_the_challenges():
    task = ClassificationTask(3)
    probs = np.array([[.8, .1, .1], [.2, .7, .1], [.6, .3, .1], [.1, .1, .8], [.1, .8, .1]], np.float32)
    labels = np.array([0, 1, 1, 2, 2])
    samples = [type("S", (), {"id": f"s{i}"})() for i in range(5)]
    scored = task.score(samples, probs, labels, native=False, post=PostProcess(), classes=["a", "b", "c"])
    assert scored.mean["accuracy"] == pytest.approx(3 / 5)
    assert scored.mean["balanced_accuracy"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert scored.mean["loss"] == pytest.approx(-np.mean(np.log([.8, .7, .3, .8, .1])), rel=1e-5)  # as val_loss
    assert scored.extra["confusion_matrix"]["rows_true_columns_predicted"] == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    val = task.validation(probs, labels, samples)
    assert val["val_loss"] == pytest.approx(-np.mean(np.log([.8, .7, .3, .8, .1])), rel=1e-5)


# -- attributes -------------------------------------------------------------------------------------

def test_attribute_scores_pool_one_confusion_matrix_over_all_images():
    task = AttributeTask().bind(type("C", (), {"attribute": "globules"})())
    truths = np.zeros((2, 4, 4, 1), np.uint8)
    truths[0, :2, :2] = 1                                   # 4 pixels in image 0, none in image 1
    outputs = np.zeros((2, 4, 4), np.float32)
    outputs[0, :2, :1] = 0.9                                # 2 of them found
    outputs[1, 3, 3] = 0.9                                  # 1 false pixel in the empty image
    samples = [type("S", (), {"id": f"s{i}", "attributes": ()})() for i in range(2)]
    scored = task.score(samples, outputs, truths, native=False, post=PostProcess())
    # per-image normalised counts (all images 16 pixels): tp 2, fp 1, fn 2 -> J = 2/5
    assert scored.mean["jaccard"] == pytest.approx(2 / 5)
    assert scored.mean["dice"] == pytest.approx(4 / 7)
    # a per-image mean would have scored the empty image 0 and given (0.5 + 0) / 2
    assert [r["jaccard"] for r in scored.per_image] == [0.5, 0.0]


def test_empty_fraction_subsamples_images_without_the_attribute():
    task = AttributeTask().bind(type("C", (), {"attribute": "streaks", "empty_fraction": 0.25})())
    targets = np.zeros((12, 2, 2, 1), np.uint8)
    targets[:4, 0, 0] = 1
    keep = task.select_training(targets, seed=0, cfg=None)
    assert set(range(4)) <= set(keep) and len(keep) == 4 + 2
    assert np.array_equal(keep, task.select_training(targets, seed=0, cfg=None))


def test_attribute_runs_train_and_score_together_as_task_2(tmp_path, capsys):
    runs = [_train(ATTRIBUTES, tmp_path, "--set", f"attribute={a}")[0] for a in ("pigment_network", "streaks")]
    records = [json.loads((r / "metrics.json").read_text()) for r in runs]
    assert [r["attribute"] for r in records] == ["pigment_network", "streaks"]
    assert all(r["task"] == "attributes" and set(r["scores"]["test"]) == {"jaccard", "dice"} for r in records)
    both = _evaluate(ATTRIBUTES, capsys, "--run-dir", str(runs[0]), "--run-dir", str(runs[1]))
    assert both["attributes"] == ["pigment_network", "streaks"]
    for name, rec in zip(both["attributes"], records):
        assert both["per_attribute"][name] == pytest.approx(rec["scores"]["test"], abs=1e-12)
    assert both["mean"]["jaccard"] == pytest.approx(np.mean([r["scores"]["test"]["jaccard"] for r in records]))
    images = _write_images(tmp_path / "in", n=2)
    written = predict_main(ATTRIBUTES, ["--run-dir", str(runs[0]), "--run-dir", str(runs[1]),
                                        str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    names = sorted(p.name for p in written)
    assert names == sorted(f"{p.stem}_attribute_{a}.png" for p in images for a in ("pigment_network", "streaks"))
    with Image.open(tmp_path / "out" / names[0]) as mask:
        assert mask.mode == "L" and set(np.unique(np.asarray(mask))) <= {0, 255}


# -- the predict function: ensembles, views, double threshold -----------------------------------

class _Fake:
    """A "model" whose output depends on position (so a flip that is not undone would show)."""

    def __init__(self, scale):
        self.scale = scale

    def predict_on_batch(self, x):
        ramp = np.linspace(0, 1, x.shape[2], dtype=np.float32)[None, None, :, None]
        return self.scale * x[..., :1] * ramp


def test_views_are_undone_and_ensembles_average():
    images = np.random.default_rng(0).integers(0, 255, (3, 4, 6, 3), dtype=np.uint8)
    to_input = lambda x: x.astype(np.float32) / 255  # noqa: E731
    task = SegmentationTask()
    one = Predictor([Member(_Fake(1.0), to_input)], task.output)
    raw = _Fake(1.0).predict_on_batch(to_input(images))[..., 0]
    assert np.array_equal(one(images, batch_size=2), raw)
    flip = Predictor([Member(_Fake(1.0), to_input)], task.output, views=tta_views("flip"))
    mirrored = _Fake(1.0).predict_on_batch(to_input(images[:, :, ::-1]))[..., 0][:, :, ::-1]
    upside = _Fake(1.0).predict_on_batch(to_input(images[:, ::-1]))[..., 0][:, ::-1]
    both = _Fake(1.0).predict_on_batch(to_input(images[:, ::-1, ::-1]))[..., 0][:, ::-1, ::-1]
    assert np.allclose(flip(images), (raw + mirrored + upside + both) / 4)
    pair = Predictor([Member(_Fake(1.0), to_input), Member(_Fake(3.0), to_input)], task.output)
    assert np.allclose(pair(images), 2 * raw)
    with pytest.raises(ValueError, match="choose one of none, hflip, flip"):
        tta_views("rot90")


def test_double_threshold_keeps_the_region_grown_from_the_marker():
    prob = np.zeros((6, 6), np.float32)
    prob[1:4, 1:4] = 0.6
    prob[2, 2] = 0.95                       # the marker
    prob[5, 5] = 0.6                        # above T_L but not connected to a marker
    post = PostProcess(kind="double", t_high=0.9, t_low=0.5)
    mask = post(prob)
    assert mask[1:4, 1:4].all() and not mask[5, 5] and mask.sum() == 9
    with pytest.raises(ValueError, match="no \\(T_H, T_L\\)"):
        PostProcess(kind="double")(prob)


@pytest.fixture(scope="module")
def lesion_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("lesion")
    return [_train(LESION, root, "--epochs", "2", "--set", f"width={w}")[0] for w in (4, 8)]


def test_ensemble_with_flip_views_and_double_threshold_evaluates(lesion_runs, capsys, tmp_path):
    a, b = map(str, lesion_runs)
    result = _evaluate(LESION, capsys, "--run-dir", a, "--run-dir", b, "--tta", "flip", "--postprocess", "double")
    assert result["runs"] == [a, b] and result["tta"] == ["identity", "hflip", "vflip", "hvflip"]
    post = result["postprocess"]
    assert post["kind"] == "double" and post["t_high"] is not None and post["t_low"] is not None
    assert "validation" in post["chosen_on"]
    rows = read_csv(result["csv"])
    assert np.mean([float(r["jaccard"]) for r in rows]) == pytest.approx(result["mean"]["jaccard"])
    # the thresholds come from the validation images, so scoring those is refused
    with pytest.raises(SystemExit):
        evaluate_main(LESION, ["--run-dir", a, "--postprocess", "double", "--split", "val"])
    assert "chose (T_H, T_L)" in capsys.readouterr().err
    images = _write_images(tmp_path / "in", n=2)
    written = predict_main(LESION, ["--run-dir", a, "--run-dir", b, "--tta", "flip", "--postprocess", "double",
                                    str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert sorted(p.name for p in written) == sorted(f"{p.stem}_segmentation.png" for p in images)
    with Image.open(written[0]) as mask, Image.open(images[0]) as image:
        assert mask.size == image.size


def test_a_row_with_double_threshold_records_the_pair_chosen_on_validation(tmp_path):
    run = _train(LESION, tmp_path, "--epochs", "1", "--set", "postprocess=double")[0]
    record = json.loads((run / "metrics.json").read_text())
    post = record["postprocess"]
    assert post["kind"] == "double" and post["chosen_on"] == f"val ({record['split']['val']} images)"
    assert 0 < post["t_low"] <= 1 and 0 < post["t_high"] <= 1


def test_checkpoint_files_of_monitors():
    monitors = (Monitor("loss", "val_loss", "min"), Monitor("accuracy", "val_accuracy"))
    assert checkpoint_file(monitors, "loss") == "best.weights.h5"
    assert checkpoint_file(monitors, "accuracy") == "best_accuracy.weights.h5"
    assert Monitor("x", "val_x", "min").better(0.1, 0.2) and not Monitor("x", "val_x").better(0.1, 0.2)
    with pytest.raises(ValueError):
        Monitor("x", "val_x", "lowest")


def test_a_classifier_killed_mid_run_resumes_to_the_same_three_checkpoints(classifier_run, tmp_path, monkeypatch):
    from common.training import steps

    real_call = steps.Step.__call__
    calls = {"n": 0}
    per_epoch = len(json.loads((classifier_run / "split.json").read_text())["train"]) // 8

    def dying(self, x, y):
        calls["n"] += 1
        if calls["n"] == per_epoch + 2:
            raise KeyboardInterrupt("simulated kill")
        return real_call(self, x, y)

    run_dir = tmp_path / "run"
    monkeypatch.setattr(steps.Step, "__call__", dying)
    with pytest.raises(SystemExit) as stopped:
        train_main(CLASSIFIER, ["--quiet", "--epochs", "3", "--run-dir", str(run_dir)])
    assert stopped.value.code == 130
    monkeypatch.setattr(steps.Step, "__call__", real_call)
    train_main(CLASSIFIER, ["--quiet", "--resume", "--run-dir", str(run_dir)])
    full, resumed = (json.loads((r / "metrics.json").read_text()) for r in (classifier_run, run_dir))
    assert resumed["checkpoints"] == full["checkpoints"]
    state = lambda r: json.loads((r / "state.json").read_text())["checkpoints"]  # noqa: E731
    assert state(run_dir) == state(classifier_run)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_csv(run_dir / "history.csv")) == strip(read_csv(classifier_run / "history.csv"))


def test_classification_classes_come_from_the_data(capsys):
    """A 3-class folder under an 8-class row used to train an 8-way softmax without a word; ISIC
    2019's UNK column is not a class to learn; absent classes are named at the start."""
    from types import SimpleNamespace

    from common.config import ConfigError
    from common.training.tasks import ClassificationTask

    def index(classes, labels):
        return SimpleNamespace(name="ph2", classes=classes,
                               samples=[SimpleNamespace(id=f"i{k}", label=v) for k, v in enumerate(labels)])

    ph2 = index(["common nevus", "atypical nevus", "melanoma"], [0, 1, 2, 0, 1, 2])
    split = {"train": ["i0", "i1", "i2", "i3"], "val": ["i4", "i5"]}
    with pytest.raises(ConfigError, match=r"ph2 has 3 classes .* give --set n_classes=3"):
        ClassificationTask(8).check_data(ph2, split, None)
    assert ClassificationTask(3).check_data(ph2, split, None) == {"classes": ["common nevus", "atypical nevus",
                                                                               "melanoma"]}
    assert "validation part (2 images) holds 2 of the 3 classes (none of common nevus)" in capsys.readouterr().err
    isic = index(["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"], [0, 1, 1, 0])
    assert ClassificationTask(8).check_data(isic, {"train": ["i0", "i1", "i2", "i3"]}, None)["classes"][-1] == "SCC"
    assert "no training image of class(es) BCC, AK, BKL, DF, VASC, SCC" in capsys.readouterr().err


def test_confusion_matrix_names_match_its_size():
    from types import SimpleNamespace

    from common.training.tasks import ClassificationTask

    outputs = np.eye(8, dtype=np.float32)[[0, 1, 1]]
    scored = ClassificationTask(8).score([SimpleNamespace(id=str(i)) for i in range(3)], outputs,
                                         np.array([0, 1, 2]), native=True, post=None,
                                         classes=["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"])
    cm = scored.extra["confusion_matrix"]
    assert len(cm["classes"]) == len(cm["rows_true_columns_predicted"]) == 8 and "UNK" not in cm["classes"]
