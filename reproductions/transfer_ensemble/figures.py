"""The transfer ensemble's own figures: Fig. 2's out-of-fold maps beside the ensemble, and the
(T_H, T_L) grid of the double threshold, from the ``ensemble.json`` the ensemble command writes."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common.viz import contour_overlay

__all__ = ["plot_threshold_grid", "show_oof_maps"]


def plot_threshold_grid(ensemble_json: str | os.PathLike, model: str | None = None, view: str = "five", ax=None):
    """Heat map of the (T_H, T_L) grid search of one model (or ``"ensemble"``) from the transfer
    ensemble's ``ensemble.json``; the chosen pair is circled."""
    import matplotlib.pyplot as plt

    result = json.loads(Path(ensemble_json).read_text())
    if model in (None, "ensemble") and "ensemble" in result:
        entry, model = result["ensemble"][view], "ensemble"
    else:
        model = model or next(iter(result["models"]))
        entry = result["models"][model][view]
    grid = np.asarray(entry["grid"], float)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(entry["tl_range"])), [f"{t:g}" for t in entry["tl_range"]], fontsize=7)
    ax.set_yticks(range(len(entry["th_range"])), [f"{t:g}" for t in entry["th_range"]], fontsize=7)
    ax.set_xlabel("T_L")
    ax.set_ylabel("T_H")
    i, j = entry["th_range"].index(entry["t_high"]), entry["tl_range"].index(entry["t_low"])
    ax.plot(j, i, "o", mfc="none", mec="red", ms=12, mew=2)
    ax.set_title(f"{model} ({view} views): {entry.get('search_metric', 'score')} per (T_H, T_L); "
                 f"chosen ({entry['t_high']:g}, {entry['t_low']:g})", fontsize=9)
    ax.figure.colorbar(im, ax=ax)
    return ax.figure


def show_oof_maps(ensemble_json: str | os.PathLike, n: int = 4, view: str = "five"):
    """The transfer ensemble's Fig. 2 from an ``ensemble.json``: per image (a row), the image with the
    ground truth (green) and the post-processed ensemble (red), then each model's out-of-fold map and
    the ensemble's (the mean of the models' maps)."""
    import matplotlib.pyplot as plt

    from common.data import load_arrays, load_index
    from common.postprocess import double_threshold
    from reproductions.transfer_ensemble.ensemble import resolve_run

    result = json.loads(Path(ensemble_json).read_text())
    maps: dict[str, dict] = {}
    record = None
    for model, runs in result["runs"].items():
        maps[model] = {}
        for entry in runs:
            run = resolve_run(entry["run"], ensemble_json, result.get("runs_root"))
            record = record or json.loads((run / "config.json").read_text())
            with np.load(run / "oof_maps.npz") as data:
                maps[model].update(zip(data["ids"].tolist(), data[view].astype(np.float32)))
    ids = sorted(set.intersection(*(set(m) for m in maps.values())))[:n]
    index = load_index(record["dataset"], record.get("data_dir"),
                       synthetic_size=record.get("synthetic_size") or 200, seed=record.get("seed", 0))
    by_id = {s.id: s for s in index.samples}
    first = next(iter(maps.values()))[ids[0]]
    images, masks = load_arrays(index, [by_id[i] for i in ids], first.shape, progress=False)
    columns = list(maps) + (["ensemble"] if len(maps) > 1 else [])
    final = result["ensemble"][view] if "ensemble" in result else result["models"][columns[0]][view]
    fig, axes = plt.subplots(len(ids), 1 + len(columns), figsize=(2.6 * (1 + len(columns)), 2.3 * len(ids)),
                             squeeze=False)
    for r, image_id in enumerate(ids):
        per_model = [maps[m][image_id] for m in maps]
        mean = np.mean(per_model, axis=0)
        pred = double_threshold(mean, final["t_high"], final["t_low"], largest=True)
        contour_overlay(images[r], masks[r, ..., 0], pred, ax=axes[r, 0], title=image_id)
        for c, (name, prob) in enumerate(zip(columns, per_model + ([mean] if len(maps) > 1 else [])), start=1):
            axes[r, c].imshow(prob, cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_title(name if r == 0 else "", fontsize=9)
            axes[r, c].axis("off")
    fig.suptitle(f"out-of-fold maps ({view} views) on {record['dataset']}: ground truth green, "
                 f"post-processed {'ensemble' if len(maps) > 1 else columns[0]} red")
    fig.tight_layout()
    return fig
