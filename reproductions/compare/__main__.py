"""``python -m reproductions.compare SUITE``: train every entry of a suite through the shared runner
and score them all on the same test images, as one leaderboard."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from common.config import ConfigError, slugify
from reproductions.compare import leaderboard
from reproductions.compare.suites import SUITES, Entry, Suite, get_suite

REPO = Path(__file__).resolve().parents[2]


def _folds(suite: Suite) -> list[int | None]:
    from common.data.splits import fold_count

    k = fold_count(suite.split)
    return list(range(k)) if k else [None]


def run_dir(root: Path, suite: Suite, entry: Entry, fold: int | None) -> Path:
    base = root / "compare" / suite.name / slugify(entry.name)
    return base if fold is None else base / f"fold{fold}"


def train_argv(suite: Suite, entry: Entry, fold: int | None, data_dir: str | None, root: Path) -> list[str]:
    argv = ["--row", entry.row, "--split", suite.split, "--seed", str(suite.seed), *suite.budget_of(entry).argv(),
            *suite.extra_argv]
    argv += ["--data-dir", str(data_dir)] if data_dir else ["--dataset", "synthetic"]
    for item in entry.overrides:
        argv += ["--set", item]
    if fold is not None:
        argv += ["--fold", str(fold)]
    return argv + ["--run-dir", str(run_dir(root, suite, entry, fold))]


def plan(suite: Suite, entries, data_dir: str | None, root: Path) -> list[str]:
    """One command per entry and fold: train commands, then the ensembles' and baselines' scoring."""
    lines = []
    for e in entries:
        for fold in _folds(suite):
            if e.kind == "run":
                lines.append(f"python -m reproductions.{e.paper}.train "
                             + " ".join(shlex.quote(a) for a in train_argv(suite, e, fold, data_dir, root)))
    lines.append(f"python -m reproductions.compare {suite.name}" + (f" --data-dir {shlex.quote(str(data_dir))}"
                                                                     if data_dir else "")
                 + "   # afterwards: finds the runs, scores the ensembles and baselines, writes the leaderboard")
    return lines


def _train(suite, entry, fold, data_dir, root, quiet) -> Path:
    folder = run_dir(root, suite, entry, fold)
    if (folder / "metrics.json").exists():
        print(f"{entry.name}{'' if fold is None else f' fold {fold}'}: finished run found, reused ({folder})",
              file=sys.stderr)
        return folder
    argv = train_argv(suite, entry, fold, data_dir, root) + (["--quiet"] if quiet else [])
    if (folder / "config.json").exists():
        argv.append("--resume")
        print(f"{entry.name}{'' if fold is None else f' fold {fold}'}: continuing {folder}", file=sys.stderr)
    else:
        print(f"{entry.name}{'' if fold is None else f' fold {fold}'}: training", file=sys.stderr)
    main = importlib.import_module(f"reproductions.{entry.paper}.train").main
    main(argv)
    return folder


def _per_image_csv(path: Path, task: str = "segmentation") -> dict[str, dict]:
    from common.training.records import read_csv

    if task == "classification":
        return {str(r["id"]): {"label": str(r["label"]), "predicted": str(r["predicted"])} for r in read_csv(path)}
    return {str(r["id"]): {m: float(r[m]) for m in leaderboard.METRICS} for r in read_csv(path)}


def _run_per_image(suite: Suite, run: Path) -> dict[str, dict]:
    """A run's per-image test scores (validation when it has no test part), at the suite's checkpoint."""
    part = "test" if (run / "per_image_test.csv").exists() else "val"
    path = run / f"per_image_{part}.csv"
    if suite.checkpoint and (run / f"per_image_{part}_{suite.checkpoint}.csv").exists():
        path = run / f"per_image_{part}_{suite.checkpoint}.csv"
    return _per_image_csv(path, suite.task)


def _colour_histogram(index, split: dict, features: dict) -> dict[str, dict]:
    """The colour-histogram baseline fitted on the split's training part, its predictions on the test
    part by id (``features``: every image's histogram, computed once for all folds)."""
    from common.baselines import histogram_predictions
    from common.training.tasks.classification import learnable_classes

    names = learnable_classes(index.classes)
    out = histogram_predictions(index, split, features)
    return {i: {"label": names[int(t)], "predicted": names[int(p)]}
            for i, t, p in zip(out["ids"], out["labels"], out["predicted"])}


def _cost(entry: Entry, runs: list[Path], index, samples) -> dict:
    """Parameters, MACs at the run's size, training seconds per epoch, inference images per second."""
    from common.profiling import count_macs, count_params
    from common.training.runs import open_run
    from common.config import image_hw
    from common.training.inference import predictor_for
    from common.training.records import read_csv
    from reproductions import registry

    run = open_run(registry.load(entry.paper), runs[0])
    h, w = image_hw(run.cfg)
    history = [r for path in runs for r in read_csv(path / "history.csv")]
    out = {"params": count_params(run.model), "size": f"{h}x{w}",
           "seconds_per_epoch": float(np.mean([r["seconds"] for r in history])) if history else None}
    try:
        out["macs"] = count_macs(run.model, (h, w, 3))
    except Exception:  # noqa: BLE001 - a cost column, never a reason to lose the leaderboard
        out["macs"] = None
    if samples:                                                   # the first test images, timed
        from common.data.cache import decode_sample

        small = np.stack([decode_sample(index, s, (h, w))[0] for s in samples])
        predict = predictor_for(run.model, run.cfg, run.task)
        predict(small[:2], batch_size=8)                         # compiled before timing
        start = time.perf_counter()
        predict(small, batch_size=8)
        out["images_per_second"] = len(small) / (time.perf_counter() - start)
    return out


def _evaluate(paper: str, argv: list[str]) -> dict:
    from reproductions import registry
    from common.training.evaluation import evaluate_main

    with contextlib.redirect_stdout(io.StringIO()):
        return evaluate_main(registry.load(paper), [*argv, "--json"])


def _otsu(index, ids, size) -> dict[str, dict[str, float]]:
    """Otsu's masks scored at each image's own size (the synthetic images at the suite's size, at
    which its runs are scored too)."""
    from common import metrics
    from common.baselines import otsu_mask
    from common.data.cache import decode_sample
    from common.data.decode import read_image, read_mask

    by_id = {s.id: s for s in index.samples}
    out = {}
    for i in ids:
        if index.name == "synthetic":
            image, truth = decode_sample(index, by_id[i], size)
            truth = truth[..., 0]
        else:
            image, _ = read_image(by_id[i].image)
            truth, _ = read_mask(by_id[i].mask)
        scores = metrics.image_scores(truth.astype(bool), otsu_mask(image))
        out[i] = {m: float(scores[m]) for m in leaderboard.METRICS}
    return out


def _synthetic_size(suite: Suite) -> int:
    argv = list(suite.extra_argv)
    return int(argv[argv.index("--synthetic-size") + 1]) if "--synthetic-size" in argv else 200


def score(suite: Suite, entries, data_dir, root: Path, score_on: str | None = None) -> list[leaderboard.Scored]:
    """Every finished entry on the suite's test images (or, with ``score_on``, on every image of
    another dataset), each at its own size, with the challenge's metrics."""
    from common.data import load_index

    folds = _folds(suite)
    scored: list[leaderboard.Scored] = []
    first_run = next((e for e in entries if e.kind == "run"), None)
    index = (load_index("auto", score_on) if score_on else
             load_index(suite.dataset if not data_dir else "auto", data_dir, synthetic_size=_synthetic_size(suite),
                        seed=suite.seed))
    test_ids, splits, fold_of = [], [], {}
    classification = suite.task == "classification"
    if not score_on and first_run is not None:
        for fold in folds:
            split = json.loads((run_dir(root, suite, first_run, fold) / "split.json").read_text())
            splits.append(split)
            test_ids += split.get("test") or split["val"]
            if fold is not None:
                fold_of.update({i: fold for i in split.get("test") or split["val"]})
    else:
        test_ids = [s.id for s in index.samples if (s.label is not None if classification else s.mask)]
    by_id = {s.id: s for s in index.samples}
    timing = [by_id[i] for i in test_ids[:32]]
    from common.config import parse_image_size

    size = parse_image_size(suite.budget.image_size) if suite.budget.image_size else (256, 256)
    for e in entries:
        if e.kind == "baseline" and e.baseline == "colour-histogram":
            if score_on or not splits:
                raise ConfigError(f"{e.name}: the colour-histogram baseline is fitted on the suite's training part; "
                                  "it needs the suite's runs (and is not scored on another dataset)")
            from common.baselines import histogram_features

            features = histogram_features(index, progress=False, size=size)
            per_image = {}
            for split in splits:
                per_image.update(_colour_histogram(index, split, features))
            scored.append(leaderboard.Scored(e.name, per_image, record="common.baselines colour-histogram",
                                             note=e.why))
            continue
        if e.kind == "baseline":
            scored.append(leaderboard.Scored(e.name, _otsu(index, test_ids, size), record="common.baselines otsu",
                                             note=e.why))
            continue
        names = e.members if e.kind == "ensemble" else (e.name,)
        members = [suite.entry(n) for n in names]
        per_image: dict = {}
        runs_all = []
        for fold in (folds if not score_on else folds[:1]):
            runs = [run_dir(root, suite, m, fold) for m in members]
            runs_all += runs
            missing = [str(r) for r in runs if not (r / "metrics.json").exists()]
            if missing:
                raise ConfigError(f"{e.name}: no finished run in {', '.join(missing)}; train the suite first")
            if e.kind == "run" and not score_on:
                per_image.update(_run_per_image(suite, runs[0]))
            else:
                argv = [a for r in runs for a in ("--run-dir", str(r))] + list(e.evaluate)
                argv += ["--data-dir", str(score_on)] if score_on else ["--split", "test"]
                if suite.checkpoint:
                    argv += ["--checkpoint", suite.checkpoint]
                result = _evaluate(members[0].paper, argv)
                per_image.update({str(r["id"]): ({"label": str(r["label"]), "predicted": str(r["predicted"])}
                                                 if classification else
                                                 {m: float(r[m]) for m in leaderboard.METRICS})
                                  for r in result["per_image"]})
        if e.kind == "ensemble":       # its members' costs are their own rows
            h, w = json.loads((runs_all[0] / "config.json").read_text())["config"]["image_size"]
            cost = {"size": f"{h}x{w}"}
        else:
            cost = _cost(e, runs_all, index, timing)
        scored.append(leaderboard.Scored(e.name, {k: per_image[k] for k in test_ids if k in per_image},
                                         record=", ".join(sorted({_shown(r) for r in runs_all})), note=e.why, **cost,
                                         extra={"runs": runs_all}))
    if len(set(fold_of.values())) > 1:            # k-fold: each entry's mean over folds too
        for s in scored:
            s.extra["fold_of"] = fold_of
    return scored


def keep_records(suite: Suite, scored, results_dir: Path) -> None:
    """Copy every trained entry's run record (config, metrics, history, split, per-image scores) into
    ``results/compare/records/<suite>/<entry>[/fold<k>]/``, where the leaderboard links."""
    from common.results import keep_record

    shown: dict[str, str] = {}
    for s in scored:
        runs = s.extra.get("runs") or []
        if not runs or suite.entry(s.name).kind != "run":
            continue
        kept = []
        for run in runs:
            rel = Path(run).name if len(runs) == 1 else f"{Path(run).parent.name}/{Path(run).name}"
            target = results_dir / "records" / suite.name / (slugify(s.name) if len(runs) == 1 else rel)
            kept.append(keep_record(run, target, extra=("per_image_test*.csv", "per_image_val*.csv")))
        s.record = shown[s.name] = ", ".join(_shown(k) for k in kept)
    for s in scored:                    # an ensemble links its members' kept records
        entry = suite.entry(s.name)
        if entry.kind == "ensemble" and all(m in shown for m in entry.members):
            s.record = ", ".join(shown[m] for m in entry.members)


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return Path(path).name


def write(suite: Suite, rows, scored, results_dir: Path, tag: str = "", title: str = "",
          left_out: Sequence[str] = ()) -> list[Path]:
    from common.training.records import atomic_write_text

    stem = suite.name + tag
    classification = suite.task == "classification"
    notes = [f"Suite `{suite.name}`: {suite.description}.", "",
             f"Dataset {suite.dataset}, split `{suite.split}` with seed {suite.seed}; budget: "
             + ", ".join(f"{k} {v}" for k, v in vars(suite.budget).items() if v not in (None, 0)) + "."
             + (f" Each run is scored at its `{suite.checkpoint}` checkpoint (chosen on the validation part)."
                if suite.checkpoint else ""),
             ("Each entry's predicted class per test image (the ISIC 2019 metrics)" if classification else
              "Each entry's per-image scores are at each image's own size (the challenge's Task 1 metrics)")
             + "; figure: `" + stem + ".png`."]
    if left_out:
        notes += ["", "**Not in this leaderboard** (left out with `--rows`; the suite's command trains them): "
                  + ", ".join(left_out) + "."]
    render = leaderboard.markdown_classification if classification else leaderboard.markdown
    md = atomic_write_text(results_dir / f"{stem}.md", render(rows, title or f"Leaderboard: {stem}", notes))
    csv_path = atomic_write_text(results_dir / f"{stem}.csv", leaderboard.to_csv(rows))
    draw = leaderboard.figure_classification if classification else leaderboard.figure
    png = draw(scored, rows, results_dir / f"{stem}.png")
    return [md, csv_path, png]


def rank(suite: Suite, scored, seed: int) -> list[dict]:
    if suite.task == "classification":
        return leaderboard.rank_classification(scored, seed=seed)
    return leaderboard.rank(scored, seed=seed)


def build_parser() -> argparse.ArgumentParser:
    from common.training.records import RUNS_ROOT_HELP, default_runs_root

    suites = "\n".join(f"  {s.name:<16} {s.description}" + ("" if s.run_here else " (GPU: --plan)")
                       for s in SUITES.values())
    parser = argparse.ArgumentParser(
        prog="python -m reproductions.compare", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train every entry of a suite through the shared runner and score them all on the same "
                    "test images with the challenge's metrics, as one leaderboard.\n\n"
                    "A suite (reproductions/compare/suites.py) is a list of entries (paper, row, overrides), "
                    "one dataset, one split with a fixed seed, and one budget (image size, epochs, batch size, "
                    "encoder weights) that every entry takes unless it says otherwise and why. Entries are "
                    "runs of a paper's row, ensembles of other entries' runs (scored with test-time views and "
                    "post-processing), or a classical baseline (Otsu for segmentation; a colour-histogram "
                    "logistic regression for classification, fitted on the suite's training part).\n\n"
                    "Training is resumable: finished runs (runs/compare/<suite>/<entry>/) are found and reused, "
                    "never retrained, and an interrupted run continues where it stopped. The leaderboard "
                    "(results/compare/<suite>.md, .csv and .png) gives per entry Jaccard, thresholded Jaccard, "
                    "Dice, sensitivity and specificity with 95 % bootstrap intervals over the test images, the "
                    "difference to the best entry with a paired Wilcoxon signed-rank test, parameters, MACs, "
                    "training seconds per epoch and inference images per second. A classification suite "
                    "ranks by the ISIC 2019 balanced multi-class accuracy (bootstrap intervals, a paired "
                    "bootstrap against the best entry) and lists each entry's recall per class.",
        epilog="suites:\n" + suites)
    parser.add_argument("suite", nargs="?", help="the suite to run (listed below)")
    parser.add_argument("--data-dir", default=None, help="the suite's dataset as downloaded (not needed for "
                                                         "the synthetic suite)")
    parser.add_argument("--plan", action="store_true", help="print one train command per entry (and fold), for a "
                                                            "cluster or one GPU each, and train nothing")
    parser.add_argument("--rows", default=None, help="only these entries, comma-separated (ensembles bring "
                                                     "their members)")
    parser.add_argument("--score-on", default=None, metavar="DIR",
                        help="also score every finished entry on all images of another dataset (a test set the "
                             "runs never saw), as its own leaderboard (<suite>_on_<dataset>)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="root of run folders (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--results-dir", default=str(REPO / "results" / "compare"),
                        help="where the leaderboards are written (default: results/compare)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv=None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.suite:
        parser.print_help()
        return []
    try:
        suite = get_suite(args.suite)
    except KeyError as exc:
        parser.exit(2, f"error: {exc.args[0]}\n")
    names = [n.strip() for n in args.rows.split(",")] if args.rows else [e.name for e in suite.entries]
    try:
        chosen = [suite.entry(n) for n in names]
    except KeyError as exc:
        parser.exit(2, f"error: {exc.args[0]}\n")
    wanted = {n for e in chosen for n in (e.members or (e.name,))}
    entries = [e for e in suite.entries if e.name in wanted or e in chosen]
    root = Path(args.runs_root)
    if suite.dataset != "synthetic" and not args.data_dir:
        parser.exit(2, f"error: suite {suite.name} runs on {suite.dataset}: give --data-dir (its folder as downloaded)\n")
    if args.plan:
        print("\n".join(plan(suite, entries, args.data_dir, root)))
        return []
    if not suite.run_here:
        parser.exit(2, f"error: suite {suite.name} is planned for GPUs at the papers' own settings: use --plan\n")
    from common.quiet import import_backend

    import_backend()
    try:
        for e in entries:
            if e.kind == "run":
                for fold in _folds(suite):
                    _train(suite, e, fold, args.data_dir, root, args.quiet)
        shown = [e for e in entries if e in chosen]
        scored = score(suite, shown, args.data_dir, root)
        keep_records(suite, scored, Path(args.results_dir))
        rows = rank(suite, scored, suite.seed)
        left_out = [e.name for e in suite.entries if e not in shown]
        written = write(suite, rows, scored, Path(args.results_dir), left_out=left_out)
        if args.score_on:
            from common.data import load_index

            other = load_index("auto", args.score_on).name
            scored_on = score(suite, shown, args.data_dir, root, score_on=args.score_on)
            written += write(suite, rank(suite, scored_on, suite.seed), scored_on, Path(args.results_dir),
                             tag=f"_on_{other}", title=f"Leaderboard: {suite.name}, scored on {other}",
                             left_out=left_out)
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    render = leaderboard.markdown_classification if suite.task == "classification" else leaderboard.markdown
    print(render(rows, f"Leaderboard: {suite.name}"))
    print("wrote " + ", ".join(_shown(p) for p in written))
    return written


if __name__ == "__main__":
    main()
