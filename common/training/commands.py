"""``train`` for any paper package (``evaluate`` is in :mod:`common.training.evaluation`,
``predict`` in :mod:`common.training.prediction`).

Each paper's ``train.py`` calls :func:`train_main` with its :class:`~common.training.paper.Paper`,
so every paper behaves the same way.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Sequence

from common.config import ConfigError, image_hw
from common.training.arguments import add_common_train_arguments
from common.training.dataset import show_bars
from common.training.paper import Paper
from common.training import records
from common.training.fit import Options, train
from common.training.records import os_error_message
from common.training.spec import RunSpec, check_resume, specs_from_args


# -- train ---------------------------------------------------------------------------------------

def _rows_epilog(paper: Paper) -> str:
    """The rows with what each trains by default, and the quick settings of the synthetic data."""
    lines = ["rows (epochs, batch size, image size HxW and split each row uses on real data):"]
    for name, cfg in paper.rows.items():
        h, w = image_hw(cfg)
        mark = " (default)" if name == paper.default_row else ""
        lines.append(f'  "{name}"{mark}: {cfg.epochs} epochs, batch {cfg.batch_size}, {h}x{w}, '
                     f"split {getattr(cfg, 'split', '-')}")
    if paper.synthetic_defaults:
        quick = ", ".join(f"{k} {'x'.join(map(str, v)) if isinstance(v, tuple) else v}"
                          for k, v in paper.synthetic_defaults.items())
        lines += ["", f"without --data-dir (the embedded synthetic data) the quick settings apply: {quick};",
                  "options given on the command line still win."]
    lines += ["", "examples:",
              f"  python -m reproductions.{paper.name}.train",
              f'  python -m reproductions.{paper.name}.train --data-dir ~/data/isic2018 --row "{paper.default_row}"',
              f"  python -m reproductions.{paper.name}.train --resume --run-dir runs/{paper.name}/<row>/<run>"]
    return "\n".join(lines)


def train_parser(paper: Paper) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{paper.name}.train",
        description=f"Train one table row of {paper.title}. Without arguments it trains the default row "
                    f"on the embedded synthetic data and prints the metrics and the run folder.",
        epilog=_rows_epilog(paper), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_train_arguments(parser, default_row=paper.default_row, rows=paper.rows,
                               weights_choices=" | ".join(paper.weights_choices))
    return parser


class _Progress:
    """Where the run stands, for the message printed when the user interrupts it."""

    run_dir: Path | None = None


def train_main(paper: Paper, argv: Sequence[str] | None = None) -> list[Path]:
    """Parse the command line and train; returns the run folder(s)."""
    parser = train_parser(paper)
    args = parser.parse_args(argv)
    # what the record says was run: this command's own arguments (also when another program, such
    # as the comparison suites, calls it with its own argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    records.git_info()          # the tree as it is now, when the code that will run was imported
    from common.quiet import import_backend

    exact = not (args.fast or _recorded_fast(args))
    from common.training.determinism import configure_xla

    configure_xla(exact)                 # JAX reads XLA_FLAGS when it starts
    import_backend(verbose=args.verbose, exact=exact)
    where = _Progress()
    try:
        return _train(paper, args, where)
    except KeyboardInterrupt:
        parser.exit(130, _interrupted_message(paper, where.run_dir))
    except (ConfigError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    except Exception as exc:  # noqa: BLE001 - data errors and divergence get a clean message
        from common.training.loop import TrainingDiverged

        name = type(exc).__name__
        if name == "DataError" or isinstance(exc, TrainingDiverged):
            parser.exit(1, f"error: {exc}\n")
        if isinstance(exc, OSError):
            parser.exit(1, f"error: {os_error_message(exc)}\n")
        from common.training.memory import is_out_of_memory

        if is_out_of_memory(exc):
            parser.exit(1, f"error: out of device memory training {paper.name} row {args.row or paper.default_row!r} "
                           f"at batch {args.batch_size or 'the row default'}. Give a smaller --batch-size (the "
                           "--dry-run of the same command reports the largest batch that fits); "
                           + (f"continue with --resume --run-dir {where.run_dir}" if where.run_dir else
                              "nothing was kept") + "\n")
        raise


def _recorded_fast(args) -> bool:
    """``--resume --run-dir RUN`` of a run started with ``--fast``: it continues fast."""
    record = Path(args.run_dir or "") / "config.json"
    if not (args.resume and args.run_dir and record.exists()):
        return False
    try:
        return records.load_json(record).get("exact") is False
    except Exception:  # noqa: BLE001 - a damaged record is reported, with its fix, when the run is opened
        return False


def _interrupted_message(paper, run_dir: Path | None) -> str:
    if run_dir is None or not (run_dir / "config.json").exists():
        return "\ninterrupted before training started; nothing to resume.\n"
    state = records.load_json(run_dir / "state.json") if (run_dir / "state.json").exists() else {}
    done, total = state.get("epochs_done", 0), state.get("epochs", "?")
    return (f"\ninterrupted after epoch {done} of {total}; {run_dir} is kept. Continue it with:\n"
            f"  python -m reproductions.{paper.name}.train --resume --run-dir {run_dir}\n")


def _train(paper, args, where: _Progress | None = None) -> list[Path]:
    """The command line as run specifications (one per fold), each trained in its run folder."""
    where = where or _Progress()
    if args.finish and not args.resume:
        raise ConfigError("--finish stops an existing run: use it with --resume")
    if args.dry_run and args.resume:
        raise ConfigError("--dry-run checks a new run's settings; it does not combine with --resume")
    specs = specs_from_args(paper, args)
    precision = _configure_scale(specs[0])
    options = Options(progress=show_bars(args), cache_dir=args.cache_dir, finish=args.finish,
                      dry_run=args.dry_run)
    out = []
    for spec in specs:
        spec = dataclasses.replace(spec, precision=precision)   # "mixed" recorded as what it resolved to
        out.append(_train_one(paper, spec, args, options, where))
        if args.dry_run:
            return []                   # one fold shows what every fold would do
    if len(out) > 1:
        print("fold runs:\n" + "\n".join(str(p) for p in out))
    return out


def _configure_scale(spec: RunSpec) -> str:
    """--devices / --precision / --jit (and a multi-process JAX run), set up before anything is
    built; returns the precision it resolved to."""
    from common.training import scale

    scale.reset()
    try:
        chosen = scale.configure(spec.devices, spec.precision, spec.jit, batch_size=spec.config.batch_size,
                                 coordinator=spec.coordinator, num_processes=spec.num_processes,
                                 process_id=spec.process_id, accumulate=spec.accumulate)
    except scale.ScaleError as exc:
        raise ConfigError(str(exc)) from None
    info = records.device_info()                   # also in the record's provenance ("hardware")
    extra = f"; {scale.describe(chosen)}" if chosen.devices > 1 or chosen.mixed or chosen.jit else ""
    print(f"device: {info['hardware']} ({info['backend']}){extra}", file=sys.stderr)
    hint = records.gpu_install_hint(info)
    if hint:
        print(f"warning: {hint}", file=sys.stderr)
    return chosen.precision


def _train_one(paper, spec: RunSpec, args, options: Options, where: _Progress) -> Path | None:
    from common.training.determinism import seed_everything

    seed_everything(spec.seed, spec.exact)   # Python, NumPy and the backend; TensorFlow's kernels exact
    if spec.dataset == "auto":
        # name run folders after the dataset found, not "auto"
        from common.data import load_index

        spec = dataclasses.replace(spec, dataset=load_index("auto", spec.data_dir).name)
    if options.dry_run:
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="dry-run-"))
        try:
            return train(paper, spec, run_dir, {}, resume=False, options=options)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
    run_dir, resume = _run_folder(paper, spec, args)
    where.run_dir = run_dir
    record = spec.record("python -m reproductions.%s.train %s" % (paper.name, shlex.join(args.command_line)))
    if resume:
        saved = records.load_json(run_dir / "config.json")
        check_resume(saved, record, run_dir)
        if saved.get("scale") != json.loads(json.dumps(record["scale"])):
            # devices and XLA may change between sessions; the record keeps each segment's
            saved.setdefault("resumed_with_scale", []).append(record["scale"])
        record = saved
    else:
        record["provenance"] = records.provenance()
        if record["provenance"].get("git", {}).get("dirty"):
            # the tree had changes beyond its commit: keep them, so the run folder reproduces the run
            record["provenance"]["git"]["patch"] = records.save_patch(run_dir)
    try:
        return train(paper, spec, run_dir, record, resume=resume, options=options)
    except BaseException:
        # A new run that failed before its first epoch leaves no folder behind.
        if not resume and not (run_dir / "checkpoints").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            where.run_dir = None
        raise


def _run_folder(paper, spec: RunSpec, args) -> tuple[Path, bool]:
    """The run's folder (``--run-dir``, the latest run with ``--resume``, or a new one), and whether
    the run continues there."""
    from common.training import scale

    tag = spec.dataset if spec.fold is None else f"{spec.dataset}-fold{spec.fold}"
    resume = args.resume
    if args.run_dir:
        run_dir = Path(args.run_dir)
        if resume and not (run_dir / "config.json").exists():
            raise ConfigError(f"--resume: {run_dir} holds no run (config.json missing)")
        if not resume and run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"{run_dir} already holds files; use --resume to continue it or another --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
    elif resume:
        run_dir = records.latest_run_dir(args.runs_root, paper.name, spec.row, tag)
        if run_dir is None:
            print(f"--resume: no earlier run of {spec.row!r} on {tag}; starting a new one.", file=sys.stderr)
            run_dir, resume = records.new_run_dir(args.runs_root, paper.name, spec.row, tag), False
    else:
        run_dir = records.new_run_dir(args.runs_root, paper.name, spec.row, tag)
    if scale.current().process_id:
        # a multi-process run: process 0 keeps the run folder; the others (same weights) their own
        ours = run_dir.with_name(f"{run_dir.name}-process{scale.current().process_id}")
        if not args.run_dir and not resume and not any(run_dir.iterdir()):
            run_dir.rmdir()              # the fresh folder made above: process 0 makes its own
        run_dir = ours
        run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir, resume
