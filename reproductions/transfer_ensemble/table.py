"""Regenerate ``results/transfer_ensemble/`` from the run records: ``python -m reproductions.transfer_ensemble.table``.

* Table I: 5-fold cross-validation on ISIC 2018 Task 1's 2594 training images, per model: ours is
  the mean ± std over a row's fold runs, each scoring its held-out fold with the double threshold
  (T_H, T_L) chosen on its own validation images. The paper chose one pair per model on all
  out-of-fold maps; ``python -m reproductions.transfer_ensemble.ensemble`` does that (and the
  ensemble rows) from the fold runs' saved maps.
* Table II: the 100 ISIC 2018 validation images, scored with the thresholds chosen on
  cross-validation (the ensemble command with ``--score-dir``), shown under Table I's ensemble
  output; the Table II rows of the fold-run table stay "not run".
* Table III: ISIC 2018 Task 2, one row per encoder and attribute, Jaccard and Dice over all pixels of
  the held-out folds (the challenge's Task 2 scoring).

A paper row is filled only by runs that followed its protocol; narrowed or reduced runs are listed
under variants, runs on other data apart.
"""
from __future__ import annotations

from pathlib import Path

from common.results import TableSpec
from common.tables import PaperTables, table_main
from reproductions.transfer_ensemble.paper import PAPER

REPO = Path(__file__).resolve().parents[2]
ENSEMBLE = "python -m reproductions.transfer_ensemble.ensemble"

SPECS = {
    "Table I": TableSpec("lesion segmentation, 5-fold cross-validation (mean ± std over folds)", "isic2018",
                         "ISIC 2018 Task 1's 2594 training images, 5-fold cross-validation (out-of-fold "
                         "predictions, double-threshold post-processing)",
                         metrics=("thresholded_jaccard", "jaccard", "dice", "accuracy", "sensitivity",
                                  "specificity"), score_split="test"),
    "Table II": TableSpec("lesion segmentation, ISIC 2018 validation images", "isic2018",
                          "the 100 ISIC 2018 Task 1 validation images (leaderboard), thresholds from "
                          "cross-validation", metrics=("thresholded_jaccard",), score_split="official_val"),
    "Table III": TableSpec("attribute segmentation, 5-fold cross-validation", "isic2018_task2",
                           "ISIC 2018 Task 2's 2594 training images, 5-fold cross-validation, Jaccard and "
                           "Dice over all pixels of all images per attribute",
                           metrics=("jaccard", "dice"), score_split="test"),
}

#: paper rows this suite makes from other runs rather than trains
DERIVED = {
    "Ensemble": f"made by {ENSEMBLE} from the models' fold runs",
    **{f"{name} ({attribute})": f"made by {ENSEMBLE}" for name in
       ("ResNet152", "Inception-ResNet-v2", "DenseNet169", "Ensemble")
       for attribute in ("average",)},
    **{f"Ensemble ({a})": f"made by {ENSEMBLE}" for a in
       ("pigment_network", "globules", "milia_like_cyst", "negative_network", "streaks")},
}

PREFACE = (
    "Koohbanani, Jahanifar, Zamani Tajeddin, Gooya & Rajpoot 2018, \"Leveraging Transfer Learning for "
    "Segmenting Lesions and their Attributes in Dermoscopy Images\". Table I's \"ResNet151\" is ResNet152 "
    "and its \"ResNetv2\" Inception-ResNet-v2; its ResNet151 T_L is printed 35 (0.35). Each row's command "
    "is in reproductions/transfer_ensemble/README.md; `python -m reproductions.transfer_ensemble.plan` "
    "prints all of them.")


def _provenance_line(result: dict) -> str:
    git = result.get("provenance", {}).get("git", {})
    runs = sum(len(v) for v in result.get("runs", {}).values())
    commit = (git.get("commit") or "")[:10] + ("+patch" if git.get("dirty") else "")
    images = result.get("images") or max((a["images"] for a in result.get("attributes", {}).values()), default=0)
    return (f"{images} images of {result.get('dataset')}, {runs} fold runs "
            f"({', '.join(f'{m}: {len(v)}' for m, v in result.get('runs', {}).items())}), ensemble step at "
            f"commit {commit or 'unknown'}; the fold runs' own records are listed in variants/other data")


def oof_tables(runs_root: str | Path, results_dir: Path, task: str = "lesion") -> str:
    """Table I as the paper made it, from the newest ``ensemble`` output per dataset: each model's and the
    ensemble's out-of-fold scores, one (T_H, T_L) per model chosen on those maps. The output is kept under
    ``results/transfer_ensemble/records/ensemble-<dataset>-<stamp>/`` so a clone regenerates the table."""
    from common.training.records import atomic_write_json, atomic_write_text, load_json
    from reproductions.transfer_ensemble.ensemble import attribute_report, other_images_report, report

    found = {}
    paths = sorted(Path(runs_root).glob("transfer_ensemble/ensemble/*/ensemble.json"))
    paths += sorted((results_dir / "records").glob("ensemble-*/ensemble.json"))
    for path in paths:
        result = load_json(path)
        dataset, stamp = result.get("dataset"), result.get("stamp", "")
        if dataset == "synthetic" or not stamp or result.get("task", "lesion") != task:
            continue
        if dataset not in found or stamp > found[dataset][0]:
            found[dataset] = (stamp, path, result)
    if task == "lesion":
        lines = ["## Table I as the paper made it: out-of-fold maps, views, ensemble, double threshold", "",
                 "From `python -m reproductions.transfer_ensemble.ensemble`: every fold run predicts its held-out "
                 "images; each model's maps (and their mean, the ensemble) are scored with one view or the paper's "
                 "five, at threshold 0.5 or with the double threshold whose (T_H, T_L) the grid search chose on the "
                 "same out-of-fold maps (as the paper chose Table I's).", ""]
    else:
        lines = ["## Table III as the paper made it: out-of-fold attribute maps, ensemble, the three submissions", "",
                 "From `python -m reproductions.transfer_ensemble.ensemble --task attributes`: per attribute, each "
                 "encoder's out-of-fold maps (five views) and their mean, with (T_H, T_L) chosen per attribute on "
                 "those maps, scored without and with the lesion restriction and with T_H lowered by 0.05.", ""]
    if not found:
        lines.append("No ensemble output yet: not run.")
    for dataset, (stamp, path, result) in sorted(found.items()):
        name = f"ensemble-{dataset}-{stamp}" if task == "lesion" else f"ensemble-attributes-{dataset}-{stamp}"
        kept = results_dir / "records" / name
        if path.parent != kept:
            result = {k: v for k, v in result.items() if k != "runs_root"}   # no machine paths in results/
            atomic_write_json(kept / "ensemble.json", result)
            atomic_write_text(kept / "ensemble.md", (report(result) if task == "lesion" else attribute_report(result))
                              + ("\n" + other_images_report(result["other_images"]) if "other_images" in result else ""))
        paper_data = "isic2018" if task == "lesion" else "isic2018_task2"
        where = ("the ISIC 2018 training images (the paper's data)" if dataset == paper_data
                 else f"{dataset}: other data than the paper's, not comparable with its numbers")
        lines += [f"### {where}", "", _provenance_line(result) + f"; kept in `records/{name}/`.", "",
                  report(result) if task == "lesion" else attribute_report(result)]
        if "other_images" in result:
            lines += ["#### Table II's protocol: other images scored with these thresholds", "",
                      other_images_report(result["other_images"])]
    md = "\n".join(lines) + "\n"
    atomic_write_text(results_dir / ("table_1_oof.md" if task == "lesion" else "table_3_oof.md"), md)
    return md


def _extra(args, results_dir: Path, written: list) -> str:
    md = oof_tables(args.runs_root, results_dir) + "\n" + oof_tables(args.runs_root, results_dir, "attributes")
    written += [results_dir / "table_1_oof.md", results_dir / "table_3_oof.md"]
    return md


PROGRAM = PaperTables(
    SPECS, preface=PREFACE, options={"derived": DERIVED},
    description="Regenerate results/transfer_ensemble/ (Tables I-III as Markdown and CSV) from the run "
                "records: the paper's numbers beside ours, each of ours with its runs' provenance; rows "
                "not run say so.",
    extra=_extra)


def main(argv=None) -> int:
    return table_main(PAPER, PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
