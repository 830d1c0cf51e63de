"""Command-line pieces shared by every paper's `train`, `evaluate`, `predict` and `profile` commands.

Every train command takes the same options (``--row``, ``--data-dir``, ``--dataset``, ``--split``,
``--fold``, ``--epochs``, ``--batch-size``, ``--image-size``, ``--encoder-weights``, ``--run-dir``,
``--resume``, ``--seed``, ``--set key=value``); this module declares them once and turns
``--set`` overrides into a new frozen config, type-checked against the dataclass fields.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import typing
from typing import Any, Mapping, Sequence


class ConfigError(ValueError):
    """A command-line value that does not fit the config (unknown key, wrong type)."""


def parse_image_size(text: str | int | Sequence[int]) -> tuple[int, int]:
    """Parse ``N`` or ``HxW`` (also ``H,W``) into ``(height, width)``.

    >>> parse_image_size("128")
    (128, 128)
    >>> parse_image_size("192x256")
    (192, 256)
    """
    if isinstance(text, int):
        size = (text, text)
    elif isinstance(text, (tuple, list)):
        size = tuple(int(v) for v in text)
        if len(size) == 1:
            size = (size[0], size[0])
    else:
        match = re.fullmatch(r"\s*(\d+)\s*(?:[x,]\s*(\d+)\s*)?", str(text).lower())
        if match is None:
            raise ConfigError(f"image size {text!r} is not N or HxW (e.g. 128 or 192x256)")
        height = int(match.group(1))
        size = (height, int(match.group(2)) if match.group(2) else height)
    if len(size) != 2 or min(size) < 8:
        raise ConfigError(f"image size {text!r} must be two positive sides of at least 8 pixels")
    return size  # type: ignore[return-value]


def _convert(value: str, annotation: Any, key: str) -> Any:
    """Convert one ``--set`` string to the type a dataclass field declares."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return value
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"--set {key}={value}: not a valid value ({'; '.join(errors)})")
    if origin is typing.Literal:
        for arg in args:
            if str(arg) == value:
                return arg
        raise ConfigError(f"--set {key}={value}: choose one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        items = [v for v in value.replace("x", ",").split(",") if v.strip()] if value else []
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            converted = [_convert(v.strip(), args[0], key) for v in items]
        elif origin is tuple and args:
            if len(items) != len(args):
                raise ConfigError(f"--set {key}={value}: expected {len(args)} comma-separated values")
            converted = [_convert(v.strip(), a, key) for v, a in zip(items, args)]
        else:
            inner = args[0] if args else str
            converted = [_convert(v.strip(), inner, key) for v in items]
        return tuple(converted) if origin is tuple else converted
    if annotation is bool:
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--set {key}={value}: expected true or false")
    if annotation in (int, float, str):
        try:
            if annotation is int and value.lower().startswith(("0x",)):
                return int(value, 16)
            return annotation(value)
        except ValueError:
            raise ConfigError(f"--set {key}={value}: expected {annotation.__name__}") from None
    raise ConfigError(f"--set {key}: fields of type {annotation!r} cannot be set from the command line")


def apply_overrides(config: Any, overrides: Sequence[str] | Mapping[str, Any]) -> Any:
    """Return a copy of the frozen dataclass ``config`` with ``key=value`` overrides applied.

    Values are converted to each field's declared type; an unknown key is an error that suggests
    the nearest field names.
    """
    if not overrides:
        return config
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    items = overrides.items() if isinstance(overrides, Mapping) else (_split(o) for o in overrides)
    changes: dict[str, Any] = {}
    for key, value in items:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown config key {key!r} for {type(config).__name__}.{hint} "
                f"Known keys: {', '.join(sorted(fields))}"
            )
        if key == "image_size" and isinstance(value, str):
            changes[key] = parse_image_size(value)      # one parser: N or HxW (or H,W)
            continue
        changes[key] = _convert(value, hints[key], key) if isinstance(value, str) else value
    for key, value in changes.items():
        problem = value_problem(key, value)
        if problem:
            raise ConfigError(f"--set {key}={value}: {problem}")
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        shown = " ".join(f"--set {k}={v}" for k, v in changes.items())
        raise ConfigError(f"{shown}: {exc}") from None


#: Ranges of fields that several papers share, checked for every ``--set`` (a paper's config checks
#: its own fields in ``__post_init__``): name -> (test, what it must be).
VALUE_RULES: dict[str, tuple] = {
    "learning_rate": (lambda v: v > 0, "a learning rate must be > 0"),
    "momentum": (lambda v: 0 <= v < 1, "momentum must be in [0, 1)"),
    "dropout": (lambda v: 0 <= v < 1, "a dropout rate must be in [0, 1)"),
    "threshold": (lambda v: 0 < v < 1, "a probability threshold must be in (0, 1)"),
    "weight_decay": (lambda v: v >= 0, "weight decay must be >= 0"),
    "decay": (lambda v: v >= 0, "decay must be >= 0"),
    "batch_size": (lambda v: v >= 1, "the batch size must be at least 1"),
    "epochs": (lambda v: v >= 1, "the number of epochs must be at least 1"),
    "n_classes": (lambda v: v >= 2, "a classifier needs at least 2 classes"),
}


def value_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for field ``key`` (None if nothing): numbers must be finite,
    shared fields within :data:`VALUE_RULES`, weights (``*_weight``) >= 0."""
    numbers = value if isinstance(value, tuple) else (value,)
    for v in numbers:
        if isinstance(v, float) and not math.isfinite(v):
            return "must be a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    rule = VALUE_RULES.get(key)
    if rule is None and key.endswith("_weight"):
        rule = (lambda v: v >= 0, "a loss weight must be >= 0")
    if rule is not None and not rule[0](value):
        return f"out of range ({rule[1]})"
    return None


def check_choices(config: Any) -> None:
    """Refuse a text field whose value the code does not support, naming those it does.

    A config class lists them in its ``CHOICES`` class attribute (field -> accepted values)."""
    for name, allowed in getattr(type(config), "CHOICES", {}).items():
        value = getattr(config, name)
        if value not in allowed:
            shown = ", ".join("none" if a is None else str(a) for a in allowed)
            raise ConfigError(f"{name}={value!r} is not supported by {type(config).__name__}; choose "
                              + (f"one of {shown}" if len(allowed) > 1 else f"{shown} (the only one)"))


def _split(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"--set expects key=value, got {item!r}")
    key, value = item.split("=", 1)
    return key.strip(), value.strip()


def resolve_row(rows: Mapping[str, Any], name: str) -> Any:
    """Look a table row up by name (case- and space-insensitive); unknown names list the rows."""
    if name in rows:
        return rows[name]
    norm = {slugify(k): k for k in rows}
    if slugify(name) in norm:
        return rows[norm[slugify(name)]]
    raise ConfigError(f"unknown row {name!r}. Rows: " + "; ".join(f'"{r}"' for r in rows))


def row_name(rows: Mapping[str, Any], name: str) -> str:
    """The canonical spelling of a row name accepted by :func:`resolve_row`."""
    if name in rows:
        return name
    norm = {slugify(k): k for k in rows}
    resolve_row(rows, name)
    return norm[slugify(name)]


def slugify(text: str) -> str:
    """A file-name-safe lower-case form of a row name: ``"BL + PAM"`` -> ``"bl-pam"``."""
    out = []
    for ch in text.lower():
        out.append(ch if ch.isalnum() else "-")
    slug = "-".join(p for p in "".join(out).split("-") if p)
    return slug or "row"


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (epochs, batch size, limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range: it must be at least 1")
    return value


def add_common_train_arguments(parser: argparse.ArgumentParser, *, default_row: str,
                               rows: Mapping[str, Any], weights_choices: str = "imagenet | none | PATH",
                               ) -> None:
    """Declare the options every paper's train command shares.

    Defaults that come from the row (epochs, batch size, image size, split, weights) are ``None``
    here, so the runner can tell an option given on the command line from one left out (``--resume``
    takes what was left out from the run's record).
    """
    from common.training.records import RUNS_ROOT_HELP, default_runs_root

    parser.add_argument("--row", default=None,
                        help=f'table row to train (default: "{default_row}"); the rows are listed below')
    parser.add_argument("--data-dir", default=None,
                        help="dataset root as downloaded (the folder holding the official ISIC/PH2 "
                             "folders); omitted: the embedded synthetic data")
    parser.add_argument("--dataset", default=None,
                        help="synthetic | isic2016 | isic2017 | isic2018 | isic2018_task2 | isic2019 | "
                             "ph2 | auto (default: auto with --data-dir, synthetic without)")
    parser.add_argument("--split", default=None,
                        help="official | holdout:TRAIN,VAL[,TEST] fractions (e.g. holdout:0.8,0.2) | "
                             "count:N[,V] (N shuffled images train, V of them validate) | kfold:K[,VAL_SHARE] "
                             "(default: the row's)")
    parser.add_argument("--fold", default=None,
                        help="fold index (0-based) for k-fold splits, or 'all' to run every fold in turn "
                             "(default: 0)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="number of epochs (default: the row's)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the row's)")
    parser.add_argument("--image-size", default=None, help="N or HxW, e.g. 128 or 192x256 (default: the row's)")
    parser.add_argument("--encoder-weights", default=None,
                        help=f"encoder weights: {weights_choices} (default: the row's)")
    parser.add_argument("--run-dir", default=None,
                        help="run folder to write (default: runs/<paper>/<row>/<dataset>-<stamp>); "
                             "with --resume, the run to continue")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir (or the newest run of this row and dataset) "
                             "from its last finished epoch, with the options recorded in its config.json; "
                             "options given anyway must agree with the record")
    parser.add_argument("--finish", action="store_true",
                        help="with --resume: stop the run at its last finished epoch, score its best "
                             "checkpoint and write metrics.json (the record says how many epochs ran)")
    parser.add_argument("--dry-run", action="store_true",
                        help="set the run up (data, model, optimizer, step), make one update on the first "
                             "batch, print what would run and which config fields the row reads, and "
                             "keep nothing; a --set field the row does not read is refused, as in a run")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, type-checked (repeatable), e.g. --set dropout=0.3")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="use only the first N samples of each split (quick checks)")
    parser.add_argument("--synthetic-size", type=positive_int, default=None,
                        help="number of synthetic images when --dataset synthetic (default: the quick setting)")
    parser.add_argument("--bn-recalibrate", type=int, default=None, metavar="N",
                        help="before each validation (and the final scoring), recompute every BatchNorm "
                             "layer's statistics from N training batches with the current weights "
                             "(default 0: off). Short runs lose much of their score to lagging moving "
                             "averages; recorded in the run's config.json")
    scale = parser.add_argument_group(
        "devices and speed", "data-parallel training over several local devices, mixed precision, XLA "
        "(recorded in the run's config.json; see common/training/scale.py)")
    scale.add_argument("--devices", default=None, metavar="N|all",
                       help="train data-parallel over N local devices (GPUs, or CPU devices), or all of "
                            "them; the batch size is the global batch, split evenly (default 1). JAX: "
                            "keras.distribution.DataParallel; TensorFlow: tf.distribute.MirroredStrategy")
    scale.add_argument("--precision", default=None, choices=("float32", "mixed", "mixed_float16", "mixed_bfloat16"),
                       help="float32 (default) or mixed: float16 compute on GPUs, bfloat16 on CPUs/TPUs; "
                            "the output heads and the losses stay float32")
    scale.add_argument("--accumulate", type=positive_int, default=None, metavar="N",
                       help="split each of the row's batches into N micro-batches and average their gradients "
                            "into one update: the paper's batch on a card too small for it (BatchNorm then "
                            "sees micro-batches of batch/N; recorded, and the tables say so)")
    scale.add_argument("--jit", action="store_true",
                       help="XLA-compile the training step on TensorFlow (JAX always compiles). It switches "
                            "TensorFlow's deterministic kernels off (XLA lacks some), so reruns may differ "
                            "in the last digits; on a 2-core CPU it made a ResNet34 U-Net step slower")
    scale.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="multi-process JAX run: the address of process 0 (with --num-processes and "
                            "--process-id on every process)")
    scale.add_argument("--num-processes", type=positive_int, default=None, help="multi-process JAX run: how many")
    scale.add_argument("--process-id", type=int, default=None, help="multi-process JAX run: this process's index")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out samples whose files are missing, corrupt or of the wrong size "
                             "(each skipped file is listed in the run's config.json) instead of stopping")
    parser.add_argument("--cache-dir", default=None,
                        help="where decoded arrays are cached (default: $SLR_CACHE_DIR or "
                             "~/.cache/skin-lesion-repro)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="root folder of run folders (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (one line per epoch is still printed)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and Keras's own start-up and warning messages")
