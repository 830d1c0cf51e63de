"""The config layer: row configs changed by ``--set key=value`` into new frozen configs, type-checked
against the dataclass fields and their value sets (``CHOICES``); image sizes, row names and the
:class:`ConfigError` every command turns into a clean message. Model code and the runner import it;
the train command's options are declared in :mod:`common.training.arguments`.
"""
from __future__ import annotations

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


# -- resolving a row's config ------------------------------------------------------------------

def config_from_dict(cls, data: Mapping[str, Any]):
    """Rebuild a frozen config dataclass from its JSON form (lists back to tuples)."""
    hints = typing.get_type_hints(cls)
    legacy = getattr(cls, "RECORD_DEFAULTS", {})      # fields added later: what an older record ran with
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.name in legacy:
                kwargs[f.name] = legacy[f.name]
            continue
        value = data[f.name]
        origin = typing.get_origin(hints[f.name])
        if isinstance(value, list) and (origin is tuple or hints[f.name] is tuple
                                        or (origin is typing.Union and any(
                                            typing.get_origin(a) is tuple for a in typing.get_args(hints[f.name])))):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def resolve_config(cfg, *, epochs: int | None = None, batch_size: int | None = None,
                   image_size: str | None = None, split: str | None = None, overrides=()) -> Any:
    """Apply the common options (epochs, batch size, image size, split) and ``--set`` items to a row config."""
    names = {f.name for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if batch_size is not None:
        changes["batch_size"] = batch_size
    if image_size is not None:
        changes["image_size"] = parse_image_size(image_size)   # (H, W); a config checks its own
    if split:
        changes["split"] = split
    for key in list(changes):
        if key not in names:
            raise ConfigError(f"--{key.replace('_', '-')} does not apply to {type(cfg).__name__}")
    try:
        cfg = apply_overrides(dataclasses.replace(cfg, **changes), overrides)
        check_choices(cfg)
        return cfg
    except ValueError as exc:            # the config's own checks (__post_init__)
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from exc


def image_hw(cfg) -> tuple[int, int]:
    """The config's image size as ``(height, width)`` (configs may hold an int for square images)."""
    size = cfg.image_size
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
