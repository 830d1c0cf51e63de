"""The leaderboard of a suite: per entry the mean of each challenge metric over the same test
images with a 95 % bootstrap interval, and its difference to the best entry with a paired test.

The intervals resample the test images (percentile bootstrap, 2000 resamples, a fixed seed). The
paired test is Wilcoxon's signed-rank test on the per-image Jaccard differences to the best entry
(two-sided, zero differences dropped, SciPy's exact or normal approximation as its defaults
choose); the difference in mean Jaccard carries its own paired-bootstrap interval.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from common.metrics.segmentation import SEGMENTATION_KEYS  # noqa: E402

#: the leaderboard's columns: the challenge's metrics without pixel accuracy
METRICS = tuple(k for k in SEGMENTATION_KEYS if k != "accuracy")
RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass
class Scored:
    """One entry's per-image scores on the suite's test images, and what it cost."""

    name: str
    per_image: dict[str, dict[str, float]]       # image id -> metric -> value
    record: str = ""                             # the run (or runs) the scores came from
    params: int | None = None
    macs: int | None = None
    size: str = ""
    seconds_per_epoch: float | None = None
    images_per_second: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def bootstrap_interval(values: np.ndarray, seed: int = 0, resamples: int = RESAMPLES,
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the paired differences ``a - b`` (1.0 when every
    difference is zero)."""
    from scipy import stats

    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if not np.any(d != 0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def same_images(entries: Sequence[Scored]) -> list[str]:
    """The sorted image ids every entry scored; an error when two entries scored different images."""
    ids = sorted(entries[0].per_image)
    for e in entries[1:]:
        if sorted(e.per_image) != ids:
            only = sorted(set(e.per_image) ^ set(ids))[:5]
            raise ValueError(f"{e.name} scored other images than {entries[0].name} (e.g. {', '.join(only)}): "
                             "a leaderboard compares entries on the same test images")
    return ids


def rank(entries: Sequence[Scored], seed: int = 0) -> list[dict]:
    """Leaderboard rows, best mean Jaccard first; every entry must have scored the same images."""
    if not entries:
        return []
    ids = same_images(entries)
    arrays = {e.name: {m: np.array([e.per_image[i][m] for i in ids]) for m in METRICS} for e in entries}
    ordered = sorted(entries, key=lambda e: -arrays[e.name]["jaccard"].mean())
    best = ordered[0]
    rows = []
    for e in ordered:
        row = {"entry": e.name, "n": len(ids)}
        for m in METRICS:
            v = arrays[e.name][m]
            low, high = bootstrap_interval(v, seed)
            row[m], row[f"{m}_low"], row[f"{m}_high"] = float(v.mean()), low, high
        diff = arrays[e.name]["jaccard"] - arrays[best.name]["jaccard"]
        row["jaccard_diff_to_best"] = float(diff.mean())
        low, high = bootstrap_interval(diff, seed)
        row["jaccard_diff_low"], row["jaccard_diff_high"] = low, high
        row["wilcoxon_p"] = None if e is best else wilcoxon_p(arrays[e.name]["jaccard"], arrays[best.name]["jaccard"])
        fold_of = e.extra.get("fold_of")
        if fold_of:                               # k-fold suites: the mean over folds and its spread
            folds = sorted(set(fold_of.values()))
            per_fold = [float(np.mean([e.per_image[i]["jaccard"] for i in ids if fold_of.get(i) == f]))
                        for f in folds]
            row["jaccard_fold_mean"] = float(np.mean(per_fold))
            row["jaccard_fold_std"] = float(np.std(per_fold, ddof=1)) if len(per_fold) > 1 else 0.0
            row["folds"] = len(per_fold)
        row.update({"params": e.params, "macs": e.macs, "size": e.size, "seconds_per_epoch": e.seconds_per_epoch,
                    "images_per_second": e.images_per_second, "record": e.record, "note": e.note})
        rows.append(row)
    return rows


def _pct(v, low=None, high=None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    text = f"{100 * v:.2f}"
    return text + (f" [{100 * low:.2f}, {100 * high:.2f}]" if low is not None else "")


def _num(v, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def markdown(rows: Sequence[Mapping], title: str, notes: Sequence[str] = ()) -> str:
    by_fold = bool(rows) and "jaccard_fold_mean" in rows[0]
    lines = [f"# {title}", "", *notes, "",
             "| entry | JSC | " + ("JSC over folds | " if by_fold else "") + "thresholded JSC | DSC | SEN | SPE | "
             "JSC − best | Wilcoxon p | params | MACs (G) | size | s / epoch | images / s | record |",
             "|" + " --- |" * (15 if by_fold else 14)]
    for r in rows:
        diff = ("—" if r["wilcoxon_p"] is None else
                f"{100 * r['jaccard_diff_to_best']:+.2f} [{100 * r['jaccard_diff_low']:+.2f}, "
                f"{100 * r['jaccard_diff_high']:+.2f}]")
        scores = [_pct(r[m], r[f"{m}_low"], r[f"{m}_high"]) for m in METRICS]
        if by_fold:
            scores.insert(1, f"{100 * r['jaccard_fold_mean']:.2f} ± {100 * r['jaccard_fold_std']:.2f}")
        lines.append("| " + " | ".join([
            r["entry"] + (f" ({r['note']})" if r.get("note") else ""),
            *scores, diff,
            "—" if r["wilcoxon_p"] is None else f"{r['wilcoxon_p']:.2g}",
            _num(r["params"] and r["params"] / 1e6, ".2f") + ("M" if r["params"] else ""),
            _num(r["macs"] and r["macs"] / 1e9, ".3f"), r["size"] or "—",
            _num(r["seconds_per_epoch"], ".1f"), _num(r["images_per_second"], ".1f"), r["record"] or "—"]) + " |")
    lines += ["", f"Means over the {rows[0]['n'] if rows else 0} test images in %, each with its 95 % percentile "
              f"bootstrap interval ({RESAMPLES} resamples of the images). JSC − best: the difference in mean Jaccard "
              "to the best entry with its paired-bootstrap interval; Wilcoxon p: the two-sided Wilcoxon signed-rank "
              "test of the per-image Jaccard differences to the best entry."
              + (f" JSC over folds: the mean of the {rows[0]['folds']} folds' mean Jaccard ± their standard deviation "
                 "(the pooled interval beside it resamples the images of every fold together)." if by_fold else "")]
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[Mapping]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def figure(entries: Sequence[Scored], rows: Sequence[Mapping], path: Path) -> Path:
    """Per-image Jaccard distributions (left) and mean Jaccard against MACs (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [r["entry"] for r in rows]
    by_name = {e.name: e for e in entries}
    fig, ax = plt.subplots(1, 2, figsize=(13, 0.5 * len(order) + 2.5))
    data = [[v["jaccard"] for v in by_name[n].per_image.values()] for n in order]
    ax[0].boxplot(data[::-1], orientation="horizontal", tick_labels=order[::-1], showmeans=True)
    ax[0].axvline(0.65, color="grey", linestyle="--", linewidth=0.8)
    ax[0].set(title="per-image Jaccard on the test images", xlabel="Jaccard", xlim=(0, 1))
    for r in rows:
        if r["macs"]:
            ax[1].errorbar(r["macs"] / 1e9, r["jaccard"], yerr=[[r["jaccard"] - r["jaccard_low"]],
                                                               [r["jaccard_high"] - r["jaccard"]]], fmt="o")
            ax[1].annotate(r["entry"], (r["macs"] / 1e9, r["jaccard"]), fontsize=7, xytext=(3, 3),
                           textcoords="offset points")
    ax[1].set(title="mean Jaccard against MACs per image", xlabel="GMACs (log)", ylabel="mean Jaccard", xscale="log")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ classification suites
#: A classification entry's per-image record is ``{"label": class, "predicted": class}``; its scores
#: are the ISIC 2019 balanced multi-class accuracy (the mean recall over the classes the test images
#: hold) and the accuracy.
CLASS_METRICS = ("balanced_accuracy", "accuracy")


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """The mean per-class recall over the classes present in ``labels`` (integer arrays)."""
    counts = np.bincount(labels, minlength=n_classes)
    hits = np.bincount(labels[predicted == labels], minlength=n_classes)
    present = counts > 0
    return float(np.mean(hits[present] / counts[present]))


def _resampled_balanced_accuracy(labels, predicted, n_classes, draws) -> np.ndarray:
    return np.array([balanced_accuracy(labels[d], predicted[d], n_classes) for d in draws])


def rank_classification(entries: Sequence[Scored], seed: int = 0) -> list[dict]:
    """Leaderboard rows of a classification suite, best balanced accuracy first.

    Intervals: percentile bootstrap over the test images (the balanced accuracy recomputed on each
    resample). Difference to the best entry: paired bootstrap (the same resampled images for both);
    its p-value is two-sided, twice the smaller share of resampled differences on either side of 0."""
    if not entries:
        return []
    ids = same_images(entries)
    truth = [entries[0].per_image[i]["label"] for i in ids]
    for e in entries[1:]:
        other = [e.per_image[i]["label"] for i in ids]
        if other != truth:
            raise ValueError(f"{e.name} and {entries[0].name} disagree on the test images' classes")
    classes = sorted({str(c) for c in truth} | {str(e.per_image[i]["predicted"]) for e in entries for i in ids})
    code = {c: k for k, c in enumerate(classes)}
    labels = np.array([code[str(c)] for c in truth])
    predicted = {e.name: np.array([code[str(e.per_image[i]["predicted"])] for i in ids]) for e in entries}
    k = len(classes)
    draws = np.random.default_rng(seed).integers(0, len(ids), (RESAMPLES, len(ids)))
    boot = {n: _resampled_balanced_accuracy(labels, p, k, draws) for n, p in predicted.items()}
    score = {n: balanced_accuracy(labels, p, k) for n, p in predicted.items()}
    ordered = sorted(entries, key=lambda e: -score[e.name])
    best = ordered[0].name
    alpha = (1 - CONFIDENCE) / 2
    rows = []
    for e in ordered:
        correct = (predicted[e.name] == labels).astype(np.float64)
        row = {"entry": e.name, "n": len(ids), "balanced_accuracy": score[e.name],
               "balanced_accuracy_low": float(np.quantile(boot[e.name], alpha)),
               "balanced_accuracy_high": float(np.quantile(boot[e.name], 1 - alpha)),
               "accuracy": float(correct.mean())}
        row["accuracy_low"], row["accuracy_high"] = bootstrap_interval(correct, seed)
        diff = boot[e.name] - boot[best]
        row["balanced_accuracy_diff_to_best"] = score[e.name] - score[best]
        row["balanced_accuracy_diff_low"] = float(np.quantile(diff, alpha))
        row["balanced_accuracy_diff_high"] = float(np.quantile(diff, 1 - alpha))
        row["paired_bootstrap_p"] = None if e.name == best else \
            float(min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0))))
        recall = {c: float(np.mean(predicted[e.name][labels == code[c]] == code[c]))
                  for c in classes if np.any(labels == code[c])}
        row["per_class_recall"] = "; ".join(f"{c} {100 * r:.1f}" for c, r in recall.items())
        row.update({"params": e.params, "macs": e.macs, "size": e.size, "seconds_per_epoch": e.seconds_per_epoch,
                    "images_per_second": e.images_per_second, "record": e.record, "note": e.note})
        rows.append(row)
    return rows


def markdown_classification(rows: Sequence[Mapping], title: str, notes: Sequence[str] = ()) -> str:
    lines = [f"# {title}", "", *notes, "",
             "| entry | balanced accuracy | accuracy | balanced accuracy − best | paired bootstrap p | "
             "per-class recall | params | MACs (G) | size | s / epoch | images / s | record |",
             "|" + " --- |" * 12]
    for r in rows:
        diff = ("—" if r["paired_bootstrap_p"] is None else
                f"{100 * r['balanced_accuracy_diff_to_best']:+.2f} [{100 * r['balanced_accuracy_diff_low']:+.2f}, "
                f"{100 * r['balanced_accuracy_diff_high']:+.2f}]")
        lines.append("| " + " | ".join([
            r["entry"] + (f" ({r['note']})" if r.get("note") else ""),
            *(_pct(r[m], r[f"{m}_low"], r[f"{m}_high"]) for m in CLASS_METRICS), diff,
            "—" if r["paired_bootstrap_p"] is None else
            (f"< {1 / RESAMPLES:g}" if r["paired_bootstrap_p"] == 0 else f"{r['paired_bootstrap_p']:.2g}"),
            r["per_class_recall"],
            _num(r["params"] and r["params"] / 1e6, ".2f") + ("M" if r["params"] else ""),
            _num(r["macs"] and r["macs"] / 1e9, ".3f"), r["size"] or "—",
            _num(r["seconds_per_epoch"], ".1f"), _num(r["images_per_second"], ".1f"), r["record"] or "—"]) + " |")
    lines += ["", f"On the {rows[0]['n'] if rows else 0} test images, in %: the ISIC 2019 balanced multi-class "
              "accuracy (the mean recall over the classes the test images hold) and the accuracy, each with its 95 % "
              f"percentile bootstrap interval ({RESAMPLES} resamples of the images). Balanced accuracy − best: the "
              "difference to the best entry with its paired-bootstrap interval (the same resampled images for both); "
              "paired bootstrap p: two-sided, twice the smaller share of resampled differences on either side of 0."]
    return "\n".join(lines) + "\n"


def figure_classification(entries: Sequence[Scored], rows: Sequence[Mapping], path: Path) -> Path:
    """Per-class recall of every entry (left) and balanced accuracy against MACs (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = sorted({str(v["label"]) for v in entries[0].per_image.values()})
    fig, ax = plt.subplots(1, 2, figsize=(13, 4))
    width = 0.8 / max(len(rows), 1)
    for j, r in enumerate(rows):
        recall = dict(item.rsplit(" ", 1) for item in r["per_class_recall"].split("; ") if item)
        ax[0].bar(np.arange(len(classes)) + j * width, [float(recall.get(c, 0)) / 100 for c in classes], width,
                  label=r["entry"])
    ax[0].set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes)
    ax[0].set(title="recall per class on the test images", ylim=(0, 1))
    ax[0].legend(fontsize=7)
    for r in rows:
        if r["macs"]:
            ax[1].errorbar(r["macs"] / 1e9, r["balanced_accuracy"],
                           yerr=[[r["balanced_accuracy"] - r["balanced_accuracy_low"]],
                                 [r["balanced_accuracy_high"] - r["balanced_accuracy"]]], fmt="o")
            ax[1].annotate(r["entry"], (r["macs"] / 1e9, r["balanced_accuracy"]), fontsize=7, xytext=(3, 3),
                           textcoords="offset points")
        else:
            ax[1].axhline(r["balanced_accuracy"], color="grey", linestyle="--", linewidth=0.8)
            ax[1].annotate(r["entry"], (0.02, r["balanced_accuracy"]), xycoords=("axes fraction", "data"),
                           fontsize=7)
    ax[1].set(title="balanced accuracy against MACs per image", xlabel="GMACs (log)", ylabel="balanced accuracy",
              xscale="log")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
