"""Classical baselines, scored exactly as the networks are: the floor a trained model must clear.

``otsu`` (segmentation): Otsu's threshold on the blue channel (lesions are darker than skin there), the
largest connected component, holes filled. No training: on a k-fold split each fold's test images are
scored (the folds the networks' ``--split kfold:K`` uses with the same seed), at each image's own
size, with the ISIC Task 1 metrics; the record gives each fold and the mean ± std over folds.

``colour-histogram`` (classification): each image's joint RGB histogram (8 bins per channel, 512
features, square-rooted), a multinomial logistic regression with class-balanced weights (each class
weighs as much as any other, as the balanced accuracy counts them) fitted on the training part, its
L2 strength chosen on the validation part by balanced accuracy, scored on the test part with the
ISIC 2019 metrics. The splits are the networks' (same spec, same seed, stratified by class).

    python -m common.baselines otsu --data-dir PH2_ROOT --split kfold:5
    python -m common.baselines colour-histogram --data-dir ISIC2019_ROOT --split holdout:0.7,0.1,0.2
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

METHODS = ("otsu", "colour-histogram")
#: the L2 strengths the colour-histogram baseline chooses from on the validation part
HISTOGRAM_L2 = (1e-4, 1e-3, 1e-2, 1e-1)
HISTOGRAM_BINS = 8


def otsu_mask(image: np.ndarray) -> np.ndarray:
    """The lesion of an RGB uint8 image ``[H, W, 3]`` as a boolean mask: blue channel below its Otsu
    threshold, largest connected component, holes filled."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    blue = image[..., 2].astype(np.float32)
    if blue.max() == blue.min():
        return np.zeros(blue.shape, bool)
    dark = blue < threshold_otsu(blue)
    labels, n = ndimage.label(dark)
    if n == 0:
        return dark
    sizes = ndimage.sum(dark, labels, index=range(1, n + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


def colour_histogram(image: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """The square-rooted joint RGB histogram of a uint8 image ``[H, W, 3]``: ``bins**3`` features
    summing (before the root) to 1."""
    q = (image.astype(np.int64) * bins) // 256
    codes = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    hist = np.bincount(codes.ravel(), minlength=bins ** 3).astype(np.float64)
    return np.sqrt(hist / max(hist.sum(), 1.0))


def fit_softmax_regression(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float,
                           balanced: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by L-BFGS: weights ``[D, K]`` and biases ``[K]``. With
    ``balanced`` each class's images weigh ``n / (K * n_class)``, so every class counts equally.
    Deterministic (no random start)."""
    from scipy.optimize import minimize

    n, d = x.shape
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    sample_w = (n / (present.sum() * counts[y])) if balanced else np.ones(n)
    sample_w = sample_w / sample_w.sum()
    onehot = np.eye(n_classes)[y]

    def loss_and_grad(theta):
        w, b = theta[:d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -(sample_w * (onehot * logp).sum(1)).sum() + 0.5 * l2 * (w * w).sum()
        g = (np.exp(logp) - onehot) * sample_w[:, None]
        return loss, np.concatenate([(x.T @ g + l2 * w).ravel(), g.sum(0)])

    res = minimize(loss_and_grad, np.zeros(d * n_classes + n_classes), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500})
    return res.x[:d * n_classes].reshape(d, n_classes), res.x[d * n_classes:]


def histogram_features(index, progress: bool = True, size: tuple[int, int] = (64, 64)) -> dict[str, np.ndarray]:
    """Every labelled image's :func:`colour_histogram`, by id: read at the image's own size (the
    synthetic images, which have no file, drawn at ``size``)."""
    from tqdm.auto import tqdm

    from common.data.cache import decode_sample
    from common.data.decode import read_image

    def image(sample):
        return read_image(sample.image)[0] if sample.image else decode_sample(index, sample, size)[0]

    labelled = [s for s in index.samples if s.label is not None]
    return {s.id: colour_histogram(image(s))
            for s in tqdm(labelled, desc="colour histograms", unit="image", disable=not progress)}


def histogram_predictions(index, split: dict, features: dict) -> dict:
    """The colour-histogram baseline on one split: fitted on ``train``, its L2 strength chosen on
    ``val`` by balanced accuracy, predicting ``test`` (``val`` when there is no test part). Returns
    ``ids``, ``labels`` and ``predicted`` (class indices) of the scored images, ``part``, ``l2`` and
    ``val_balanced_accuracy``."""
    from common import metrics
    from common.training.tasks.classification import learnable_classes

    k = len(learnable_classes(index.classes))
    by_id = {s.id: s for s in index.samples}

    def part(name):
        ids = [i for i in split.get(name) or [] if by_id[i].label is not None]
        return ids, np.stack([features[i] for i in ids]) if ids else np.zeros((0, HISTOGRAM_BINS ** 3)), \
            np.array([by_id[i].label for i in ids], np.int64)

    (_, x_tr, y_tr), (val_ids, x_val, y_val), (test_ids, x_te, y_te) = part("train"), part("val"), part("test")
    if not len(test_ids):
        test_ids, x_te, y_te = val_ids, x_val, y_val
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    standard = [(v - mean) / std for v in (x_tr, x_val, x_te)]
    chosen = None
    for l2 in HISTOGRAM_L2:
        w, b = fit_softmax_regression(standard[0], y_tr, k, l2)
        val_score = metrics.balanced_accuracy(y_val, (standard[1] @ w + b).argmax(1), k) if len(y_val) else 0.0
        if chosen is None or val_score > chosen[0]:
            chosen = (val_score, l2, w, b)
    val_score, l2, w, b = chosen
    return {"ids": test_ids, "labels": y_te, "predicted": (standard[2] @ w + b).argmax(1),
            "part": "test" if split.get("test") else "val", "l2": l2, "val_balanced_accuracy": float(val_score)}


def _histogram_fold(index, split: dict, features: dict) -> dict:
    """:func:`histogram_predictions` scored with the ISIC 2019 metrics."""
    from common import metrics
    from common.training.tasks.classification import learnable_classes

    names = learnable_classes(index.classes)
    k = len(names)
    out = histogram_predictions(index, split, features)
    y_te, predicted, test_ids = out["labels"], out["predicted"], out["ids"]
    recall = metrics.per_class_recall(y_te, predicted, k)
    acc = metrics.accuracy_with_ci(y_te, predicted)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y_te, predicted), 1)
    return {"part": out["part"], "n": len(test_ids), "l2": out["l2"],
            "val_balanced_accuracy": out["val_balanced_accuracy"],
            "scores": {"balanced_accuracy": float(np.nanmean(recall)), "accuracy": float(acc.accuracy)},
            "accuracy_ci95": [float(acc.low), float(acc.high)],
            "per_class_recall": {n: (None if np.isnan(r) else float(r)) for n, r in zip(names, recall)},
            "confusion_matrix": {"classes": names, "rows_true_columns_predicted": confusion.tolist()}}


def score_folds(index, spec: str, seed: int = 0, method: str = "otsu", progress: bool = True) -> dict:
    """Per fold (or the one test part) the mean scores of ``method`` on the scored images."""
    from common import metrics
    from common.config import ConfigError
    from common.data.decode import read_image, read_mask
    from common.data.splits import fold_count, make_split
    from common.training.tasks.classification import learnable_classes

    if method not in METHODS:
        raise ValueError(f"unknown baseline {method!r}; choose one of {', '.join(METHODS)}")
    by_id = {s.id: s for s in index.samples}
    kind = spec.partition(":")[0]
    k = fold_count(spec) or 1
    features = {}
    if method == "colour-histogram":
        if not learnable_classes(index.classes):
            raise ConfigError(f"{index.name} has no class labels; the colour-histogram baseline classifies "
                              "(ISIC 2019's ground-truth CSV, PH2's diagnoses)")
        features = histogram_features(index, progress)
    folds = []
    for fold in range(k):
        split = make_split(index, spec, seed, fold if kind == "kfold" else None)
        if method == "colour-histogram":
            folds.append({"fold": fold if kind == "kfold" else None, **_histogram_fold(index, split, features)})
            continue
        part = "test" if split.get("test") else "val"
        truths, preds, ids = [], [], []
        for sample_id in split[part]:
            sample = by_id[sample_id]
            image, _ = read_image(sample.image)
            truth, _ = read_mask(sample.mask)
            truths.append(truth.astype(bool))
            preds.append(otsu_mask(image))
            ids.append(sample_id)
        result = metrics.segmentation_scores(truths, preds, ids=ids)
        folds.append({"fold": fold if kind == "kfold" else None, "part": part, "n": len(ids),
                      "scores": result["mean"]})
    keys = list(folds[0]["scores"])
    mean = {key: statistics.fmean(f["scores"][key] for f in folds) for key in keys}
    std = {key: statistics.stdev([f["scores"][key] for f in folds]) for key in keys} if len(folds) > 1 else {}
    return {"method": method, "split_spec": spec, "seed": seed, "folds": folds, "mean": mean, "std": std}


def main(argv=None) -> int:
    from common.training.records import default_runs_root

    parser = argparse.ArgumentParser(
        prog="python -m common.baselines",
        description="Score a classical baseline on the folds the networks use (same split spec and seed), as "
                    "they are scored: the ISIC Task 1 metrics at each image's own size (otsu) or the ISIC 2019 "
                    "balanced multi-class accuracy (colour-histogram); mean ± std over folds.")
    parser.add_argument("method", choices=METHODS,
                        help="otsu: blue-channel Otsu threshold, largest component (segmentation); "
                             "colour-histogram: joint RGB histograms and a class-balanced logistic regression "
                             "(classification: fitted on the training part, its L2 strength chosen on the "
                             "validation part, scored on the test part)")
    parser.add_argument("--data-dir", required=True,
                        help="dataset root (PH2, an ISIC Task 1 layout, or ISIC 2019 for colour-histogram)")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--split", default="kfold:5", help="split spec, as the networks' --split (default kfold:5)")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (the networks' --seed)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="the record goes to <runs-root>/baselines/<method>/<dataset>-<stamp>/metrics.json")
    args = parser.parse_args(argv)
    from common.config import ConfigError
    from common.data import load_index
    from common.data.errors import DataError
    from common.training import records

    try:
        index = load_index(args.dataset, args.data_dir)
        result = score_folds(index, args.split, args.seed, args.method)
    except (ConfigError, DataError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    run_dir = records.new_run_dir(args.runs_root, "baselines", args.method, index.name)
    record = {**result, "dataset": index.name, "data_dir": os.path.abspath(args.data_dir),
              "command": "python -m common.baselines " + " ".join(sys.argv[1:] if argv is None else argv),
              "provenance": {"git": records.git_info(), "versions": records.package_versions()}}
    records.atomic_write_json(Path(run_dir) / "metrics.json", record)
    shown = ("balanced_accuracy", "accuracy") if args.method == "colour-histogram" else \
        ("jaccard", "dice", "thresholded_jaccard")
    for f in result["folds"]:
        print(f"fold {f['fold']}: {f['n']} {f['part']} images, "
              + ", ".join(f"{key.replace('_', ' ')} {f['scores'][key]:.4f}" for key in shown))
    m, s = result["mean"], result["std"]
    print("mean" + (" ± std" if s else "") + ": " + ", ".join(
        f"{k} {m[k]:.4f}" + (f" ± {s[k]:.4f}" if s else "") for k in shown))
    print(f"record: {run_dir}/metrics.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
