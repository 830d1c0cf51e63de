"""``python -m common.metrics segmentation|attributes|classification``: score submission files."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from common.metrics.files import score_attribute_folders, score_class_csvs, score_mask_folders
from common.metrics.segmentation import MASK_THRESHOLD_8BIT, SEGMENTATION_KEYS, ScoringError

def _format_table(rows: list[dict], columns: Sequence[str], first: str) -> str:
    widths = [max(len(first), *(len(str(r[first])) for r in rows))] + [max(len(c), 6) for c in columns]
    lines = ["  ".join([first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(columns, widths[1:])])]
    for r in rows:
        cells = [str(r[first]).ljust(widths[0])]
        cells += [("-" if r[c] is None else f"{r[c]:.4f}").rjust(w) for c, w in zip(columns, widths[1:])]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m common.metrics",
        description="Score predictions with the ISIC challenge's rules.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run '<command> --help' for the options of each command.")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser(
        "segmentation", help="score predicted lesion masks (ISIC 2018 Task 1)",
        description="Score a folder of predicted masks against ground-truth masks, as ISIC 2018 Task 1 "
                    "does: both binarised at > THRESHOLD, one confusion matrix per image, the scores "
                    "averaged over images; Jaccard/Dice 1.0 when both masks are empty; thresholded "
                    "Jaccard = Jaccard if >= 0.65 else 0. Files are matched by the 7-digit ISIC id "
                    "(ISIC_0024311_segmentation.png <-> ISIC_0024311.png); other names (PH2's "
                    "IMD010_lesion.bmp) by the part before the first '_'. Sizes must agree; every truth "
                    "mask needs a prediction; extra predictions are ignored.")
    seg.add_argument("--truth", required=True, type=Path, help="folder of ground-truth masks")
    seg.add_argument("--pred", required=True, type=Path, help="folder of predicted masks (8-bit, 0/255)")
    seg.add_argument("--threshold", type=int, default=MASK_THRESHOLD_8BIT,
                     help="a pixel is lesion when its value is > THRESHOLD (default 128, the challenge's)")
    seg.add_argument("--per-image", action="store_true", help="print a row per image before the means")
    seg.add_argument("--json", action="store_true",
                     help='print {"mean": {...}, "per_image": [{"id": ..., ...}]} as JSON')

    att = sub.add_parser(
        "attributes", help="score lesion-attribute masks (ISIC 2018 Task 2)",
        description="Score ISIC 2018 Task 2 attribute masks (<id>_attribute_<name>.png): per attribute "
                    "one confusion matrix over all images (each image's normalised by its pixel count), "
                    "Jaccard and Dice from it, then the mean over the attributes present in the truth.")
    att.add_argument("--truth", required=True, type=Path, help="folder of ground-truth attribute masks")
    att.add_argument("--pred", required=True, type=Path, help="folder of predicted attribute masks")
    att.add_argument("--threshold", type=int, default=MASK_THRESHOLD_8BIT, help="lesion when > THRESHOLD")
    att.add_argument("--json", action="store_true", help="print the scores as JSON")

    cls = sub.add_parser(
        "classification", help="score class probabilities (ISIC 2019 CSV)",
        description="Score a CSV of predicted class probabilities against an ISIC 2019 ground-truth CSV "
                    "(columns image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK). Predicted class = argmax of the "
                    "probability columns (a tie counts as wrong); rows matched by image id; prints the "
                    "balanced multi-class accuracy (mean per-class recall over classes with true "
                    "samples), the accuracy with its 95% Wilson score interval, and per-class recall.")
    cls.add_argument("--truth", required=True, type=Path, help="ground-truth CSV (one-hot rows)")
    cls.add_argument("--pred", required=True, type=Path, help="prediction CSV (probability rows)")
    cls.add_argument("--confidence", type=float, default=0.95, help="coverage of the accuracy interval")
    cls.add_argument("--json", action="store_true", help="print the scores as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m common.metrics``; returns the exit status (1 on a scoring error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "segmentation":
            result = score_mask_folders(args.truth, args.pred, threshold=args.threshold)
            if args.json:
                print(json.dumps(result, indent=2))
                return 0
            if args.per_image:
                print(_format_table(result["per_image"], SEGMENTATION_KEYS, "id"))
                print()
            print(f"{len(result['per_image'])} images, mean over images:")
            print(_format_table([{"metric": "mean", **result["mean"]}], SEGMENTATION_KEYS, "metric"))
        elif args.command == "attributes":
            result = score_attribute_folders(args.truth, args.pred, threshold=args.threshold)
            if args.json:
                print(json.dumps(result, indent=2))
                return 0
            rows = [{"attribute": a, **v} for a, v in result["per_attribute"].items()]
            rows.append({"attribute": "mean", **result["mean"]})
            print(_format_table(rows, ("jaccard", "dice"), "attribute"))
        else:
            result = score_class_csvs(args.truth, args.pred, confidence=args.confidence)
            if args.json:
                print(json.dumps(result, indent=2))
                return 0
            low, high = result["accuracy_ci"]
            print(f"images: {result['n']}")
            print(f"balanced multi-class accuracy: {result['balanced_accuracy']:.4f}")
            print(f"accuracy: {result['accuracy']:.4f}  "
                  f"({result['confidence']:.0%} Wilson interval [{low:.4f}, {high:.4f}])")
            rows = [{"class": c, "n": result["per_class_count"][c], "recall": r}
                    for c, r in result["per_class_recall"].items()]
            width = max(len("class"), *(len(r["class"]) for r in rows))
            print(f"{'class'.ljust(width)}  {'n':>6}  {'recall':>6}")
            for r in rows:
                recall = "-" if r["recall"] is None else f"{r['recall']:.4f}"
                print(f"{r['class'].ljust(width)}  {r['n']:>6}  {recall:>6}")
    except ScoringError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Exit before the Keras section below: scoring files needs numpy and Pillow only.
    sys.exit(main())


# ----------------------------------------------------------------------------------------------