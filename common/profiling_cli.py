"""A ``profile`` command for any paper package: parameters, MACs and CPU/GPU latency per table row.

A paper's ``profile.py`` is a few lines::

    from common.profiling_cli import profile_main

    def main(argv=None):
        return profile_main("aernet", ROWS, build_fn=lambda cfg: build_model(cfg, encoder_weights=None),
                            input_shape_fn=lambda cfg: cfg.input_shape, argv=argv)

and gives ``python -m reproductions.<paper>.profile [--row R]... [--all] [--image-size N|HxW]
[--runs K] [--warmup W] [--no-latency] [--json]``.

Every number is measured on the built model (:mod:`common.profiling`): ``params`` counts every
weight (BN statistics included, as ``model.count_params()``), ``macs`` the multiply-accumulates of
one forward pass of one image over the convolution / dense layers plus what custom layers report
through ``macs()``, ``latency_ms`` the median of ``--runs`` timed ``predict_on_batch`` calls on one
random image on this machine's default Keras device, ``fps = 1000 / latency_ms``. A row that cannot
be built (a missing optional package, an input size its encoder cannot take) is reported with an
``"error"`` key instead of numbers; the command then exits with status 1 after printing every row.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import typing
from typing import Any, Callable, Mapping, Sequence

from common.config import ConfigError, parse_image_size, row_name

__all__ = ["profile_main", "profile_rows", "profile_row", "format_results", "with_image_size",
           "build_parser"]

PaperNumbers = Mapping[str, Mapping[str, Any]] | Callable[[str, Any], Mapping[str, Any] | None]


def with_image_size(cfg: Any, size: tuple[int, int] | None) -> Any:
    """A copy of the frozen dataclass ``cfg`` with its ``image_size`` field set to ``size``.

    A field typed ``int`` (square images) takes ``H`` and requires ``H == W``; otherwise the field
    gets ``(H, W)``.

    Raises:
        ConfigError: ``cfg`` has no ``image_size`` field, or a square-only config got ``HxW``.
    """
    if size is None:
        return cfg
    if not dataclasses.is_dataclass(cfg) or "image_size" not in {f.name for f in dataclasses.fields(cfg)}:
        raise ConfigError(f"--image-size does not apply to {type(cfg).__name__} (it has no image_size field)")
    hint = typing.get_type_hints(type(cfg)).get("image_size")
    if hint is int or isinstance(getattr(cfg, "image_size"), int):
        if size[0] != size[1]:
            raise ConfigError(f"{type(cfg).__name__} takes square images; got {size[0]}x{size[1]}")
        return dataclasses.replace(cfg, image_size=int(size[0]))
    return dataclasses.replace(cfg, image_size=(int(size[0]), int(size[1])))


def _paper_entry(paper_numbers: PaperNumbers | None, row: str, cfg: Any) -> dict:
    if paper_numbers is None:
        return {}
    entry = paper_numbers(row, cfg) if callable(paper_numbers) else paper_numbers.get(row)
    return dict(entry or {})


def _hw(input_shape) -> list[int] | None:
    if input_shape is None:
        return None
    first = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
    return [int(first[0]), int(first[1])] if len(first) >= 3 else None


def profile_row(row: str, cfg: Any, build_fn: Callable[[Any], Any],
                input_shape_fn: Callable[[Any], Sequence] | None = None, *,
                image_size: tuple[int, int] | None = None, runs: int = 20, warmup: int = 5,
                measure_latency: bool = True, include_matmul: bool = True,
                paper_numbers: PaperNumbers | None = None) -> dict:
    """Build one row's model and measure it; never raises for a model that fails to build or run.

    Args:
        row: the row's name (reported as is).
        cfg: the row's config.
        build_fn: ``cfg -> keras.Model`` (random weights are fine: nothing here depends on them).
        input_shape_fn: ``cfg -> (H, W, C)`` of one input (a list of shapes for several inputs);
            ``None``: the model's own input shapes.
        image_size: ``(H, W)`` put into the config's ``image_size`` field before building.
        runs, warmup: timed and untimed ``predict_on_batch`` calls.
        measure_latency: ``False`` leaves ``latency_ms`` / ``fps`` as None.
        include_matmul: count the custom layers' ``macs()`` in ``macs`` (they are also apart in
            ``matmul_macs``).
        paper_numbers: the paper's own figures for the row, reported under ``"paper"``.

    Returns:
        ``{"row", "image_size": [H, W], "input_shape", "params", "trainable_params", "macs",
        "layer_macs", "matmul_macs", "latency_ms", "fps", "build_seconds", "backend"}`` (plus
        ``"paper"`` when given), or ``{"row", "image_size", ..., "error": "Type: message"}`` with the
        numbers None when the model could not be built or run.
    """
    import keras

    from common.profiling import profile_model

    result: dict[str, Any] = {"row": row, "image_size": None, "input_shape": None, "params": None,
                              "trainable_params": None, "macs": None, "layer_macs": None,
                              "matmul_macs": None, "latency_ms": None, "fps": None,
                              "build_seconds": None, "backend": keras.backend.backend()}
    try:
        cfg = with_image_size(cfg, image_size)
        shape = input_shape_fn(cfg) if input_shape_fn is not None else None
        result["image_size"] = _hw(shape) or (list(image_size) if image_size else None)
        paper = _paper_entry(paper_numbers, row, cfg)
        if paper:
            result["paper"] = paper
        keras.utils.clear_session(free_memory=True)
        start = time.perf_counter()
        model = build_fn(cfg)
        result["build_seconds"] = round(time.perf_counter() - start, 2)
        if shape is None:
            shape = [tuple(t.shape[1:]) for t in model.inputs]
            shape = shape[0] if len(shape) == 1 else shape
            result["image_size"] = _hw(shape)
        result["input_shape"] = [list(map(int, s)) for s in shape] if isinstance(shape[0], (list, tuple)) \
            else [int(d) for d in shape]
        stats = profile_model(model, shape, warmup=warmup, runs=runs, include_matmul=include_matmul,
                              measure_latency=measure_latency)
    except Exception as exc:  # noqa: BLE001 - one row's failure is reported, the others still run
        message = str(exc).strip().splitlines()
        result["error"] = f"{type(exc).__name__}: {message[0] if message else ''}"[:500]
        return result
    for key in ("params", "trainable_params", "macs", "layer_macs", "matmul_macs", "latency_ms", "fps"):
        result[key] = stats[key]
    return result


def profile_rows(rows: Mapping[str, Any], names: Sequence[str], build_fn, input_shape_fn=None, *,
                 progress: bool = False, **kwargs) -> list[dict]:
    """:func:`profile_row` for each of ``names`` (keys of ``rows``), in order."""
    results = []
    for name in names:
        if progress:
            print(f"profiling {name!r} ...", file=sys.stderr, flush=True)
        results.append(profile_row(name, rows[name], build_fn, input_shape_fn, **kwargs))
    return results


def _paper_text(entry: Mapping[str, Any] | None) -> str:
    if not entry:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in entry.items() if v is not None) or "-"


def format_results(results: Sequence[dict]) -> str:
    """A fixed-width text table of :func:`profile_row` results (errors on their row)."""
    width = max([len("row")] + [len(r["row"]) for r in results])
    paper = any("paper" in r for r in results)
    header = (f"{'row':<{width}}  {'input':>9}  {'params (M)':>10}  {'MACs (G)':>9}  {'latency (ms)':>12}  "
              f"{'FPS':>7}" + ("  paper" if paper else ""))
    lines = [header, "-" * len(header)]
    for r in results:
        size = "x".join(map(str, r["image_size"])) if r.get("image_size") else "?"
        if "error" in r:
            lines.append(f"{r['row']:<{width}}  {size:>9}  not profiled: {r['error']}")
            continue
        ms = "-" if r["latency_ms"] is None else f"{r['latency_ms']:.2f}"
        fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
        line = (f"{r['row']:<{width}}  {size:>9}  {r['params'] / 1e6:>10.3f}  {r['macs'] / 1e9:>9.3f}  "
                f"{ms:>12}  {fps:>7}")
        if paper:
            line += f"  {_paper_text(r.get('paper'))}"
        lines.append(line)
    return "\n".join(lines)


def build_parser(name: str, rows: Mapping[str, Any], default_rows: Sequence[str] | None = None,
                 description: str | None = None, epilog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``python -m reproductions.<name>.profile``."""
    defaults = list(default_rows) if default_rows is not None else list(rows)
    text = description or f"Parameters, MACs and latency of the {name} models, one line per table row."
    text += (" Every number is measured on the model built with random weights: params counts every "
             "weight (batch-norm statistics included), MACs the multiply-accumulates of one forward "
             "pass of one image (convolution and dense layers, plus custom layers' own products), "
             "latency the median of --runs predict_on_batch calls on one image on this machine's "
             "default Keras device (FPS = 1000 / latency). A row that cannot be built is reported "
             "with its error (exit status 1) and the other rows are still profiled.")
    default_text = "every row" if default_rows is None or defaults == list(rows) else "; ".join(defaults)
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{name}.profile", description=text,
        epilog=(epilog + "\n\n" if epilog else "") + f"Rows: {'; '.join(rows)}. Default: {default_text}.")
    parser.add_argument("--row", action="append", metavar="R",
                        help="row to profile (repeatable; case- and space-insensitive)")
    parser.add_argument("--all", action="store_true", help="profile every row")
    parser.add_argument("--image-size", metavar="N|HxW",
                        help="input size instead of each row's own (e.g. 256 or 192x256)")
    parser.add_argument("--runs", type=int, default=20, metavar="K",
                        help="timed predict_on_batch calls; the median is reported (default 20)")
    parser.add_argument("--warmup", type=int, default=5, metavar="W",
                        help="untimed calls before timing (default 5; the first call is never timed)")
    parser.add_argument("--no-latency", action="store_true", help="parameters and MACs only, no timing")
    parser.add_argument("--json", action="store_true",
                        help='print a JSON list of {"row", "image_size", "params", "macs", "latency_ms", '
                             '"fps", ...} (or {"row", ..., "error"}) instead of a table')
    return parser


def profile_main(name: str, rows: Mapping[str, Any], build_fn: Callable[[Any], Any],
                 input_shape_fn: Callable[[Any], Sequence] | None = None,
                 argv: Sequence[str] | None = None, default_rows: Sequence[str] | None = None,
                 paper_numbers: PaperNumbers | None = None, *, description: str | None = None,
                 epilog: str | None = None, include_matmul: bool = True) -> int:
    """Run the profile command of a paper package.

    Args:
        name: the package name (``"aernet"``), for ``--help``.
        rows: row name -> config, in the paper's order.
        build_fn: ``cfg -> keras.Model``.
        input_shape_fn: ``cfg -> (H, W, C)``; None: the model's input shapes.
        argv: the arguments (default ``sys.argv[1:]``).
        default_rows: rows profiled without ``--row``/``--all`` (default: every row).
        paper_numbers: ``{row: {"params_m": ..., "macs_g": ...}}`` or ``(row, cfg) -> dict``: the
            paper's own figures, shown beside ours (never in their place).
        description, epilog: extra ``--help`` text.
        include_matmul: whether ``macs`` includes custom layers' ``macs()``.

    Returns:
        0 when every row was profiled, 1 when some row could not be (its error is printed).
    """
    parser = build_parser(name, rows, default_rows, description, epilog)
    args = parser.parse_args(argv)
    if args.row and args.all:
        parser.error("give --row or --all, not both")
    try:
        names = [row_name(rows, r) for r in args.row] if args.row else (
            list(rows) if args.all or default_rows is None else list(default_rows))
        size = parse_image_size(args.image_size) if args.image_size is not None else None
    except ConfigError as exc:
        parser.error(str(exc))
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    if args.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    results = profile_rows(rows, names, build_fn, input_shape_fn, progress=not args.json, image_size=size,
                           runs=args.runs, warmup=args.warmup, measure_latency=not args.no_latency,
                           include_matmul=include_matmul, paper_numbers=paper_numbers)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        from common.training.records import device_info

        info = device_info()
        print(f"{name}: Keras {info['backend']} on {info['hardware']}; batch 1"
              + ("" if args.no_latency else f", median of {args.runs} timed calls after {args.warmup} warm-up"))
        print(format_results(results))
    failed = [r["row"] for r in results if "error" in r]
    if failed:
        print(f"could not profile: {'; '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
