"""Training one run as plain phases over its :class:`~common.training.spec.RunSpec`: prepare the
data, build the training parts, fit, score.

The record (``config.json``) is written once when the data is prepared (with what the data adds:
the dataset found, the classes, files left out) and completed once at the end; ``metrics.json`` is
written once, by :func:`score`. The row's :class:`~common.training.tasks.Task` owns every difference
between lesion masks, attribute masks and classes: nothing here asks which kind of task it runs.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config import ConfigError, image_hw
from common.training.dataset import PreparedData, prepare_data
from common.training.inference import predictor_for
from common.training.paper import Paper
from common.training import fields, records
from common.training.scoring import print_scores, split_targets, tuned_postprocess
from common.training.spec import RunSpec


@dataclass(frozen=True)
class Options:
    """How this invocation acts on the run, beyond what the run computes (not recorded)."""

    progress: bool = False          # progress bars
    cache_dir: str | None = None    # decoded-image cache
    finish: bool = False            # stop a resumed run now and score it
    dry_run: bool = False           # one update and a summary; nothing kept


@dataclass
class Prepared:
    """The data of one run: the split's arrays, each part's targets, and the training part."""

    data: PreparedData
    targets: dict
    x_train: Any
    y_train: Any
    facts: dict                     # what the record keeps of the data


def train(paper: Paper, spec: RunSpec, run_dir: Path, record: dict, *, resume: bool,
          options: Options) -> Path | None:
    """All phases of one run in ``run_dir``; returns it (``None`` for a dry run)."""
    cfg = fields.tracked(spec.config)        # which fields the run reads: --set on any other is refused
    task = paper.task_for(cfg)
    prepared = prepare(paper, spec, cfg, task, run_dir, resume, options)
    if not options.dry_run:
        record.update(prepared.facts)
        records.atomic_write_json(run_dir / "config.json", record)
    parts, batches = build(paper, spec, cfg, task, prepared)
    step = FirstStepHook(parts.step, lambda: fields.check_overrides_used(cfg, spec.overrides, spec.row))
    if options.dry_run:
        from common.training.memory import dry_run_report

        dry_run_report(paper, spec.row, cfg, prepared.data, batches, parts, step, spec.accumulate)
        return None
    monitors, history = fit(paper, spec, cfg, task, prepared, parts, batches, step, run_dir, resume, options)
    record["unused_fields"] = fields.unused(cfg)     # every field the step needs was read by now
    records.atomic_write_json(run_dir / "config.json", record)
    score(paper, spec, cfg, task, prepared, parts, batches, monitors, history, run_dir, record)
    return run_dir


# -- phases ----------------------------------------------------------------------------------------

def prepare(paper, spec: RunSpec, cfg, task, run_dir: Path, resume: bool, options: Options) -> Prepared:
    """Load, split and decode the data; the training part as the row trains on it."""
    from common.data.splits import load_split, save_split

    # A resumed run keeps the split it started with, whatever the folder holds now.
    fixed = load_split(run_dir / "split.json") if resume and (run_dir / "split.json").exists() else None
    data = prepare_data(spec, cfg, fallback=paper.fallback_split, index_options=task.index_options(),
                           subset=paper.subset, fixed_split=fixed, cache_dir=options.cache_dir,
                           progress=options.progress)
    facts: dict = {"dataset": data.index.name}
    row_data = getattr(cfg, "dataset", None)          # the data the paper ran this row on
    if row_data and data.index.name != row_data:
        print(f"note: row {spec.row!r} is set up for {row_data}; this run is on "
              f"{data.index.name}, so the results tables list it under other data, not in the "
              "paper's row", file=sys.stderr)
    if data.skipped:
        facts["skipped"] = data.skipped               # --skip-bad: which files were left out, and why
    facts.update(task.check_data(data.index, data.split, cfg))   # e.g. the classes trained on
    if not options.dry_run:
        save_split(run_dir / "split.json", data.split)
    targets = split_targets(task, data)
    x_train, y_train = data.arrays["train"][0], targets["train"]
    if y_train is None:
        raise ConfigError(f"{data.index.name}: the training images have no ground truth for this row's task")
    keep = task.select_training(y_train, spec.seed, cfg)
    if keep is not None:
        x_train, y_train = x_train[keep], y_train[keep]
        print(f"training on {len(keep)} of {len(data.split['train'])} training images "
              f"(the row keeps a share of those without the attribute)", file=sys.stderr)
        facts["training_subset"] = [data.split["train"][int(i)] for i in keep]   # which ones
    if cfg.batch_size > len(x_train):
        if spec.batch_size_given:
            raise ConfigError(f"batch size {cfg.batch_size} is larger than the training part ({len(x_train)} "
                              f"images): give --batch-size {len(x_train)} or less, or use more training images")
        # the row's default on a tiny dataset: each epoch is one batch of every training image, and
        # the record says so (a table must not show the row's batch for it)
        print(f"note: the row's batch size {cfg.batch_size} is larger than the training part ({len(x_train)} "
              f"images): each epoch is one batch of {len(x_train)} (recorded)", file=sys.stderr)
        facts["batch_size_ran"] = len(x_train)
    if paper.offline_expand is not None and getattr(cfg, "augmentation", "") == "offline":
        x_train, y_train = paper.offline_expand(cfg, x_train, y_train, spec.seed)
    return Prepared(data, targets, x_train, y_train, facts)


def build(paper, spec: RunSpec, cfg, task, prepared: Prepared):
    """The training batches and the paper's training parts (models, optimizers, step)."""
    from common.training import scale

    augment = paper.augment(cfg) if paper.augment is not None else None
    x, y = prepared.x_train, prepared.y_train
    # --accumulate N: batches of a N-th of the row's batch, N of them to an update
    micro = cfg if spec.accumulate == 1 else dataclasses.replace(cfg, batch_size=cfg.batch_size // spec.accumulate)
    batches = task.batches(x, y, micro, seed=spec.seed, augment=augment, shuffle=True,
                           drop_remainder=len(x) >= cfg.batch_size)
    with scale.current().scope():        # TensorFlow, several devices: models and optimizers mirrored
        parts = build_parts(paper, cfg, steps_per_epoch=len(batches))
    return parts, batches


def build_parts(paper, cfg, **context):
    """``paper.build_training(cfg)``, plus those of ``context`` (``steps_per_epoch``: the number of
    optimizer updates per epoch, e.g. for a schedule over the run) it declares. The encoder's
    starting weights are the config's ``encoder_weights``, the one place they are set."""
    import inspect

    params = inspect.signature(paper.build_training).parameters
    return paper.build_training(cfg, **{k: v for k, v in context.items() if k in params})


def _has_val(prepared: Prepared) -> bool:
    return prepared.data.arrays.get("val") is not None and prepared.targets.get("val") is not None


def _batch(cfg) -> int:
    return max(cfg.batch_size, 8)


def fit(paper, spec: RunSpec, cfg, task, prepared: Prepared, parts, batches, step, run_dir: Path,
        resume: bool, options: Options):
    """The epoch loop with validation after each epoch; returns the monitors and the history."""
    from common.training.loop import train_loop

    has_val = _has_val(prepared)
    monitors = list(task.monitors) if has_val else list(task.monitors[:1])
    wanted = [m.metric for m in monitors]
    predict = predictor_for(parts.network, cfg, task)
    loss_fn = parts.loss or getattr(parts.step, "loss_fn", None)
    val = prepared.data.arrays.get("val")

    def validate():
        recalibrate(spec, parts, batches)
        outputs = predict(val[0], batch_size=_batch(cfg))
        return task.validation(outputs, prepared.targets["val"], prepared.data.samples["val"], loss_fn=loss_fn,
                               wanted=wanted)

    task.postprocess(cfg)                # scoring's settings (threshold, ...) are read now, not at the end
    h, w = image_hw(cfg)
    print(f"Training {paper.name} row {spec.row!r} on {prepared.data.index.name} "
          f"({', '.join(f'{k} {len(v)}' for k, v in prepared.data.split.items())}) for {cfg.epochs} epochs at "
          f"{h}x{w}; run folder {run_dir}", file=sys.stderr)
    history = train_loop(run_dir, step=step, train_batches=batches, epochs=cfg.epochs,
                         validate=validate if has_val else None, models=parts.models,
                         optimizers=parts.optimizers, best_model=parts.network,
                         monitors=monitors, resume=resume, progress=options.progress, finish=options.finish)
    return monitors, history


def recalibrate(spec: RunSpec, parts, batches) -> None:
    """``--bn-recalibrate N``: BatchNorm statistics recomputed from N training batches."""
    if spec.bn_recalibrate:
        from common.training.bn import recalibrate_batchnorm

        recalibrate_batchnorm(parts.network, batches, spec.bn_recalibrate)
        parts.step.refresh()        # JAX: the step carries the recomputed statistics on


def score(paper, spec: RunSpec, cfg, task, prepared: Prepared, parts, batches, monitors, history,
          run_dir: Path, record: dict) -> dict:
    """Each kept checkpoint on the validation and test parts: per-image CSVs and ``metrics.json``."""
    from common.training import scale
    from common.training.tasks import checkpoint_file

    data, targets = prepared.data, prepared.targets
    has_val = _has_val(prepared)
    predict = predictor_for(parts.network, cfg, task)
    by_checkpoint, details, posts = {}, {}, {}
    for monitor in monitors:
        parts.network.load_weights(str(run_dir / "checkpoints" / checkpoint_file(monitors, monitor.name)))
        if not has_val:
            recalibrate(spec, parts, batches)   # with validation, the kept weights were recalibrated
        outputs = {name: predict(data.arrays[name][0], batch_size=_batch(cfg))
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
        "paper": paper.name, "row": spec.row, "task": task.kind, "dataset": data.index.name, "fold": spec.fold,
        "split": {k: len(v) for k, v in data.split.items()}, "split_spec": data.spec,
        "epochs": cfg.epochs, "epochs_done": len(history), "stopped_early": len(history) < cfg.epochs,
        "image_size": list(image_hw(cfg)),
        "encoder_weights": spec.encoder_weights or "none", "seed": spec.seed, "bn_recalibrate": spec.bn_recalibrate,
        "scale": scale.current().record(),
        "scores": by_checkpoint[main],
        "checkpoint": main,
        "provenance": record.get("provenance", {}),
        "scored_at": "native image size" if data.index.name != "synthetic" else "generated size",
        **task.record_fields(),
    }
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
    return metrics


class FirstStepHook:
    """The run's step; calls ``hook()`` once, right after the first update (the step is traced by
    then, so every config field it needs was read)."""

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
