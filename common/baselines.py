"""Classical baselines, scored exactly as the networks are: the floor a trained model must clear.

``otsu``: Otsu's threshold on the blue channel (lesions are darker than skin there), the largest
connected component, holes filled. No training: on a k-fold split each fold's test images are scored
(the folds the networks' ``--split kfold:K`` uses with the same seed), at each image's own size, with
the ISIC Task 1 metrics; the record gives each fold and the mean ± std over folds.

    python -m common.baselines otsu --data-dir PH2_ROOT --split kfold:5
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

METHODS = ("otsu",)


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


def score_folds(index, spec: str, seed: int = 0, method: str = "otsu") -> dict:
    """Per fold (or the one test part) the mean scores of ``method`` on the scored images."""
    from common import metrics
    from common.data.decode import read_image, read_mask
    from common.training.experiment import fold_count, make_split

    if method not in METHODS:
        raise ValueError(f"unknown baseline {method!r}; choose one of {', '.join(METHODS)}")
    by_id = {s.id: s for s in index.samples}
    kind = spec.partition(":")[0]
    k = fold_count(spec) or 1
    folds = []
    for fold in range(k):
        split = make_split(index, spec, seed, fold if kind == "kfold" else None)
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
    parser = argparse.ArgumentParser(
        prog="python -m common.baselines",
        description="Score a classical baseline (no training) on the folds the networks use, as they are "
                    "scored: each image at its own size, the ISIC Task 1 metrics, mean ± std over folds.")
    parser.add_argument("method", choices=METHODS, help="otsu: blue-channel Otsu threshold, largest component")
    parser.add_argument("--data-dir", required=True, help="dataset root (PH2 or an ISIC Task 1 layout)")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--split", default="kfold:5", help="split spec, as the networks' --split (default kfold:5)")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (the networks' --seed)")
    parser.add_argument("--runs-root", default=os.environ.get("SLR_RUNS_DIR", "runs"),
                        help="the record goes to <runs-root>/baselines/<method>/<dataset>-<stamp>/metrics.json")
    args = parser.parse_args(argv)
    from common.cli import ConfigError
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
    for f in result["folds"]:
        print(f"fold {f['fold']}: {f['n']} {f['part']} images, jaccard {f['scores']['jaccard']:.4f}, "
              f"dice {f['scores']['dice']:.4f}, thresholded jaccard {f['scores']['thresholded_jaccard']:.4f}")
    m, s = result["mean"], result["std"]
    print("mean" + (" ± std" if s else "") + ": " + ", ".join(
        f"{k} {m[k]:.4f}" + (f" ± {s[k]:.4f}" if s else "") for k in ("jaccard", "dice", "thresholded_jaccard")))
    print(f"record: {run_dir}/metrics.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
