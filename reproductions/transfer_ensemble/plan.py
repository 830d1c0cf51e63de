"""Print every training run the paper's tables need, one command per line:
``python -m reproductions.transfer_ensemble.plan --data-dir ISIC2018_ROOT [--table I|III|all] [--gpus N]``.

Table I (and II) needs 5 models x 5 folds, Table III 3 encoders x 5 attributes x 5 folds: 100 runs.
Each line trains one fold of one row, so the lines can be spread over GPUs or machines with the tools
at hand (a job scheduler, GNU parallel), or, with ``--gpus N``, as a shell script that gives each
GPU its own queue (``CUDA_VISIBLE_DEVICES=k``, round-robin) and runs one job per GPU at a time. Runs that already finished are marked (``# done``)
and left out with ``--skip-done``; re-running the ensemble step (the last lines) picks up whatever
runs have finished.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from common.data.splits import fold_count
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
                        help="print a shell script instead of a list: N queues, GPU k (CUDA_VISIBLE_DEVICES=k) "
                             "running every N-th run one after another, so no GPU ever holds two runs; then the "
                             "ensemble step (pipe it into bash)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="where finished runs are looked for (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--skip-done", action="store_true", help="leave out runs that already finished")
    parser.add_argument("--extra", default="", help="options appended to every train command, e.g. '--quiet'")
    args = parser.parse_args(argv)
    if args.gpus < 0:
        parser.error("--gpus must be 0 (no prefix) or more")
    runs = planned_runs(args.table)
    finished_runs = finished(Path(args.runs_root))
    lines = []
    for row, fold in runs:
        done = (row, fold) in finished_runs
        if done and args.skip_done:
            continue
        lines.append((f"python -m reproductions.transfer_ensemble.train --row {shlex.quote(row)} --fold {fold} "
                      f"--data-dir {shlex.quote(args.data_dir)}" + (f" {args.extra}" if args.extra else ""), done))
    ensemble = f"python -m reproductions.transfer_ensemble.ensemble --data-dir {shlex.quote(args.data_dir)}"
    if args.gpus:
        print(gpu_script(lines, args.gpus, ensemble))
    else:
        for line, done in lines:
            print(line + ("  # done" if done else ""))
        print(f"# then: {ensemble}")
    print(f"# {len(runs)} runs planned, {len(lines)} printed", file=sys.stderr)
    return 0


def gpu_script(lines: list[tuple[str, bool]], gpus: int, after: str) -> str:
    """A shell script running ``lines`` on ``gpus`` GPUs, one run per GPU at a time: GPU ``k`` takes
    every ``gpus``-th run (round-robin) and runs them one after another in its own background
    queue; finished runs stay in as comments; ``after`` runs once every queue is done."""
    out = ["#!/usr/bin/env bash",
           f"# {len(lines)} runs on {gpus} GPUs, one run per GPU at a time (pipe this into bash)"]
    for k in range(gpus):
        queue = lines[k::gpus]
        out += ["", f"# GPU {k}: {len(queue)} runs, one after another", "("]
        out += [f"  {'# done: ' if done else ''}CUDA_VISIBLE_DEVICES={k} {line}" for line, done in queue]
        out += ["  true", ") &"]
    out += ["", "wait", after]
    return "\n".join(out)

if __name__ == "__main__":
    raise SystemExit(main())
