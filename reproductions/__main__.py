"""``python -m reproductions``: every paper, its rows (task, epochs, image size, split) and its runs.

    python -m reproductions                    # the papers and how many runs each row has
    python -m reproductions --runs             # every finished run folder under each row
    python -m reproductions --paper asnet --runs-root ~/runs
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path


def _runs_by_row(paper, runs_root: Path, results_root: Path) -> dict[str, list[tuple[str, dict]]]:
    """Finished runs (run folders and the records kept under results/) keyed by row."""
    from common.training.records import find_runs, load_json

    found: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    kept = sorted(p.parent for p in (results_root / paper.name / "records").glob("*/metrics.json"))
    for run_dir in list(find_runs(runs_root, paper.name)) + kept:
        try:
            metrics = load_json(run_dir / "metrics.json")
        except (OSError, ValueError):
            continue
        found[metrics.get("row", "?")].append((str(run_dir), metrics))
    return found


def _summary(metrics: dict) -> str:
    scores = metrics.get("scores", {})
    part = "test" if "test" in scores else next(iter(scores), None)
    shown = ""
    if part:
        first = next(iter(scores[part].items()), None)
        if first:
            shown = f", {part} {first[0]} {first[1]:.4f}"
    fold = f" fold {metrics['fold']}" if metrics.get("fold") is not None else ""
    return f"{metrics.get('dataset', '?')}{fold}, {metrics.get('epochs_done', '?')} epochs{shown}"


def main(argv=None) -> int:
    from common.training.records import RUNS_ROOT_HELP, default_runs_root

    parser = argparse.ArgumentParser(prog="python -m reproductions",
                                     description="List the papers of the suite, their table rows and the runs "
                                                 "found for each row.")
    parser.add_argument("--paper", action="append", default=None, help="only this paper (repeatable)")
    parser.add_argument("--runs", action="store_true", help="list every run folder, not only the counts")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="where the train commands write runs (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--results", default="results", help="the results folder with kept run records")
    args = parser.parse_args(argv)
    from common.quiet import import_backend

    import_backend(verbose=False)          # a paper's declaration may import Keras
    from common.config import image_hw
    from reproductions import registry

    names = args.paper or list(registry.PAPERS)
    for name in names:
        try:
            paper = registry.load(name)
        except KeyError as exc:
            parser.error(str(exc.args[0]))
        runs = _runs_by_row(paper, Path(args.runs_root), Path(args.results))
        print(f"{paper.name}: {paper.title}")
        import importlib.util

        extra = [c for c in ("plan", "ensemble", "submit")
                 if importlib.util.find_spec(f"reproductions.{paper.name}.{c}") is not None]
        commands = "|".join(["train", "evaluate", "predict", "table", "profile", *extra])
        print(f"  python -m reproductions.{paper.name}.{commands} --help")
        width = max(len(r) for r in paper.rows) + 2
        for row, cfg in paper.rows.items():
            h, w = image_hw(cfg)
            task = paper.task_for(cfg).kind
            found = runs.get(row, [])
            mark = "*" if row == paper.default_row else " "
            print(f"  {mark} {row:<{width}} {task}, {cfg.epochs} epochs, {h}x{w}, split "
                  f"{getattr(cfg, 'split', '-')}: {len(found)} run(s)")
            if args.runs:
                for run_dir, metrics in found:
                    print(f"        {run_dir} ({_summary(metrics)})")
        print()
    print("* the row trained without --row. Runs are read from "
          f"{args.runs_root} and {args.results}/<paper>/records.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
