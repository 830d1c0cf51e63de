"""Print every training run the paper's tables need, one command per line:
``python -m reproductions.transfer_ensemble.plan --data-dir ISIC2018_ROOT [--table I|III|all] [--gpus N]``.

Table I (and II) needs 5 models x 5 folds, Table III 3 encoders x 5 attributes x 5 folds: 100 runs.
Each line trains one fold of one row, so the lines can be spread over GPUs or machines with the tools
at hand (``--gpus N`` prefixes ``CUDA_VISIBLE_DEVICES=k`` round-robin; pipe the output to GNU
parallel, a job scheduler, or N shell scripts). Runs that already finished are marked (``# done``)
and left out with ``--skip-done``; re-running the ensemble step (the last lines) picks up whatever
runs have finished.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from common.training.experiment import fold_count
from reproductions.transfer_ensemble.configs import ROWS, TABLES

REPO = Path(__file__).resolve().parents[2]


def planned_runs(table: str = "all") -> list[tuple[str, int]]:
    """(row, fold) of every run the chosen table(s) need, in table order."""
    tables = {"I": ["Table I"], "III": ["Table III"], "all": ["Table I", "Table III"]}[table]
    runs = []
    for name in tables:
        for row in TABLES[name]:
            k = fold_count(ROWS[row].split)
            runs += [(row, fold) for fold in range(k)]
    return runs


def finished(runs_root: Path) -> set[tuple[str, int]]:
    """(row, fold) of every finished run on real data under ``runs_root`` (metrics.json written)."""
    from common.training.records import find_runs, load_json

    done = set()
    for run in find_runs(runs_root, "transfer_ensemble"):
        data = load_json(run / "metrics.json")
        if data.get("dataset") != "synthetic":
            done.add((data.get("row"), data.get("fold")))
    return done


def main(argv=None) -> int:
    from common.training.records import RUNS_ROOT_HELP, default_runs_root

    parser = argparse.ArgumentParser(
        prog="python -m reproductions.transfer_ensemble.plan",
        description="Print one command line per training run that Tables I-III need (5-fold cross-validation "
                    "of every model and every encoder x attribute), then the ensemble commands.")
    parser.add_argument("--data-dir", default="ISIC2018_ROOT", help="dataset root written into the commands")
    parser.add_argument("--table", choices=["I", "III", "all"], default="all", help="which table's runs")
    parser.add_argument("--gpus", type=int, default=0,
                        help="prefix CUDA_VISIBLE_DEVICES=k, k = 0..N-1 round-robin (one process per GPU)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="where finished runs are looked for (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--skip-done", action="store_true", help="leave out runs that already finished")
    parser.add_argument("--extra", default="", help="options appended to every train command, e.g. '--quiet'")
    args = parser.parse_args(argv)
    if args.gpus < 0:
        parser.error("--gpus must be 0 (no prefix) or more")
    runs = planned_runs(args.table)
    finished_runs = finished(Path(args.runs_root))
    n = 0
    for row, fold in runs:
        done = (row, fold) in finished_runs
        if done and args.skip_done:
            continue
        prefix = f"CUDA_VISIBLE_DEVICES={n % args.gpus} " if args.gpus else ""
        line = (f"{prefix}python -m reproductions.transfer_ensemble.train --row {shlex.quote(row)} "
                f"--fold {fold} --data-dir {shlex.quote(args.data_dir)}" + (f" {args.extra}" if args.extra else ""))
        print(line + ("  # done" if done else ""))
        n += 1
    print(f"# then: python -m reproductions.transfer_ensemble.ensemble --data-dir {shlex.quote(args.data_dir)}",
          file=sys.stdout)
    print(f"# {len(runs)} runs planned, {n} printed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
