"""Regenerate ``results/isic2019_classifiers/`` from the run records and the ISIC 2019 ground truth.

- Table 5.1: samples per class, counted from ``ISIC_2019_Training_GroundTruth.csv`` (``--labels-csv``,
  or found under ``--data-dir``), beside the thesis's counts.
- Tables 6.1 (standard), 6.2 (balanced; its 5-class balanced accuracy also as the thesis's 8-class
  correction 5/8 · M_b) and 6.4 (5-fold cross-validation, mean ± std over the folds): accuracy and
  balanced multi-class accuracy of the checkpoint with the highest validation balanced accuracy.
- Table 6.3: accuracy of the highest-validation-accuracy checkpoint with its 95 % interval, Wilson
  and normal approximation, from the test part's size.
- Table 6.5: the leaderboard rows the thesis cites, literature rows, beside ours; Table 6.6: the U-Net.

Runs on other data (PH2, a reduced size) and runs that differ from their row are listed apart.
"""
from __future__ import annotations

import math
from pathlib import Path

from common.results import TableSpec, atomic_write_text, collect, fmt, summarise, write_csv
from common.tables import PaperTables, table_main
from reproductions.isic2019_classifiers.configs import ROWS
from reproductions.isic2019_classifiers.paper import PAPER
from reproductions.isic2019_classifiers.data import table_5_1

REPO = Path(__file__).resolve().parents[2]
CLASSIFICATION = ("loss", "accuracy", "balanced_accuracy")
SPECS = {
    "Table 6.1": TableSpec("standard classification (checkpoint: highest validation balanced accuracy)",
                           "isic2019", "the 20 % test part of ISIC 2019's 25,331 training images",
                           metrics=CLASSIFICATION, checkpoint="balanced_accuracy"),
    "Table 6.2": TableSpec("balanced classification, 5 classes (checkpoint: highest validation balanced accuracy)",
                           "isic2019", "the 20 % test part of the 9,935-image balanced subset",
                           metrics=CLASSIFICATION, checkpoint="balanced_accuracy"),
    "Table 6.4": TableSpec("5-fold cross-validation, mean ± std over folds (checkpoint: highest validation "
                           "balanced accuracy)", "isic2019", "each fold's held-out fifth of ISIC 2019",
                           metrics=("balanced_accuracy",), checkpoint="balanced_accuracy"),
    "Table 6.6": TableSpec("segmentation, U-Net (checkpoint: highest validation Jaccard)", "isic2018",
                           "ISIC 2018 Task 1 (the thesis's split is not stated; ours 70/10/20)",
                           metrics=("jaccard",)),
}
PREFACE = ("Verdeguer 2020, bachelor's thesis (in Spanish): ISIC 2019 classifiers and a U-Net. "
           "The thesis's formula 4.2.1 is printed upside down; the metric here is the challenge's "
           "balanced multi-class accuracy, the mean per-class recall.")


def wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` over ``n`` trials."""
    if n <= 0:
        return (float("nan"), float("nan"))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def normal(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Normal-approximation (Wald) interval ``p ± z sqrt(p (1 - p) / n)``."""
    if n <= 0:
        return (float("nan"), float("nan"))
    half = z * math.sqrt(p * (1 - p) / n)
    return (p - half, p + half)


def table_6_3(records, results_dir: Path) -> str:
    lines = ["## Table 6.3: accuracy with its 95 % interval (checkpoint: highest validation accuracy)", "",
             "The thesis's intervals do not follow from one formula and one test-set size (VGG16's "
             "0.125 ± 0.0026 and Wide ResNet's 0.742 ± 0.0062 imply different n); ours give both the "
             "Wilson and the normal-approximation interval from the test part's size. Values as fractions.", "",
             "| Model | thesis | thesis interval | ours | Wilson 95 % | normal 95 % | our run |", "|---|---|---|---|---|---|---|"]
    rows = []
    for row in PAPER.tables["Table 6.3"]:
        paper = PAPER.published["Table 6.3"][row]
        res = summarise(records, row, "isic2019", "test", row_configs=ROWS, checkpoint="accuracy")
        thesis = f"{paper['accuracy']:.3f}", f"[{paper['ci_low']:.4f}, {paper['ci_high']:.4f}]"
        if res is None:
            lines.append(f"| {row} | {thesis[0]} | {thesis[1]} | — | — | — | not run |")
            rows.append({"model": row, "thesis": paper["accuracy"], "ours": None})
            continue
        acc = res.scores["accuracy"]
        n = _test_size(records, res)
        w, nm = wilson(acc, n), normal(acc, n)
        lines.append(f"| {row} | {thesis[0]} | {thesis[1]} | {acc:.3f} | [{w[0]:.4f}, {w[1]:.4f}] | "
                     f"[{nm[0]:.4f}, {nm[1]:.4f}] | {res.provenance()} |")
        rows.append({"model": row, "thesis": paper["accuracy"], "ours": acc, "n": n, "wilson_low": w[0],
                     "wilson_high": w[1], "normal_low": nm[0], "normal_high": nm[1], "provenance": res.provenance()})
    md = "\n".join(lines) + "\n"
    atomic_write_text(results_dir / "table_6.3.md", md)
    write_csv(results_dir / "table_6.3.csv", rows)
    return md


def _test_size(records, res) -> int:
    by_name = {r["name"]: r for r in records}
    return int(by_name[res.runs[0]]["metrics"].get("split", {}).get("test", 0))


def table_6_2_corrected(records) -> str:
    lines = ["## Table 6.2, corrected to 8 classes (section 5.3: M_r = 5/8 · M_b)", "",
             "| Model | thesis M_b | thesis M_r | ours M_b | ours M_r |", "|---|---|---|---|---|"]
    for row in PAPER.tables["Table 6.2"]:
        paper = PAPER.published["Table 6.2"][row]["balanced_accuracy"]
        res = summarise(records, row, "isic2019", "test", row_configs=ROWS, checkpoint="balanced_accuracy")
        ours = (fmt(res.scores["balanced_accuracy"]), fmt(5 / 8 * res.scores["balanced_accuracy"])) if res else ("—", "not run")
        lines.append(f"| {row} | {fmt(paper)} | {fmt(5 / 8 * paper)} | {ours[0]} | {ours[1]} |")
    return "\n".join(lines) + "\n"


def table_6_5(records) -> str:
    lines = ["## Table 6.5: ours beside the ISIC 2019 leaderboard rows the thesis cites", "",
             "The leaderboard rows are literature rows (the challenge's test set), never ours. Ours: Table 6.4's "
             "cross-validated balanced accuracy. Values in %.", "",
             "| Method | thesis | ours |", "|---|---|---|"]
    for row in PAPER.tables["Table 6.4"]:
        res = summarise(records, row, "isic2019", "test", row_configs=ROWS, checkpoint="balanced_accuracy")
        paper = PAPER.published["Table 6.4"][row]["balanced_accuracy"]
        lines.append(f"| {row.replace(' (cv)', '')} | {fmt(paper)} | "
                     f"{fmt(res.scores['balanced_accuracy'], res.std.get('balanced_accuracy')) if res else 'not run'} |")
    for name, numbers in PAPER.published["Table 6.5"].items():
        lines.append(f"| {name} | {fmt(numbers['balanced_accuracy'])} | literature row (not part of this suite) |")
    return "\n".join(lines) + "\n"


def _labels_csv(args) -> Path | None:
    if args.labels_csv:
        return Path(args.labels_csv)
    if args.data_dir:
        found = sorted(Path(args.data_dir).rglob("ISIC_2019_Training_GroundTruth.csv"))
        return found[0] if found else None
    return None


def _arguments(parser) -> None:
    parser.add_argument("--labels-csv", default=None, help="ISIC_2019_Training_GroundTruth.csv for Table 5.1")
    parser.add_argument("--data-dir", default=None, help="a folder holding that CSV (searched)")


def _extra(args, results_dir: Path, written: list) -> str:
    records = collect("isic2019_classifiers", args.runs_root, results_dir)
    records = [r for r in records if r["metrics"].get("dataset") != "synthetic"]
    extra = [table_6_3(records, results_dir), table_6_2_corrected(records), table_6_5(records)]
    csv = _labels_csv(args)
    if csv is not None:
        from common.data import load_index

        index = load_index("isic2019", csv.parent)
        md, rows = table_5_1([s.label for s in index.samples])
        atomic_write_text(results_dir / "table_5.1.md", md)
        write_csv(results_dir / "table_5.1.csv", rows)
        extra.insert(0, md)
        written.append(results_dir / "table_5.1.md")
    elif (results_dir / "table_5.1.md").exists():
        extra.insert(0, (results_dir / "table_5.1.md").read_text())
    written.append(results_dir / "table_6.3.md")
    return "\n".join(extra)


PROGRAM = PaperTables(
    SPECS, preface=PREFACE,
    description="Regenerate results/isic2019_classifiers/: Table 5.1 from the ground-truth CSV, Tables "
                "6.1-6.6 from the run records, the thesis's numbers beside ours; rows not run say so.",
    options={"other_metrics": CLASSIFICATION + ("jaccard", "thresholded_jaccard", "dice"),
             "variants_checkpoint": "balanced_accuracy"},
    arguments=_arguments, extra=_extra)


def main(argv=None) -> int:
    return table_main(PAPER, PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
