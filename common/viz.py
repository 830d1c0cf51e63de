"""Figures for the comparison notebooks: run lists, training curves, contour overlays.

The overlays follow the papers' figures: the ground-truth contour in green and the predicted one
in red over the dermoscopic image.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from common.training.records import find_runs, load_json, read_csv

REPO = Path(__file__).resolve().parents[1]


def notebook_setup() -> None:
    """Quiet start for a notebook: the backend imported without its start-up lines, and no
    warning that the plain-text progress bar stands in for the widget one."""
    import warnings

    from common.quiet import import_backend

    warnings.filterwarnings("ignore", message="IProgress not found")
    import_backend()


def runs_root() -> Path:
    from common.training.records import default_runs_root

    return default_runs_root()


def records_dir(paper: str) -> Path:
    """The committed run records a paper's results tables were generated from."""
    return REPO / "results" / paper / "records"


def shown_path(path: str | os.PathLike) -> str:
    """A path as the notebooks print it: relative to the repository when inside it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def committed_runs(paper: str) -> list[Path]:
    """The run folders under ``results/<paper>/records`` (records only: no checkpoints)."""
    base = records_dir(paper)
    return sorted(p.parent for p in base.glob("*/metrics.json")) if base.is_dir() else []


def local_runs(paper: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Finished runs under ``runs/`` (or ``$SLR_RUNS_DIR``) that still hold their best weights."""
    return [r for r in find_runs(root or runs_root(), paper)
            if (r / "checkpoints" / "best.weights.h5").exists()]


def list_runs(paper: str, root: str | os.PathLike | None = None, runs: Sequence[Path] | None = None):
    """A DataFrame with one line per finished run: row, dataset, epochs, size, scores, folder."""
    import pandas as pd

    lines = []
    for run in (runs if runs is not None else find_runs(root or runs_root(), paper)):
        met = load_json(run / "metrics.json")
        scores = met.get("scores", {})
        split = "test" if "test" in scores else ("val" if "val" in scores else None)
        prov = met.get("provenance", {})
        lines.append({"row": met.get("row"), "dataset": met.get("dataset"), "fold": met.get("fold"),
                      "epochs": met.get("epochs_done"), "image_size": "x".join(map(str, met.get("image_size", []))),
                      "scored_on": split, **({k: v for k, v in scores.get(split, {}).items()} if split else {}),
                      "hardware": prov.get("hardware"), "run_dir": shown_path(run)})
    return pd.DataFrame(lines)


def plot_history(run_dir: str | os.PathLike, keys: Sequence[str] | None = None, ax=None):
    """Training losses and validation metrics per epoch from ``history.csv``."""
    import matplotlib.pyplot as plt

    rows = read_csv(Path(run_dir) / "history.csv")
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(11, 3.5))
    epochs = [r["epoch"] for r in rows]
    keys = keys or [k for k in rows[0] if k not in ("epoch", "seconds", "best") and not k.startswith("grad_")]
    for k in keys:
        target = ax[1] if k.startswith("val_") else ax[0]
        target.plot(epochs, [r[k] for r in rows], marker="o", label=k)
    ax[0].set(title="training losses", xlabel="epoch")
    ax[1].set(title="validation metrics", xlabel="epoch")
    for a in ax:
        if a.get_lines():
            a.legend(fontsize=8)
        else:
            a.text(0.5, 0.5, "none recorded", ha="center", va="center", transform=a.transAxes)
    return ax


def plot_gradient_balance(run_dirs: Sequence[str | os.PathLike], labels: Sequence[str] | None = None, ax=None):
    """Whether D overpowers G, per epoch, from the ``grad_*`` columns a GAN run's ``history.csv``
    records: the norm of the adversarial term's gradient on G's weights over the supervised terms'
    (log scale; above 1 the adversarial term dominates G's update) and the cosine between the two
    (near 0 or below: the adversarial gradient does not point where the ground truth does). Runs
    without those columns (not a GAN, or recorded before them) are left out."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(11, 3.5))
    labels = list(labels) if labels is not None else [Path(r).name for r in run_dirs]
    plotted = 0
    for run, label in zip(run_dirs, labels):
        rows = read_csv(Path(run) / "history.csv")
        if not rows or "grad_adv_over_sup" not in rows[0]:
            continue
        plotted += 1
        epochs = [r["epoch"] for r in rows]
        ax[0].plot(epochs, [r["grad_adv_over_sup"] for r in rows], marker="o", label=label)
        ax[1].plot(epochs, [r["grad_cos_adv_sup"] for r in rows], marker="o", label=label)
    ax[0].axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax[0].set(title="|grad adversarial| / |grad supervised| on G", xlabel="epoch", yscale="log")
    ax[1].axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
    ax[1].set(title="cosine(grad adversarial, grad supervised)", xlabel="epoch", ylim=(-1, 1))
    for a in ax:
        if plotted:
            a.legend(fontsize=8)
        else:
            a.text(0.5, 0.5, "no GAN run with a gradient record", ha="center", va="center", transform=a.transAxes)
    return ax


def contour_overlay(image: np.ndarray, truth: np.ndarray, pred: np.ndarray, ax=None, title: str = ""):
    """The image with the ground-truth contour (green) and the predicted contour (red)."""
    import matplotlib.pyplot as plt
    from skimage import measure

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image)
    for mask, colour in ((truth, "lime"), (pred, "red")):
        for contour in measure.find_contours(mask.astype(float), 0.5):
            ax.plot(contour[:, 1], contour[:, 0], color=colour, linewidth=1.5)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return ax


def _run_split(run, split: str, fallbacks: Sequence[str], n: int | None = None):
    """A loaded run's images of ``split`` (else the first of ``fallbacks`` it has), decoded at the run's
    size through the cache: ``(split, samples, images, masks)``."""
    from common.data import load_arrays
    from common.data.splits import load_split
    from common.config import image_hw
    from common.training.runs import run_index

    ids = load_split(Path(run.run_dir) / "split.json")
    split = split if split in ids else next(s for s in (*fallbacks, "train") if s in ids)
    index = run_index(run)
    by_id = {s.id: s for s in index.samples}
    samples = [by_id[i] for i in ids[split][:n]]
    images, masks = load_arrays(index, samples, image_hw(run.cfg), progress=False)
    return split, samples, images, masks


def show_predictions(paper, run_dir: str | os.PathLike, n: int = 4, split: str = "val"):
    """Predict ``n`` images of the run's ``split`` and draw them with both contours and their JSC."""
    import matplotlib.pyplot as plt

    from common import metrics
    from common.training.runs import open_run
    from common.training.inference import predict_probabilities

    run = open_run(paper, run_dir)
    cfg, record, model = run.cfg, run.record, run.model
    split, samples, images, masks = _run_split(run, split, ("test",), n)
    probs = predict_probabilities(model, images, cfg)
    fig, axes = plt.subplots(1, len(samples), figsize=(3.2 * len(samples), 3.4), squeeze=False)
    for ax, sample, image, mask, prob in zip(axes[0], samples, images, masks, probs):
        pred = prob >= getattr(cfg, "threshold", 0.5)
        tp, fp, fn, tn = metrics.confusion(mask[..., 0] > 0, pred)
        jac = tp / (tp + fp + fn) if (tp + fp + fn) else 1.0
        contour_overlay(image, mask[..., 0], pred, ax=ax, title=f"{sample.id}  JSC {jac:.3f}")
    fig.suptitle(f"{record['row']} on {record['dataset']} ({split}): ground truth green, prediction red")
    fig.tight_layout()
    return fig


def best_and_worst(paper, run_dir: str | os.PathLike, n: int = 3, split: str = "test"):
    """Predict every image of the run's ``split``, rank them by Jaccard (at the model's size, the row's
    threshold), and draw the ``n`` best and the ``n`` worst with both contours (as the ISIC 2019
    thesis's Figs. 6.1 and 6.2). Returns the figure and the ranking [(id, jaccard), ...], best first."""
    import matplotlib.pyplot as plt

    from common import metrics
    from common.training.runs import open_run
    from common.training.inference import predict_probabilities

    run = open_run(paper, run_dir)
    cfg, record, model = run.cfg, run.record, run.model
    split, samples, images, masks = _run_split(run, split, ("val",))
    probs = predict_probabilities(model, images, cfg)
    preds = probs >= getattr(cfg, "threshold", 0.5)
    scores = []
    for mask, pred in zip(masks, preds):
        tp, fp, fn, _ = metrics.confusion(mask[..., 0] > 0, pred)
        scores.append(float(tp / (tp + fp + fn)) if (tp + fp + fn) else 1.0)
    order = sorted(range(len(samples)), key=lambda i: -scores[i])
    n = max(1, min(n, len(order) // 2 or 1))
    picks = [("best", i) for i in order[:n]] + [("worst", i) for i in order[::-1][:n]]
    fig, axes = plt.subplots(2, n, figsize=(3.2 * n, 6.6), squeeze=False)
    for ax, (kind, i) in zip(axes.ravel(), picks):
        contour_overlay(images[i], masks[i, ..., 0], preds[i], ax=ax,
                        title=f"{kind}: {samples[i].id}  JSC {scores[i]:.3f}")
    fig.suptitle(f"{record['row']} on {record['dataset']} ({split}, {len(samples)} images): best row, worst row; "
                 "ground truth green, prediction red")
    fig.tight_layout()
    return fig, [(samples[i].id, scores[i]) for i in order]


def attribute_overlay(image: np.ndarray, truth: np.ndarray, pred: np.ndarray, ax=None, title: str = ""):
    """The transfer ensemble's Fig. 3 colours: ground truth green, prediction red, their intersection
    orange, blended over the image."""
    import matplotlib.pyplot as plt

    truth, pred = np.asarray(truth) > 0, np.asarray(pred) > 0
    out = np.asarray(image, np.float32).copy()
    for region, colour in ((truth & ~pred, (0, 200, 0)), (pred & ~truth, (230, 0, 0)), (truth & pred, (255, 150, 0))):
        out[region] = 0.35 * out[region] + 0.65 * np.asarray(colour, np.float32)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(np.clip(out, 0, 255).astype(np.uint8))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return ax


def show_attribute_predictions(paper, run_dir: str | os.PathLike, n: int = 4, split: str = "test"):
    """An attribute run's predictions on ``n`` images of its split that hold the attribute (or any,
    when none does), coloured as :func:`attribute_overlay`."""
    import matplotlib.pyplot as plt

    from common.training.runs import open_run
    from common.training.inference import predict_probabilities

    run = open_run(paper, run_dir)
    record, cfg, task = run.record, run.cfg, run.task
    split, samples, images, masks = _run_split(run, split, ("val",))
    truths = task.targets(masks, samples)[..., 0]
    order = sorted(range(len(samples)), key=lambda i: -int(truths[i].sum()))[:n]
    probs = predict_probabilities(run.model, images[order], cfg)
    fig, axes = plt.subplots(1, len(order), figsize=(3.2 * len(order), 3.4), squeeze=False)
    for ax, i, prob in zip(axes[0], order, probs):
        attribute_overlay(images[i], truths[i], prob >= 0.5, ax=ax, title=samples[i].id)
    fig.suptitle(f"{record['row']} ({task.name}): truth green, prediction red, both orange")
    fig.tight_layout()
    return fig


def plot_class_counts(counts: dict, reference: dict | None = None, ax=None, title: str = "samples per class"):
    """Bars of ``class -> count`` (ours), with ``reference`` (a paper's counts) beside them."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.2))[1]
    names = list(counts)
    x = np.arange(len(names))
    width = 0.4 if reference else 0.8
    ax.bar(x - (width / 2 if reference else 0), [counts[n] for n in names], width, label="ours")
    if reference:
        ax.bar(x + width / 2, [reference.get(n, 0) for n in names], width, label="paper")
        ax.legend()
    ax.set_xticks(x, names)
    ax.set_ylabel("images")
    ax.set_title(title)
    return ax


def plot_confusion(run_dir: str | os.PathLike, split: str = "test", checkpoint: str | None = None):
    """A classifier run's confusion matrix (rows: truth, columns: prediction) and per-class recall,
    from its ``metrics.json`` (``checkpoint``: one of the kept ones; default the main)."""
    import matplotlib.pyplot as plt

    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    details = (metrics.get("checkpoints_details") or {}).get(checkpoint) if checkpoint else metrics.get("details")
    details = (details or {}).get(split) or {}
    if "confusion_matrix" not in details:
        raise ValueError(f"{run_dir}: metrics.json holds no confusion matrix for {split!r}")
    names = details["confusion_matrix"]["classes"]
    matrix = np.asarray(details["confusion_matrix"]["rows_true_columns_predicted"])
    recall = details.get("per_class_recall", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        left.text(j, i, str(v), ha="center", va="center", fontsize=8)
    left.set_xticks(range(len(names)), names, rotation=45, ha="right")
    left.set_yticks(range(len(names)), names)
    left.set_xlabel("predicted")
    left.set_ylabel("true")
    left.set_title(f"confusion matrix ({split})")
    right.bar(range(len(names)), [recall.get(n) or 0 for n in names])
    right.set_xticks(range(len(names)), names, rotation=45, ha="right")
    right.set_ylim(0, 1)
    right.set_title("per-class recall (balanced accuracy = their mean)")
    fig.suptitle(f"{metrics.get('row')} on {metrics.get('dataset')}, checkpoint {checkpoint or metrics.get('checkpoint')}")
    fig.tight_layout()
    return fig


def show_table(path: str | os.PathLike):
    """Render a generated Markdown table in a notebook (plain text elsewhere)."""
    text = Path(path).read_text()
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:
        print(text)
    return text
