"""``train`` for any paper package (``evaluate`` is in :mod:`common.training.evaluation`,
``predict`` in :mod:`common.training.prediction`).

Each paper's ``train.py`` calls :func:`train_main` with its :class:`~common.training.experiment.Paper`,
so every paper behaves the same way.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Sequence

from common.cli import ConfigError, add_common_train_arguments, row_name
from common.training import experiment as ex
from common.training import records
from common.training.records import os_error_message
from common.training.scoring import print_scores, split_targets, tuned_postprocess


# -- train ---------------------------------------------------------------------------------------

def _weights(paper: ex.Paper, value: str | None, cfg) -> str | None:
    if value is None:
        value = getattr(cfg, "encoder_weights", None) or "none"
    if value.lower() == "none":
        return None
    if "imagenet" not in paper.weights_choices and "PATH" not in paper.weights_choices:
        raise ConfigError(f"{paper.name} trains every layer from scratch: --encoder-weights accepts only none")
    if value.lower() == "imagenet":
        return "imagenet"
    if not Path(value).exists():
        raise ConfigError(f"--encoder-weights {value}: no such file (use imagenet, none or a weights file)")
    return value


def _seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend; TensorFlow's graphs compute the same way each run."""
    from common.training.determinism import seed_everything

    seed_everything(seed)


def _rows_epilog(paper: ex.Paper) -> str:
    """The rows with what each trains by default, and the quick settings of the synthetic data."""
    lines = ["rows (epochs, batch size, image size HxW and split each row uses on real data):"]
    for name, cfg in paper.rows.items():
        h, w = ex.image_hw(cfg)
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


def train_parser(paper: ex.Paper) -> argparse.ArgumentParser:
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


def train_main(paper: ex.Paper, argv: Sequence[str] | None = None) -> list[Path]:
    """Parse the command line and train; returns the run folder(s)."""
    parser = train_parser(paper)
    args = parser.parse_args(argv)
    records.git_info()          # the tree as it is now, when the code that will run was imported
    from common.quiet import import_backend

    import_backend(verbose=args.verbose)
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


def _interrupted_message(paper, run_dir: Path | None) -> str:
    if run_dir is None or not (run_dir / "config.json").exists():
        return "\ninterrupted before training started; nothing to resume.\n"
    state = records.load_json(run_dir / "state.json") if (run_dir / "state.json").exists() else {}
    done, total = state.get("epochs_done", 0), state.get("epochs", "?")
    return (f"\ninterrupted after epoch {done} of {total}; {run_dir} is kept. Continue it with:\n"
            f"  python -m reproductions.{paper.name}.train --resume --run-dir {run_dir}\n")


def _folds(args, cfg) -> list[int | None]:
    spec = getattr(cfg, "split", "")
    k = ex.fold_count(spec)
    if k is None:
        if args.fold not in (None, "0"):
            raise ConfigError(f"--fold applies to k-fold splits; this row's split is {spec!r}")
        return [None]
    if args.fold in (None, "all"):
        return list(range(k)) if args.fold == "all" else [0]
    try:
        fold = int(args.fold)
    except ValueError:
        raise ConfigError(f"--fold {args.fold}: choose 0..{k - 1} or all") from None
    if not 0 <= fold < k:
        raise ConfigError(f"--fold {fold}: choose 0..{k - 1} or all")
    return [fold]


#: Options ``--resume --run-dir RUN`` takes from RUN's config.json when they are not given.
_RECORDED_OPTIONS = ("row", "data_dir", "dataset", "seed", "limit", "synthetic_size", "encoder_weights",
                     "bn_recalibrate", "precision")


#: What a record written before an option existed means by leaving it out.
_RECORD_DEFAULTS = {"bn_recalibrate": 0, "precision": "float32"}


def _from_record(paper, args):
    """With ``--resume --run-dir RUN``: the run's recorded config, and the options it was started
    with filled into ``args`` where the command line left them out."""
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").exists():
        raise ConfigError(f"--resume: {run_dir} holds no run (config.json missing)")
    saved = records.load_json(run_dir / "config.json")
    if saved.get("paper") not in (None, paper.name):
        raise ConfigError(f"--resume: {run_dir} is a {saved['paper']} run, not {paper.name}")
    for option in _RECORDED_OPTIONS:
        if getattr(args, option) is None and saved.get(option) is not None:
            setattr(args, option, saved[option])
    if args.fold is None and saved.get("fold") is not None:
        args.fold = str(saved["fold"])
    if args.skip_bad is False and saved.get("skip_bad"):
        args.skip_bad = True
    row = row_name(paper.rows, args.row)
    cfg_class = type(paper.rows[row])
    try:
        recorded = ex.config_from_dict(cfg_class, saved["config"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--resume: {run_dir}/config.json does not hold a {cfg_class.__name__} ({exc})") from exc
    return row, recorded


def _train(paper, args, where: _Progress | None = None) -> list[Path]:
    where = where or _Progress()
    if args.finish and not args.resume:
        raise ConfigError("--finish stops an existing run: use it with --resume")
    if args.dry_run and args.resume:
        raise ConfigError("--dry-run checks a new run's settings; it does not combine with --resume")
    from_record = bool(args.resume and args.run_dir)
    if from_record:
        row, base = _from_record(paper, args)       # the recorded config, quick settings included
    else:
        quick = not args.row and not args.data_dir and (args.dataset or "synthetic") == "synthetic"
        if quick and paper.quick_row:
            print(paper.quick_note, file=sys.stderr)
        row = row_name(paper.rows, args.row or (paper.quick_row if quick and paper.quick_row else paper.default_row))
        base = paper.rows[row]
    if args.seed is None:
        args.seed = 0
    if not 0 <= args.seed < 2 ** 32:
        raise ConfigError(f"--seed {args.seed}: give a whole number from 0 to {2 ** 32 - 1}")
    if args.bn_recalibrate is None:
        args.bn_recalibrate = 0
    if args.bn_recalibrate < 0:
        raise ConfigError(f"--bn-recalibrate {args.bn_recalibrate}: give a number of batches >= 1, or 0 for off")
    dataset = args.dataset or ("auto" if args.data_dir else "synthetic")
    if not from_record and dataset == "synthetic" and paper.synthetic_defaults:
        # A quick schedule on the embedded data; explicit options and --set still win.
        quick = {k: v for k, v in paper.synthetic_defaults.items() if k in {f.name for f in dataclasses.fields(base)}}
        base = dataclasses.replace(base, **quick)
        if args.synthetic_size is None:
            args.synthetic_size = paper.synthetic_defaults.get("synthetic_size")
        shown = {**quick, **({"synthetic_size": args.synthetic_size} if args.synthetic_size else {})}
        print(f"synthetic data: quick defaults {shown} (override with --epochs/--set)", file=sys.stderr)
    cfg = ex.resolve_config(base, args)
    _check_image_size(paper, cfg)
    _configure_scale(args, cfg)
    weights = _weights(paper, args.encoder_weights, cfg)
    folds = _folds(args, cfg)
    if args.run_dir and len(folds) > 1:
        raise ConfigError("--run-dir names one run; with --fold all each fold gets its own folder")
    out = []
    for fold in folds:
        out.append(_train_one(paper, args, row, cfg, weights, dataset, fold, where))
        if args.dry_run:
            return []                   # one fold shows what every fold would do
    if len(out) > 1:
        print("fold runs:\n" + "\n".join(str(p) for p in out))
    return out


def _configure_scale(args, cfg) -> None:
    """--devices / --precision / --jit (and a multi-process JAX run): set up before anything is built."""
    from common.training import scale

    if getattr(args, "precision", None) is None:
        args.precision = "float32"
    scale.reset()
    try:
        chosen = scale.configure(getattr(args, "devices", None) or 1, args.precision, bool(getattr(args, "jit", False)),
                                 batch_size=getattr(cfg, "batch_size", None),
                                 coordinator=getattr(args, "coordinator", None),
                                 num_processes=getattr(args, "num_processes", None),
                                 process_id=getattr(args, "process_id", None))
    except scale.ScaleError as exc:
        raise ConfigError(str(exc)) from None
    args.precision = chosen.precision              # "mixed" recorded as what it resolved to
    info = records.device_info()                   # also in the record's provenance ("hardware")
    extra = f"; {scale.describe(chosen)}" if chosen.devices > 1 or chosen.mixed or chosen.jit else ""
    print(f"device: {info['hardware']} ({info['backend']}){extra}", file=sys.stderr)
    hint = records.gpu_install_hint(info)
    if hint:
        print(f"warning: {hint}", file=sys.stderr)


def _check_image_size(paper, cfg) -> None:
    multiple = paper.size_multiple(cfg) if callable(paper.size_multiple) else int(paper.size_multiple)
    h, w = ex.image_hw(cfg)
    if h % multiple or w % multiple:
        def near(v):
            low = max(multiple, v - v % multiple)
            return f"{low} or {low + multiple}" if v % multiple else str(v)

        raise ConfigError(f"image size {h}x{w}: both sides must be multiples of {multiple} for this "
                          f"row (its network halves the resolution {multiple.bit_length() - 1} times); "
                          f"e.g. {near(h)} for {h}" + (f", {near(w)} for {w}" if w != h else ""))


def _train_one(paper, args, row, cfg, weights, dataset, fold, where: _Progress) -> Path:
    _seed_everything(args.seed)
    if dataset == "auto":
        # name run folders after the dataset found, not "auto"
        from common.data import load_index

        dataset = load_index("auto", args.data_dir).name
        args.dataset = dataset
    tag = dataset if fold is None else f"{dataset}-fold{fold}"
    resume = args.resume
    if args.dry_run:
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="dry-run-"))
        try:
            record = {"paper": paper.name, "row": row, "config": cfg}
            _fit_and_score(paper, args, row, cfg, weights, fold, run_dir, record, False)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        return None
    if args.run_dir:
        run_dir = Path(args.run_dir)
        if resume and not (run_dir / "config.json").exists():
            raise ConfigError(f"--resume: {run_dir} holds no run (config.json missing)")
        if not resume and run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"{run_dir} already holds files; use --resume to continue it or another --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
    elif resume:
        run_dir = records.latest_run_dir(args.runs_root, paper.name, row, tag)
        if run_dir is None:
            print(f"--resume: no earlier run of {row!r} on {tag}; starting a new one.", file=sys.stderr)
            run_dir, resume = records.new_run_dir(args.runs_root, paper.name, row, tag), False
    else:
        run_dir = records.new_run_dir(args.runs_root, paper.name, row, tag)
    from common.training import scale

    if scale.current().process_id:
        # a multi-process run: process 0 keeps the run folder; the others (same weights) their own
        ours = run_dir.with_name(f"{run_dir.name}-process{scale.current().process_id}")
        if not args.run_dir and not resume and not any(run_dir.iterdir()):
            run_dir.rmdir()              # the fresh folder made above: process 0 makes its own
        run_dir = ours
        run_dir.mkdir(parents=True, exist_ok=True)
    where.run_dir = run_dir

    record = {
        "paper": paper.name, "row": row, "config": cfg, "config_class": type(cfg).__name__,
        "dataset": dataset, "data_dir": os.path.abspath(args.data_dir) if args.data_dir else None,
        "split_spec": getattr(cfg, "split", None), "fold": fold, "seed": args.seed,
        "encoder_weights": weights or "none", "limit": args.limit, "synthetic_size": args.synthetic_size,
        "skip_bad": bool(args.skip_bad), "bn_recalibrate": int(args.bn_recalibrate),
        "precision": getattr(args, "precision", None) or "float32", "scale": _scale_record(),
        "command": "python -m reproductions.%s.train %s" % (paper.name, " ".join(sys.argv[1:])),
    }
    if resume:
        saved = records.load_json(run_dir / "config.json")
        mine = json.loads(json.dumps(records._jsonable(record)))
        for key in ("row", "config", "dataset", "data_dir", "fold", "seed", "split_spec", "encoder_weights",
                    "limit", "bn_recalibrate", "precision"):
            if saved.get(key, _RECORD_DEFAULTS.get(key)) != mine.get(key):
                raise ConfigError(f"--resume: {run_dir} was started with {key}={_describe(saved.get(key), mine.get(key))}; "
                                  f"leave the option out (resume takes the recorded value) or give the same one")
        if saved.get("scale") != mine.get("scale"):
            # devices and XLA may change between sessions; the record keeps each segment's
            resumed = saved.setdefault("resumed_with_scale", [])
            resumed.append(mine.get("scale"))
            records.atomic_write_json(run_dir / "config.json", saved)
        record = saved
    else:
        record["provenance"] = records.provenance()
        if record["provenance"].get("git", {}).get("dirty"):
            # the tree had changes beyond its commit: keep them, so the run folder reproduces the run
            record["provenance"]["git"]["patch"] = records.save_patch(run_dir)
        records.atomic_write_json(run_dir / "config.json", record)

    try:
        return _fit_and_score(paper, args, row, cfg, weights, fold, run_dir, record, resume)
    except BaseException:
        # A new run that failed before its first epoch leaves no folder behind.
        if not resume and not (run_dir / "checkpoints").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            where.run_dir = None
        raise


def _scale_record() -> dict:
    from common.training import scale

    return scale.current().record()


def _describe(saved, mine) -> str:
    """``{'epochs': 8} ... not {'epochs': 7}`` shortened to the fields that differ."""
    if isinstance(saved, dict) and isinstance(mine, dict):
        keys = [k for k in sorted(set(saved) | set(mine)) if saved.get(k) != mine.get(k)]
        return (", ".join(f"{k}={saved.get(k)!r}" for k in keys) + ", not "
                + ", ".join(f"{k}={mine.get(k)!r}" for k in keys))
    return f"{saved!r}, not {mine!r}"


def _fit_and_score(paper, args, row, cfg, weights, fold, run_dir, record, resume) -> Path:
    from common.data.splits import save_split
    from common.training.loop import train_loop

    from common.training import fields

    cfg = fields.tracked(cfg)            # which fields the run reads: --set on any other is refused
    task = paper.task_for(cfg)
    from common.data.splits import load_split

    # A resumed run keeps the split it started with, whatever the folder holds now.
    fixed = load_split(run_dir / "split.json") if resume and (run_dir / "split.json").exists() else None
    data = ex.prepare_data(args, cfg, seed=args.seed, fold=fold, fallback=paper.fallback_split,
                           index_options=task.index_options(), subset=paper.subset, fixed_split=fixed)
    record["dataset"] = data.index.name
    row_data = getattr(cfg, "dataset", None)          # the data the paper ran this row on
    if row_data and data.index.name != row_data:
        print(f"note: row {row!r} is set up for {row_data}; this run is on "
              f"{data.index.name}, so the results tables list it under other data, not in the "
              "paper's row", file=sys.stderr)
    changed = False
    if data.skipped and record.get("skipped") != data.skipped:
        record["skipped"] = data.skipped          # --skip-bad: which files were left out, and why
        changed = True
    for key, value in task.check_data(data.index, data.split, cfg).items():
        if record.get(key) != value:
            record[key] = value          # e.g. the classes trained on (predict's CSV columns)
            changed = True
    if changed:
        records.atomic_write_json(run_dir / "config.json", record)
    save_split(run_dir / "split.json", data.split)
    targets = split_targets(task, data)
    x_train, y_train = data.arrays["train"][0], targets["train"]
    if y_train is None:
        raise ConfigError(f"{data.index.name}: the training images have no ground truth for a "
                          f"{task.kind} row")
    keep = task.select_training(y_train, args.seed, cfg)
    if keep is not None:
        x_train, y_train = x_train[keep], y_train[keep]
        print(f"training on {len(keep)} of {len(data.split['train'])} training images "
              f"(the row keeps a share of those without the attribute)", file=sys.stderr)
        subset = [data.split["train"][int(i)] for i in keep]   # which ones: recorded with the run
        if record.get("training_subset") != subset:
            record["training_subset"] = subset
            records.atomic_write_json(run_dir / "config.json", record)
    if cfg.batch_size > len(x_train):
        asked = args.batch_size is not None or "batch_size" in [_override_key(o) for o in args.overrides]
        if asked:
            raise ConfigError(f"batch size {cfg.batch_size} is larger than the training part ({len(x_train)} "
                              f"images): give --batch-size {len(x_train)} or less, or use more training images")
        # the row's default on a tiny dataset: each epoch is one batch of every training image, and
        # the record says so (a table must not show the row's batch for it)
        print(f"note: the row's batch size {cfg.batch_size} is larger than the training part ({len(x_train)} "
              f"images): each epoch is one batch of {len(x_train)} (recorded)", file=sys.stderr)
        if record.get("batch_size_ran") != len(x_train) and not args.dry_run:
            record["batch_size_ran"] = len(x_train)
            records.atomic_write_json(run_dir / "config.json", record)
    if paper.offline_expand is not None and getattr(cfg, "augmentation", "") == "offline":
        x_train, y_train = paper.offline_expand(cfg, x_train, y_train, args.seed)
    augment = paper.augment(cfg) if paper.augment is not None else None
    batches = task.batches(x_train, y_train, cfg, seed=args.seed, augment=augment, shuffle=True,
                           drop_remainder=len(x_train) >= cfg.batch_size)
    from common.training import scale

    with scale.current().scope():        # TensorFlow, several devices: models and optimizers mirrored
        parts = _build_training(paper, cfg, weights, steps_per_epoch=len(batches))
    predict = ex.predictor_for(parts.predictor, cfg, task)
    loss_fn = parts.loss or getattr(parts.step, "loss_fn", None)
    batch = max(cfg.batch_size, 8)

    val = data.arrays.get("val")
    has_val = val is not None and targets.get("val") is not None
    monitors = list(task.monitors) if has_val else list(task.monitors[:1])
    wanted = [m.metric for m in monitors]
    bn_batches = int(record.get("bn_recalibrate") or 0)

    def recalibrate():
        if bn_batches:
            from common.training.bn import recalibrate_batchnorm

            recalibrate_batchnorm(parts.predictor, batches, bn_batches)
            parts.step.refresh()        # JAX: the step carries the recomputed statistics on

    def validate():
        recalibrate()
        outputs = predict(val[0], batch_size=batch)
        return task.validation(outputs, targets["val"], data.samples["val"], loss_fn=loss_fn, wanted=wanted)

    task.postprocess(cfg)                # scoring's settings (threshold, ...) are read now, not at the end
    given = [_override_key(o) for o in args.overrides]

    def first_step_done():
        """After the first update (the step is traced by then, so every field it needs was read):
        refuse --set fields nothing read, and record which fields this row leaves unused."""
        fields.check_overrides_used(cfg, given, row)
        unused = fields.unused(cfg)
        if record.get("unused_fields") != unused and not args.dry_run:
            record["unused_fields"] = unused
            records.atomic_write_json(run_dir / "config.json", record)

    step = _FirstStepHook(parts.step, first_step_done)
    if args.dry_run:
        return _dry_run(paper, row, cfg, data, batches, parts, step, fields)

    print(f"Training {paper.name} row {row!r} on {data.index.name} "
          f"({', '.join(f'{k} {len(v)}' for k, v in data.split.items())}) for {cfg.epochs} epochs at "
          f"{ex.image_hw(cfg)[0]}x{ex.image_hw(cfg)[1]}; run folder {run_dir}", file=sys.stderr)
    history = train_loop(run_dir, step=step, train_batches=batches, epochs=cfg.epochs,
                         validate=validate if has_val else None, models=parts.models,
                         optimizers=parts.optimizers, best_model=parts.predictor,
                         monitors=monitors, resume=resume,
                         progress=ex.show_bars(args), finish=args.finish)

    from common.training.tasks import checkpoint_file

    by_checkpoint, details, posts = {}, {}, {}
    for monitor in monitors:
        parts.predictor.load_weights(str(run_dir / "checkpoints" / checkpoint_file(monitors, monitor.name)))
        if not has_val:
            recalibrate()               # with validation, the kept weights were recalibrated
        outputs = {name: predict(data.arrays[name][0], batch_size=batch)
                   for name in ("val", "test") if targets.get(name) is not None}
        post = tuned_postprocess(task, task.postprocess(cfg), outputs.get("val"), targets.get("val"))
        posts[monitor.name] = post.to_dict()
        by_checkpoint[monitor.name], details[monitor.name] = {}, {}
        for split_name, out in outputs.items():
            scored = task.score(data.samples[split_name], out, targets[split_name], native=True, post=post,
                                classes=data.index.classes)
            by_checkpoint[monitor.name][split_name] = scored.mean
            if scored.extra:
                details[monitor.name][split_name] = scored.extra
            suffix = "" if monitor is monitors[0] else f"_{monitor.name}"
            records.write_csv(run_dir / f"per_image_{split_name}{suffix}.csv", scored.per_image)
    main = monitors[0].name
    metrics = {
        "paper": paper.name, "row": row, "task": task.kind, "dataset": data.index.name, "fold": fold,
        "split": {k: len(v) for k, v in data.split.items()}, "split_spec": data.spec,
        "epochs": cfg.epochs, "epochs_done": len(history), "stopped_early": len(history) < cfg.epochs,
        "image_size": list(ex.image_hw(cfg)),
        "encoder_weights": weights or "none", "seed": args.seed, "bn_recalibrate": bn_batches,
        "scale": _scale_record(),
        "scores": by_checkpoint[main],
        "checkpoint": main,
        "provenance": record.get("provenance", {}),
        "scored_at": "native image size" if data.index.name != "synthetic" else "generated size",
    }
    if getattr(task, "name", None) and task.kind == "attributes":
        metrics["attribute"] = task.name
    if len(monitors) > 1 or len(task.monitors) > 1:
        metrics["checkpoints"] = {m.name: {"metric": m.metric, "mode": m.mode, "scores": by_checkpoint[m.name]}
                                  for m in monitors}
    if any(details.values()):
        metrics["details"] = details[main]
        if len(monitors) > 1:
            metrics["checkpoints_details"] = details
    if posts[main].get("kind") != "threshold":
        metrics["postprocess"] = posts[main] if len(monitors) == 1 else posts
    records.atomic_write_json(run_dir / "metrics.json", metrics)
    print_scores(by_checkpoint, run_dir, task.metrics, main)
    return run_dir


class _FirstStepHook:
    """The run's step; calls ``hook()`` once, right after the first update."""

    def __init__(self, step, hook):
        self._step, self._hook = step, hook

    def __call__(self, x, y):
        logs = self._step(x, y)
        if self._hook is not None:
            hook, self._hook = self._hook, None
            hook()
        return logs

    def __getattr__(self, name):
        return getattr(self._step, name)


def _override_key(item: str) -> str:
    return item.split("=", 1)[0].strip()


def _dry_run(paper, row, cfg, data, batches, parts, step, fields) -> None:
    """``--dry-run``: everything a run sets up, one update on the first batch to check it, a summary;
    nothing is kept."""
    import numpy as np

    from common.training import memory

    import time

    x, y = batches[0]
    logs, before, peak = memory.measure(lambda: step(x, y))
    start = time.perf_counter()             # a second update, compiled by now: the step's time
    step(x, y)
    step.sync()
    seconds = time.perf_counter() - start
    params = sum(int(np.prod(w.shape)) for w in parts.predictor.weights)
    h, w = ex.image_hw(cfg)
    print(f"dry run of {paper.name} row {row!r}: one update on a batch of {len(x)} went through "
          f"({', '.join(f'{k} {float(v):.4f}' for k, v in logs.items())})")
    print(f"  data: {data.index.name}, split {data.spec}: "
          + ", ".join(f"{k} {len(v)}" for k, v in data.split.items()))
    print(f"  {cfg.epochs} epochs of {len(batches)} batches of {cfg.batch_size} at {h}x{w}; "
          f"predictor {params:,} weights")
    for line in memory.report(len(x), before, peak):
        print(line)
    print(f"  time of one update after compilation: {seconds:.3f} s ({len(x) / seconds:.1f} images/s)")
    print("  fields read: " + ", ".join(sorted(fields.reads(cfg))))
    unused = fields.unused(cfg)
    print("  fields this row does not use: " + (", ".join(unused) if unused else "(none)"))
    return None


def _build_training(paper, cfg, weights, **context):
    """``paper.build_training(cfg, weights)``, plus those of ``context`` (``steps_per_epoch``: the
    number of optimizer updates per epoch, e.g. for a schedule over the run) it declares."""
    import inspect

    params = inspect.signature(paper.build_training).parameters
    wanted = {k: v for k, v in context.items() if k in params}
    return paper.build_training(cfg, weights, **wanted)
