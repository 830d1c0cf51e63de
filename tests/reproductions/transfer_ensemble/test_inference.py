"""The paper's test-time views, ensembling, the threshold search, negative subsampling, the optimiser,
the plan and the ensemble command."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from common.training.tasks import Member, PostProcess, Predictor  # noqa: E402
from reproductions.transfer_ensemble import plan  # noqa: E402
from reproductions.transfer_ensemble.configs import BASE, ROWS  # noqa: E402
from reproductions.transfer_ensemble.optimizer import make_optimizer  # noqa: E402
from reproductions.transfer_ensemble.paper import LesionTask, PaperAttributeTask  # noqa: E402
from reproductions.transfer_ensemble.tta import FIVE_VIEWS, contrast_stretch, sharpen  # noqa: E402


class _Echo:
    """A 'model' whose map is its input's first channel scaled to [0, 1]; counts its calls."""

    calls = 0

    def predict_on_batch(self, x):
        type(self).calls += 1
        return np.asarray(x)[..., :1] / 255.0


def _pattern(h=32, w=64):
    img = np.zeros((1, h, w, 3), np.uint8)
    img[0, 3:11, 5:30] = 255          # an asymmetric 0/255 pattern: contrast stretching and sharpening keep it
    img[0, 20:27, 40:44] = 255
    return img


@pytest.mark.parametrize("view", FIVE_VIEWS, ids=[v.name for v in FIVE_VIEWS])
def test_each_view_maps_the_prediction_back_to_the_image_frame(view):
    img = _pattern()
    out = view.inverse(_Echo().predict_on_batch(view.forward(img))[..., 0])
    np.testing.assert_array_equal(out, img[..., 0] / 255.0)


def test_the_views_are_the_papers_five_and_change_the_image_as_described():
    assert [v.name for v in FIVE_VIEWS] == ["identity", "hflip", "vflip", "rot90_contrast", "sharpen"]
    low = np.full((1, 8, 8, 3), 100, np.uint8)
    low[0, :4] = 120
    stretched = contrast_stretch(low)
    assert stretched.min() == 0 and stretched.max() == 255          # linear stretch to the full range
    rot = FIVE_VIEWS[3].forward(np.zeros((1, 32, 64, 3), np.uint8))
    assert rot.shape == (1, 64, 32, 3)
    edge = np.zeros((1, 9, 9, 1), np.uint8) + 100
    edge[0, :, 5:] = 150
    sharp = sharpen(edge)
    assert sharp[0, 4, 4, 0] < 100 < 150 < sharp[0, 4, 5, 0]        # unsharp masking overshoots at the edge


def test_five_folds_times_five_views_are_25_predictions_averaged():
    _Echo.calls = 0
    members = [Member(_Echo(), lambda x: x.astype(np.float32), f"fold{k}") for k in range(5)]
    img = _pattern()
    out = Predictor(members, lambda p: p[..., 0], views=FIVE_VIEWS)(img)
    assert _Echo.calls == 25
    np.testing.assert_allclose(out, img[..., 0] / 255.0, atol=1e-6)


def test_ensemble_is_the_mean_of_the_models_maps():
    class Constant:
        def __init__(self, v):
            self.v = v

        def predict_on_batch(self, x):
            return np.full((*x.shape[:3], 1), self.v, np.float32)

    members = [Member(Constant(v), lambda x: x, str(v)) for v in (0.2, 0.6, 0.7)]
    out = Predictor(members, lambda p: p[..., 0])(np.zeros((2, 4, 4, 3), np.uint8))
    np.testing.assert_allclose(out, 0.5, atol=1e-6)


def test_lesion_threshold_search_finds_a_planted_pair_by_thresholded_jaccard():
    rng = np.random.default_rng(0)
    truths, probs = [], []
    for _ in range(6):
        t = np.zeros((24, 24), np.uint8)
        t[6:18, 5:19] = 1
        p = np.where(t, 0.55, 0.05).astype(np.float32)   # the lesion at 0.55, a core above 0.95
        p[10:14, 10:14] = 0.97
        p[0:3, 0:3] = 0.99                               # a bright speck: the largest-object marker drops it
        p += rng.uniform(0, 0.01, p.shape).astype(np.float32)
        truths.append(t[..., None])
        probs.append(p)
    task = LesionTask()
    tuned = task.tune(PostProcess(kind="double"), np.stack(probs), np.stack(truths), chosen_on="test")
    assert task.search_metric == "thresholded_jaccard"
    assert tuned.t_high in (0.8, 0.9, 0.95) and tuned.t_low <= 0.5 and tuned.score == pytest.approx(1.0)
    mask = tuned(probs[0])
    assert mask[8, 8] and not mask[1, 1]


def test_attribute_rows_train_on_as_many_images_without_the_attribute_as_with_it():
    task = PaperAttributeTask().bind(ROWS["DenseNet169 (streaks)"])
    targets = np.zeros((40, 8, 8, 1), np.uint8)
    targets[:6, 2, 2] = 1
    keep = task.select_training(targets, seed=0, cfg=None)
    assert len(keep) == 12 and set(range(6)) <= set(keep)
    again = task.select_training(targets, seed=0, cfg=None)
    other = task.select_training(targets, seed=1, cfg=None)
    np.testing.assert_array_equal(keep, again)
    assert set(keep) != set(other)                                     # drawn again with another seed
    from dataclasses import replace

    everything = PaperAttributeTask().bind(replace(ROWS["DenseNet169 (streaks)"], negatives="all"))
    assert everything.select_training(targets, seed=0, cfg=None) is None


def test_keras2_decay_is_an_inverse_time_learning_rate():
    opt = make_optimizer(BASE)
    assert opt.amsgrad
    lr = opt._learning_rate               # the schedule (``learning_rate`` is its value at the current step)
    assert float(lr(0)) == pytest.approx(1e-4)
    assert float(lr(10000)) == pytest.approx(1e-4 / (1 + 1e-4 * 10000))
    from dataclasses import replace

    assert type(make_optimizer(replace(BASE, decay_mode="decoupled"))).__name__ == "AdamW"
    coupled = make_optimizer(replace(BASE, decay_mode="coupled"))
    w = keras.Variable(np.ones((2,), np.float32))
    coupled.build([w])
    coupled.apply_gradients([(np.zeros((2,), np.float32), w)])   # a zero gradient: only the L2 term moves w
    assert float(w.numpy()[0]) < 1.0


def test_plan_prints_every_run_of_the_tables(capsys):
    plan.main(["--data-dir", "D", "--runs-root", "/nonexistent"])
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert len(lines) == 100
    assert lines[0] == "python -m reproductions.transfer_ensemble.train --row DenseNet169 --fold 0 --data-dir D"
    assert "--row 'DenseNet169 (streaks)' --fold 4" in lines[-1]


def test_plan_for_gpus_never_puts_two_runs_on_one_gpu(capsys):
    """--gpus 2: two background queues, each pinned to its GPU and running its share one after
    another (a flat list fed to a pool could start GPU 0's next run beside its previous one)."""
    plan.main(["--data-dir", "D", "--gpus", "2", "--runs-root", "/nonexistent"])
    script = capsys.readouterr().out
    queues = [block for block in script.split("\n(\n")[1:]]
    assert len(queues) == 2 and script.count(") &") == 2 and "\nwait\n" in script
    for k, block in enumerate(queues):
        runs = [line.strip() for line in block.split(") &")[0].splitlines() if "transfer_ensemble.train" in line]
        assert len(runs) == 50 and all(r.startswith(f"CUDA_VISIBLE_DEVICES={k} python -m") for r in runs)
    assert "--row DenseNet169 --fold 0 " in queues[0] and "--row DenseNet169 --fold 1 " in queues[1]
    assert script.rstrip().endswith("python -m reproductions.transfer_ensemble.ensemble --data-dir D")
    import subprocess

    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0      # valid shell


def test_ensemble_command_scores_out_of_fold_maps_and_reuses_them(tmp_path):
    from reproductions.transfer_ensemble import ensemble, train

    root = tmp_path / "runs"
    train.main(["--row", "Xception", "--encoder-weights", "none", "--image-size", "32", "--synthetic-size", "12",
                "--batch-size", "4", "--seed", "3", "--quiet", "--set", "pyramid_width=4", "--set", "head_width=4",
                "--set", "aggregation_width=4", "--set", "decoder_widths=4,4", "--set", "augment=none",
                "--epochs", "1", "--split", "kfold:2,0.25", "--fold", "all", "--runs-root", str(root)])
    result = ensemble.main(["--runs-root", str(root), "--dataset", "synthetic", "--out", str(tmp_path / "out"),
                            "--json"])
    assert result["images"] == 12 and list(result["models"]) == ["Xception"]
    scores = result["models"]["Xception"]["five"]
    assert {"threshold", "double", "t_high", "t_low", "grid"} <= set(scores)
    assert np.asarray(scores["grid"]).shape == (7, 12) and scores["search_metric"] == "thresholded_jaccard"
    maps = sorted(root.glob("transfer_ensemble/xception/*/oof_maps.npz"))
    assert len(maps) == 2
    with np.load(maps[0]) as data:
        assert data["five"].dtype == np.float16 and data["identity"].shape == data["five"].shape
    stamp = maps[0].stat().st_mtime_ns
    validation = _task2_layout(tmp_path / "validation", n=6, size=(40, 56))     # Table II: other images
    again = ensemble.main(["--runs-root", str(root), "--dataset", "synthetic", "--out", str(tmp_path / "out2"), "--json",
                           "--score-dir", str(validation), "--score-dataset", "isic2018"])
    assert maps[0].stat().st_mtime_ns == stamp and again["models"] == result["models"]
    other = again["other_images"]
    assert other["images"] == 6 and other["models"]["Xception"]["t_high"] == scores["t_high"]
    assert "Table II" not in (tmp_path / "out2" / "ensemble.md").read_text()        # the report, not a table claim
    assert "thresholds chosen on cross-validation" in (tmp_path / "out2" / "ensemble.md").read_text()
    assert (tmp_path / "out" / "ensemble.md").exists()
    # Task 1 submission masks for a folder of images, at each image's own size
    from PIL import Image

    from common.data import synthetic
    from reproductions.transfer_ensemble import submit

    folder = tmp_path / "images"
    folder.mkdir()
    for k, size in enumerate(((40, 56), (33, 47))):
        Image.fromarray(synthetic.generate_sample(100 + k, size)[0]).save(folder / f"ISIC_00000{k}0.png")
    written = submit.main([str(folder), "--lesion", str(tmp_path / "out" / "ensemble.json"), "--out",
                           str(tmp_path / "sub")])
    assert list(written) == ["task1"] and len(written["task1"]) == 2
    assert Image.open(tmp_path / "sub" / "task1" / "ISIC_0000010_segmentation.png").size == (47, 33)
    # the notebook's figures of it: the threshold grid and the out-of-fold maps (Fig. 2)
    import matplotlib

    matplotlib.use("Agg")
    from reproductions.transfer_ensemble import figures

    fig = figures.plot_threshold_grid(tmp_path / "out" / "ensemble.json", "Xception")
    assert fig.axes[0].get_title().startswith("Xception")
    fig = figures.show_oof_maps(tmp_path / "out" / "ensemble.json", n=2)
    assert len(fig.axes) == 2 * 2                    # two images: the image, the one model's map


def test_attribute_overlay_colours_truth_prediction_and_intersection():
    import matplotlib

    matplotlib.use("Agg")
    from common import viz

    image = np.full((4, 4, 3), 100, np.uint8)
    truth = np.zeros((4, 4), bool)
    pred = np.zeros((4, 4), bool)
    truth[0, :2] = True
    pred[0, 1:3] = True
    ax = viz.attribute_overlay(image, truth, pred)
    shown = ax.images[0].get_array()
    assert shown[0, 0, 1] > shown[0, 0, 0]                       # truth only: green
    assert shown[0, 2, 0] > shown[0, 2, 1]                       # prediction only: red
    assert shown[0, 1, 0] > shown[0, 1, 1] > shown[0, 1, 2]      # both: orange
    np.testing.assert_array_equal(shown[3, 3], image[3, 3])      # neither: the image


def test_an_attribute_run_trains_on_matched_negatives_and_draws_fig_3(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from common import viz
    from reproductions.transfer_ensemble import train
    from reproductions.transfer_ensemble.paper import PAPER

    runs = train.main(["--row", "Xception", "--set", "attribute=globules", "--set", "loss=squared_jaccard",
                       "--set", "dataset=isic2018_task2", "--encoder-weights", "none", "--image-size", "32",
                       "--synthetic-size", "24", "--batch-size", "4", "--seed", "3", "--quiet",
                       "--set", "pyramid_width=4", "--set", "head_width=4", "--set", "aggregation_width=4",
                       "--set", "decoder_widths=4,4", "--set", "augment=none", "--epochs", "1",
                       "--runs-root", str(tmp_path)])
    import re

    err = capsys.readouterr().err
    kept, total = map(int, re.search(r"training on (\d+) of (\d+) training images", err).groups())
    assert kept < total and kept % 2 == 0                       # the images with globules and as many without
    import json

    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["task"] == "attributes" and set(metrics["scores"]["test"]) == {"jaccard", "dice"}
    subset = json.loads((runs[0] / "config.json").read_text())["training_subset"]
    train_ids = json.loads((runs[0] / "split.json").read_text())["train"]
    assert len(subset) == kept and set(subset) <= set(train_ids)     # the draw is recorded with the run
    fig = viz.show_attribute_predictions(PAPER, runs[0], n=2)
    assert "globules" in fig._suptitle.get_text()


def test_table_reports_the_newest_ensemble_output_and_keeps_it_without_machine_paths(tmp_path):
    import json

    from reproductions.transfer_ensemble import table

    def scores(v):
        return {k: v for k in ("thresholded_jaccard", "jaccard", "dice", "accuracy", "sensitivity", "specificity")}

    def entry(v):
        return {"threshold": scores(v), "double": scores(v + 0.01), "t_high": 0.8, "t_low": 0.45}

    for stamp, value in (("20260101-000000", 0.5), ("20260102-000000", 0.7)):
        result = {"images": 100, "dataset": "ph2", "stamp": stamp, "runs_root": "/somewhere/runs",
                  "models": {"Xception": {"identity": entry(value), "five": entry(value + 0.02)}},
                  "runs": {"Xception": [{"run": f"transfer_ensemble/xception/ph2-fold{k}-x", "commit": "abc"}
                                        for k in range(5)]},
                  "provenance": {"git": {"commit": "abcdef1234567", "dirty": False}}}
        out = tmp_path / "runs" / "transfer_ensemble" / "ensemble" / f"ph2-{stamp}"
        out.mkdir(parents=True)
        (out / "ensemble.json").write_text(json.dumps(result))
    results = tmp_path / "results"
    table.main(["--runs-root", str(tmp_path / "runs"), "--results-dir", str(results)])
    md = (results / "table_1_oof.md").read_text()
    assert "| Xception | 5 (the paper's) | double threshold | 73.00 |" in md        # the newer output
    assert "not comparable" in md and "50.00" not in md
    kept = json.loads((results / "records" / "ensemble-ph2-20260102-000000" / "ensemble.json").read_text())
    assert "runs_root" not in kept and kept["stamp"] == "20260102-000000"
    assert "Table I as the paper made it" in (results / "README.md").read_text()


def test_attribute_submissions_restrict_to_the_lesion_and_lower_t_high():
    from reproductions.transfer_ensemble.ensemble import attribute_report, lesion_masks, score_attribute

    task = PaperAttributeTask().bind(ROWS["DenseNet169 (globules)"])
    n = 4
    truth = np.zeros((n, 16, 16, 1), np.uint8)
    truth[:, 4:8, 4:8] = 1                                   # the attribute, inside the lesion
    maps = np.full((n, 16, 16), 0.05, np.float32)
    maps[:, 4:8, 4:8] = 0.85
    maps[:, 12:15, 12:15] = 0.9                              # a false detection outside the lesion
    lesion_prob = np.zeros((n, 8, 8), np.float32)            # lesion maps at half the size
    lesion_prob[:, 1:5, 1:5] = 0.97
    lesion = lesion_masks(lesion_prob, 0.9, 0.5, (16, 16))
    assert lesion.shape == (n, 16, 16) and lesion[0, 5, 5] == 1 and lesion[0, 13, 13] == 0
    samples = [type("S", (), {"id": f"s{i}", "attributes": ()})() for i in range(n)]
    out = score_attribute(task, samples, truth, maps, lesion)
    assert out["restricted"]["jaccard"] == pytest.approx(1.0)          # the restriction removes the false one
    assert out["plain"]["jaccard"] < 1.0
    assert out["lowered"]["t_high"] == pytest.approx(out["restricted"]["t_high"] - 0.05)
    assert set(score_attribute(task, samples, truth, maps, None)) == {"plain"}
    result = {"attributes": {"globules": {"images": n, "scores": {"DenseNet169 (globules)": out}}},
              "average": {"DenseNet169 (globules)": {v: {"jaccard": out[v]["jaccard"], "dice": out[v]["dice"]}
                                                    for v in out}}, "lesion": "test"}
    md = attribute_report(result)
    assert "| DenseNet169 (globules) | submission 1: maps multiplied by the lesion mask | 100.00 / 100.00 |" in md


@pytest.mark.slow
def test_attribute_ensemble_command_end_to_end(tmp_path):
    """Two folds of a DenseNet169 attribute row and of a lesion row on the synthetic data, then the
    attribute ensemble with the lesion restriction (slow: DenseNet169 at full depth)."""
    from reproductions.transfer_ensemble import ensemble, train

    root = tmp_path / "runs"
    common = ["--encoder-weights", "none", "--image-size", "32", "--synthetic-size", "16", "--batch-size", "4",
              "--seed", "3", "--quiet", "--set", "pyramid_width=4", "--set", "head_width=4",
              "--set", "aggregation_width=4", "--set", "decoder_widths=4,4", "--set", "augment=none",
              "--epochs", "1", "--split", "kfold:2,0.25", "--fold", "all", "--runs-root", str(root)]
    train.main(["--row", "DenseNet169 (pigment_network)", *common])
    train.main(["--row", "DenseNet169", *common])
    result = ensemble.main(["--task", "attributes", "--dataset", "synthetic", "--lesion-dataset", "synthetic",
                            "--runs-root", str(root), "--out", str(tmp_path / "out"), "--json"])
    scores = result["attributes"]["pigment_network"]["scores"]["DenseNet169 (pigment_network)"]
    assert set(scores) == {"plain", "restricted", "lowered"}
    assert "DenseNet169" in result["lesion"]
    lesion = ensemble.main(["--dataset", "synthetic", "--runs-root", str(root), "--out", str(tmp_path / "lesion"),
                            "--json"])
    assert list(lesion["models"]) == ["DenseNet169"]
    from PIL import Image

    from common.data import synthetic
    from reproductions.transfer_ensemble import submit

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(synthetic.generate_sample(200, (40, 56))[0]).save(folder / "ISIC_0000200.png")
    written = submit.main([str(folder), "--lesion", str(tmp_path / "lesion" / "ensemble.json"), "--attributes",
                           str(tmp_path / "out" / "ensemble.json"), "--out", str(tmp_path / "sub")])
    assert set(written) == {"task1", "submission1", "submission2", "submission3"}
    assert (tmp_path / "sub" / "submission3" / "ISIC_0000200_attribute_pigment_network.png").exists()


def _task2_layout(root, n=16, size=(72, 96)):
    """An ISIC 2018 Task 1/2 layout from synthetic images and their attribute masks, in the official
    file names (JPEG images, 0/255 PNG masks)."""
    from PIL import Image

    from common.data import ATTRIBUTES, synthetic

    images = root / "ISIC2018_Task1-2_Training_Input"
    lesion = root / "ISIC2018_Task1_Training_GroundTruth"
    attrs = root / "ISIC2018_Task2_Training_GroundTruth_v3"
    for folder in (images, lesion, attrs):
        folder.mkdir(parents=True)
    for k in range(n):
        name = f"ISIC_{k:07d}"
        image, mask, _ = synthetic.generate_sample(k, size)
        _, attributes, _ = synthetic.generate_sample(k, size, attributes=True)
        Image.fromarray(image).save(images / f"{name}.jpg", quality=95)
        Image.fromarray(mask[..., 0] * 255).save(lesion / f"{name}_segmentation.png")
        for j, a in enumerate(ATTRIBUTES):
            Image.fromarray(attributes[..., j] * 255).save(attrs / f"{name}_attribute_{a}.png")
    return root


def test_an_attribute_row_reads_the_task_2_layout_and_is_scored_on_its_png_masks(tmp_path):
    import json

    from reproductions.transfer_ensemble import evaluate, predict, train

    data = _task2_layout(tmp_path / "isic2018")
    runs = train.main(["--row", "DenseNet169 (pigment_network)", "--data-dir", str(data), "--dataset", "isic2018_task2",
                       "--encoder-weights", "none", "--image-size", "32", "--batch-size", "4", "--epochs", "1",
                       "--seed", "3", "--quiet", "--set", "pyramid_width=4", "--set", "head_width=4",
                       "--set", "aggregation_width=4", "--set", "decoder_widths=4,4", "--set", "augment=none",
                       "--set", "model=xception", "--runs-root", str(tmp_path / "runs")])
    record = json.loads((runs[0] / "metrics.json").read_text())
    assert record["dataset"] == "isic2018_task2" and record["task"] == "attributes"
    scored = evaluate.main(["--run-dir", str(runs[0]), "--json"])
    assert scored["per_attribute"]["pigment_network"] == pytest.approx(record["scores"]["test"], abs=1e-9)
    out = tmp_path / "pred"
    predict.main(["--run-dir", str(runs[0]), str(data / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000003.jpg"),
                  "--out", str(out)])
    from PIL import Image

    written = Image.open(out / "ISIC_0000003_attribute_pigment_network.png")
    assert written.size == (96, 72) and set(np.unique(np.asarray(written))) <= {0, 255}
