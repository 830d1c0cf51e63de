"""``evaluate``: score trained runs (one, an ensemble, with test-time views and post-processing) with
the challenge's metrics, on the run's own split or on another dataset; the options it shares with
``predict`` (run folders, checkpoint, views, post-processing)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from common.config import ConfigError
from common.training.paper import Paper
from common.training import records
from common.training.records import os_error_message
from common.training.runs import ensemble_predictor, evaluation_samples, load_samples, open_run

# -- loading a finished run ---------------------------------------------------------------------

def run_options(parser: argparse.ArgumentParser, many: bool) -> None:
    parser.add_argument("--run-dir", required=True, action="append" if many else "store", metavar="RUN",
                        help="the run folder written by train" + (
                            "; give it several times for an ensemble (outputs averaged over the runs; "
                            "attribute runs of different attributes are scored together, Task 2's mean)"
                            if many else ""))
    parser.add_argument("--checkpoint", default=None, metavar="NAME",
                        help="which kept checkpoint to use (default: the run's main one; a classifier "
                             "keeps loss, accuracy and balanced_accuracy)")
    from common.training.tasks.predict import TTA_SETS

    parser.add_argument("--tta", default="none", metavar="VIEWS",
                        help="test-time views averaged per run: " + ", ".join(TTA_SETS) + " (default none; "
                             "flip: identity, horizontal, vertical and both flips; five: the transfer "
                             "ensemble's five views)")
    parser.add_argument("--postprocess", default=None, choices=["threshold", "double"],
                        help="threshold (prob >= --threshold) or double (the transfer ensemble's "
                             "double-threshold reconstruction, T_H and T_L chosen on the runs' "
                             "validation predictions); default: the row's")
    parser.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the row's)")
    parser.add_argument("--t-high", type=float, default=None, metavar="T_H",
                        help="with --postprocess double: use this T_H (with --t-low) instead of choosing the "
                             "pair on the runs' validation images, e.g. the pair chosen on cross-validation")
    parser.add_argument("--t-low", type=float, default=None, metavar="T_L", help="the T_L that goes with --t-high")
    parser.add_argument("--verbose", action="store_true", help="show the backend's start-up messages")


def tta_views_of(args):
    from common.training.tasks import tta_views

    try:
        return tta_views(args.tta)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def post_options(args) -> dict:
    """The post-processing options of an evaluate or predict command line, for :func:`postprocess_of`."""
    return {k: getattr(args, k, None) for k in ("postprocess", "threshold", "t_high", "t_low")}


def postprocess_of(task, cfg, *, postprocess: str | None = None, threshold: float | None = None,
                   t_high: float | None = None, t_low: float | None = None):
    """The row's post-processing with ``--postprocess``, ``--threshold`` and ``--t-high/--t-low`` applied."""
    from dataclasses import replace

    post = task.postprocess(cfg)
    if postprocess is not None:
        if not task.post_processed:
            raise ConfigError("--postprocess applies to masks; a classifier's label is the argmax")
        post = replace(post, kind=postprocess, t_high=None, t_low=None)
    if threshold is not None:
        if not 0 <= threshold <= 1:
            raise ConfigError(f"--threshold {threshold}: give a probability in [0, 1]")
        post = replace(post, threshold=threshold)
    pair = (t_high, t_low)
    if pair != (None, None):
        if None in pair or post.kind != "double":
            raise ConfigError("--t-high and --t-low go together, with double-threshold post-processing "
                              "(--postprocess double, or a row that uses it)")
        if not 0 <= pair[1] <= pair[0] <= 1:
            raise ConfigError(f"--t-high {pair[0]} --t-low {pair[1]}: give 0 <= T_L <= T_H <= 1")
        post = replace(post, t_high=pair[0], t_low=pair[1], chosen_on="given on the command line")
    return post


# -- evaluate ------------------------------------------------------------------------------------

def evaluate_main(paper: Paper, argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{paper.name}.evaluate",
        description="Score trained runs with the challenge's metrics: lesion masks as ISIC Task 1 (ACC, "
                    "DSC, JSC, SEN, SPE, thresholded JSC, each prediction resized to its image's own "
                    "size), attribute masks as ISIC 2018 Task 2 (one confusion matrix per attribute over "
                    "all images, then the mean), classes as ISIC 2019 (balanced accuracy). Several "
                    "--run-dir make an ensemble; --tta adds test-time views. Writes a per-image CSV "
                    "into the (first) run folder.")
    run_options(parser, many=True)
    parser.add_argument("--data-dir", default=None,
                        help="dataset root (default: the run's own, scored on the run's split); another "
                             "dataset is scored whole")
    parser.add_argument("--dataset", default=None, help="dataset name when --data-dir is given (default auto)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                        help="which part of the run's split to score (falls back to val when the split "
                             "has no test part)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--cache-dir", default=None, help="decoded-array cache folder")
    args = parser.parse_args(argv)
    from common.results import scrub_paths

    words = [f"python -m reproductions.{paper.name}.evaluate", *map(str, sys.argv[1:] if argv is None else argv)]
    args.command = scrub_paths({"command": " ".join(words)})["command"]   # without this machine's folders
    from common.quiet import import_backend

    import_backend(verbose=args.verbose)
    from common.data.errors import DataError

    try:
        result = _evaluate(paper, args)
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    except DataError as exc:
        parser.exit(1, f"error: {exc}\n")
    except OSError as exc:
        parser.exit(1, f"error: {os_error_message(exc)}\n")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['n']} images ({result['dataset']}, {result['split']}; {result['predictor']}):")
        for k, v in result["mean"].items():
            print(f"  {k:<20} {v:.4f}")
        for name, scores in result.get("per_attribute", {}).items():
            print(f"  {name:<20} " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        print(f"per-image scores: {result['csv']}")
    return result


def _evaluate(paper, args) -> dict:
    views = tta_views_of(args)                      # a bad --tta fails before any model is built
    runs = [open_run(paper, r, args.checkpoint) for r in args.run_dir]
    if len({r.task.group for r in runs}) > 1:
        return _evaluate_attributes(paper, args, runs, views)
    return _evaluate_group(paper, args, runs, views)


def _evaluate_group(paper, args, runs, views) -> dict:
    first = runs[0]
    task, cfg = first.task, first.cfg
    predict = ensemble_predictor(runs, views, task)
    index, samples, split, ids_of = evaluation_samples(first, args.split, args.data_dir, args.dataset)
    images, masks = load_samples(index, samples, cfg, cache_dir=args.cache_dir, progress=not args.json)
    try:
        targets = task.targets(masks, samples) if masks is not None or not task.targets_from_masks else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if targets is None:
        raise ConfigError("these images have no ground truth to score against")
    post = postprocess_of(task, cfg, **post_options(args))
    if not post.tuned:
        post = tune_on_validation(first, task, post, predict, index, ids_of, split=args.split,
                                   cache_dir=args.cache_dir, progress=not args.json)
    outputs = predict(images, batch_size=8, progress=not args.json)
    scored = task.score(samples, outputs, targets, native=index.name != "synthetic", post=post,
                        classes=index.classes)
    stem = (f"evaluate_{index.name}_{split}" + ("_ensemble" if len(runs) > 1 else "")
            + ("" if args.tta == "none" else f"_tta-{args.tta}") + _post_suffix(args, post))
    csv_path = first.run_dir / f"{stem}.csv"
    records.write_csv(csv_path, scored.per_image)
    result = {"run_dir": str(first.run_dir), "runs": [str(r.run_dir) for r in runs], "task": task.kind,
              "checkpoint": first.checkpoint, "dataset": index.name, "split": split, "n": len(samples),
              "tta": [v.name for v in views], "postprocess": post.to_dict(),
              "predictor": _describe_predictor(runs, views, post),
              "csv": str(csv_path), **scored.as_dict()}
    _write_evaluation_record(first.run_dir / f"{stem}.json", result, args)
    return result


def _write_evaluation_record(path: Path, result: dict, args) -> None:
    """The scores of one evaluate command beside its per-image CSV, with what ran them: the runs
    (by folder name), the checkpoint, views, post-processing, the command and its provenance. The
    results tables keep it with the run's record (``results/<paper>/records/<run>/``)."""
    record = {k: v for k, v in result.items() if k not in ("per_image", "run_dir", "runs", "csv")}
    record.update(runs=[Path(r).name for r in result["runs"]], csv=Path(result["csv"]).name,
                  command=getattr(args, "command", None), provenance=records.provenance())
    records.atomic_write_json(path, record)


def _post_suffix(args, post) -> str:
    """The per-image CSV's name names post-processing chosen on the command line, so that scoring
    the same run another way does not overwrite the row's own scores."""
    if (args.postprocess, args.threshold, getattr(args, "t_high", None)) == (None, None, None):
        return ""
    if post.kind == "threshold":
        return f"_threshold-{post.threshold:g}"
    return f"_double-{post.t_high:g}-{post.t_low:g}"


def _describe_predictor(runs, views, post) -> str:
    what = f"{len(runs)} runs averaged" if len(runs) > 1 else "1 run"
    rule = runs[0].task.rule(post)
    return f"{what}, {len(views)} view(s), {rule}"


def _evaluate_attributes(paper, args, runs, views) -> dict:
    """Attribute runs of several attributes: each attribute's ensemble scored, then Task 2's mean."""
    from common.training.tasks import combine_attributes

    groups: dict[str, list] = {}
    for r in runs:
        groups.setdefault(r.task.name, []).append(r)
    results, scored = {}, {}
    for name, group in groups.items():
        result = _evaluate_group(paper, args, group, views)
        results[name] = result
        from common.training.tasks import Scored

        scored[name] = Scored(result["mean"], result["per_image"])
    combined = combine_attributes(scored)
    first = results[next(iter(results))]
    csv_path = runs[0].run_dir / f"evaluate_{first['dataset']}_{first['split']}_attributes.csv"
    records.write_csv(csv_path, combined.per_image)
    return {"runs": [str(r.run_dir) for r in runs], "task": "attributes", "dataset": first["dataset"],
            "split": first["split"], "n": first["n"], "attributes": list(groups),
            "predictor": f"{len(groups)} attributes, " + first["predictor"],
            "csv": str(csv_path), **combined.as_dict()}


def tune_on_validation(run, task, post, predict, index, split_ids, split: str = "test", cache_dir=None,
                        progress: bool = False):
    """Double threshold: (T_H, T_L) chosen on the run's validation images, never on the scored ones."""
    if not split_ids or not split_ids.get("val"):
        raise ConfigError("double-threshold post-processing chooses (T_H, T_L) on validation predictions; "
                          "the run's split has no validation part (or --data-dir scores other data): "
                          "use --postprocess threshold")
    if split in ("val", "all"):
        raise ConfigError(f"--split {split} would score the validation images that chose (T_H, T_L); "
                          f"score the test part")
    by_id = {s.id: s for s in index.samples}
    samples = [by_id[i] for i in split_ids["val"]]
    images, masks = load_samples(index, samples, run.cfg, cache_dir=cache_dir, progress=progress)
    targets = task.targets(masks, samples)
    outputs = predict(images, batch_size=8)
    return task.tune(post, outputs, targets, chosen_on=f"the runs' validation part ({len(samples)} images)")
