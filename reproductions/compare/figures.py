"""Figures of a suite for the overview notebook: the same test images predicted by every entry.

Each network entry predicts with its own trained run (its kept checkpoint, its image size, its
row's threshold and largest-component cleaning), the prediction resized to the image's own size;
Otsu's baseline needs no run. The images are the suite's test images, picked by the first entry's
Jaccard so that easy, middling and hard lesions are all shown.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reproductions.compare.suites import Suite, get_suite


def _image_and_truth(index, sample):
    from common.data.decode import read_image, read_mask

    image, _ = read_image(sample.image)
    truth, _ = read_mask(sample.mask)
    return image, truth.astype(bool)


def _recorded_postprocess(run, run_dir: Path):
    """The row's post-processing as the run scored with it: a double threshold's (T_H, T_L) as the
    run chose them on its validation images (its ``metrics.json``)."""
    from common.training.tasks import PostProcess

    post = run.task.postprocess(run.cfg)
    if post.tuned:
        return post
    metrics = json.loads((run_dir / "metrics.json").read_text())
    recorded = metrics.get("postprocess") or {}
    if "kind" not in recorded:                    # several checkpoints: the main one's
        recorded = recorded.get(metrics.get("checkpoint"), {})
    return PostProcess.from_dict(recorded)


def pick_images(per_image_csv: Path, n: int) -> list[str]:
    """``n`` test images spread over the ranking by Jaccard of one entry (best to worst)."""
    import csv

    with open(per_image_csv, newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: -float(r["jaccard"]))
    if not rows:
        return []
    at = np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int)
    return [rows[i]["id"] for i in at]


def side_by_side(suite_name: str, runs_root: str | Path, data_dir: str | Path | None = None, n: int = 4):
    """A grid: one row per test image, one column per entry (ground truth green, prediction red),
    each panel titled with the entry's Jaccard on that image. Entries without a finished run in
    ``runs_root`` are left out and named in the title. Returns the figure (None without runs)."""
    import matplotlib.pyplot as plt

    from common import metrics
    from common.baselines import otsu_mask
    from common.data import load_index
    from common.config import image_hw
    from common.training.inference import to_model_input
    from common.training.runs import open_run
    from common.training.tasks import resize_probability
    from common.viz import contour_overlay
    from reproductions import registry
    from reproductions.compare.__main__ import run_dir

    suite: Suite = get_suite(suite_name)
    root = Path(runs_root)
    runs = {e.name: run_dir(root, suite, e, None) for e in suite.entries if e.kind == "run"}
    finished = {name: r for name, r in runs.items() if (r / "metrics.json").exists()}
    if not finished:
        print(f"no finished run of suite {suite.name} under {root}: "
              f"python -m reproductions.compare {suite.name} --data-dir DATA trains them")
        return None
    first = next(iter(finished.values()))
    record = json.loads((first / "config.json").read_text())
    data_dir = data_dir or record.get("data_dir")
    if not data_dir or not Path(data_dir).exists():
        print(f"the suite's data folder ({data_dir}) is not here: give data_dir")
        return None
    index = load_index("auto", data_dir)
    by_id = {s.id: s for s in index.samples}
    ids = pick_images(first / "per_image_test.csv", n)
    columns = list(finished) + [e.name for e in suite.entries if e.kind == "baseline"]
    left_out = [e.name for e in suite.entries if e.name not in columns]
    fig, axes = plt.subplots(len(ids), len(columns), figsize=(2.4 * len(columns), 2.5 * len(ids)), squeeze=False)
    decoded = {i: _image_and_truth(index, by_id[i]) for i in ids}
    for col, name in enumerate(columns):
        entry = suite.entry(name)
        if entry.kind == "baseline":
            masks = {i: otsu_mask(decoded[i][0]) for i in ids}
        else:
            run = open_run(registry.load(entry.paper), finished[name])
            post = _recorded_postprocess(run, finished[name])
            hw = image_hw(run.cfg)
            masks = {}
            for i in ids:
                from common.data.decode import read_image

                small, _ = read_image(by_id[i].image, hw)
                prob = run.task.output(np.asarray(run.model.predict_on_batch(to_model_input(small[None], run.cfg))))[0]
                masks[i] = post(resize_probability(prob, decoded[i][1].shape))
        for row, i in enumerate(ids):
            image, truth = decoded[i]
            jac = float(metrics.image_scores(truth, masks[i])["jaccard"])
            title = (f"{name}\n" if row == 0 else "") + f"{i}: JSC {jac:.2f}"
            contour_overlay(image, truth, masks[i], ax=axes[row, col], title=title)
    note = f"\nnot shown (no finished run, or an ensemble): {', '.join(left_out)}" if left_out else ""
    fig.suptitle(f"suite {suite.name}: the same test images, every entry (ground truth green, prediction red){note}",
                 fontsize=9)
    fig.tight_layout()
    return fig
