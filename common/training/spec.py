"""The run specification: everything that decides what a training run computes, built once (from the
command line, or from a run's record on ``--resume``) and never changed afterwards.

:class:`RunSpec` is written to the record by :meth:`RunSpec.record`, the one list of recorded
options (:data:`RECORDED`). Resuming a run builds the specification again and compares the two
(:func:`check_resume`). Adding a runner option is one field here plus the place where it acts.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config import ConfigError, config_from_dict, image_hw, resolve_config, row_name
from common.data.splits import fold_count
from common.training.paper import Paper
from common.training import records

#: The options a run records, in the record's own key names. ``--resume`` takes each from the
#: record where the command line leaves it out, and refuses a value that differs from it.
RECORDED = ("row", "config", "dataset", "data_dir", "split_spec", "fold", "seed", "encoder_weights",
            "limit", "synthetic_size", "skip_bad", "bn_recalibrate", "precision", "accumulate", "exact")

#: What a record written before an option existed means by leaving it out.
RECORD_DEFAULTS = {"bn_recalibrate": 0, "precision": "float32", "skip_bad": False, "accumulate": 1, "exact": True}

#: Recorded options that decide the data a run sees but that an older resume did not compare: a
#: record that lacks them is taken at its word.
_LENIENT = ("synthetic_size", "skip_bad")


@dataclass(frozen=True)
class RunSpec:
    """One training run: row, resolved config, data, split and fold, seed, weights and how it runs."""

    paper: str
    row: str
    config: Any                           # the row's frozen config with every option and --set applied
    dataset: str                          # "synthetic", a dataset name, or "auto" (found in data_dir)
    data_dir: str | None = None
    fold: int | None = None
    seed: int = 0
    limit: int | None = None              # at most this many images per part of the split
    synthetic_size: int | None = None
    skip_bad: bool = False
    bn_recalibrate: int = 0               # BatchNorm statistics recomputed from N batches (0: off)
    precision: str = "float32"
    accumulate: int = 1                   # micro-batches per update: the row's batch in N parts
    exact: bool = True                    # exact reruns (deterministic kernels) rather than speed (--fast)
    devices: str | int = 1
    jit: bool = False
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    #: --set keys given on the command line (a field nothing reads is refused after the first update)
    overrides: tuple[str, ...] = ()
    batch_size_given: bool = False        # --batch-size or --set batch_size: a batch too large is an error

    @property
    def split_spec(self) -> str | None:
        return getattr(self.config, "split", None)

    @property
    def encoder_weights(self) -> str | None:
        """The encoder's starting weights, held by the config (None: from scratch; "imagenet"; a
        file); ``--encoder-weights`` is a shorthand that sets the config's field."""
        return getattr(self.config, "encoder_weights", None)

    def record(self, command: str) -> dict:
        """The run record's options (``config.json`` before provenance and what the data adds)."""
        from common.training import scale

        return {
            "paper": self.paper, "row": self.row, "config": self.config,
            "config_class": type(self.config).__name__, "dataset": self.dataset,
            "data_dir": os.path.abspath(self.data_dir) if self.data_dir else None,
            "split_spec": self.split_spec, "fold": self.fold, "seed": self.seed,
            "encoder_weights": self.encoder_weights or "none", "limit": self.limit,
            "synthetic_size": self.synthetic_size, "skip_bad": self.skip_bad,
            "bn_recalibrate": self.bn_recalibrate, "precision": self.precision, "accumulate": self.accumulate,
            "exact": self.exact,
            "scale": scale.current().record(), "command": command,
        }


def check_resume(saved: dict, mine: dict, run_dir: Path) -> None:
    """Refuse to continue ``run_dir`` (record ``saved``) with options that differ from its own."""
    import json

    mine = json.loads(json.dumps(records.jsonable(mine)))
    saved = _weights_in_config(saved)
    for key in RECORDED:
        if key in _LENIENT and key not in saved:
            continue
        if saved.get(key, RECORD_DEFAULTS.get(key)) != mine.get(key):
            raise ConfigError(f"--resume: {run_dir} was started with {key}={_describe(saved.get(key), mine.get(key))}; "
                              f"leave the option out (resume takes the recorded value) or give the same one")


def _weights_in_config(saved: dict) -> dict:
    """A record made before the config held the run's encoder weights: the config as it ran."""
    config, top = saved.get("config"), saved.get("encoder_weights")
    if isinstance(config, dict) and "encoder_weights" in config and top is not None:
        config = {**config, "encoder_weights": None if top == "none" else top}
        return {**saved, "config": config}
    return saved


def _describe(saved, mine) -> str:
    """``{'epochs': 8} ... not {'epochs': 7}`` shortened to the fields that differ."""
    if isinstance(saved, dict) and isinstance(mine, dict):
        keys = [k for k in sorted(set(saved) | set(mine)) if saved.get(k) != mine.get(k)]
        return (", ".join(f"{k}={saved.get(k)!r}" for k in keys) + ", not "
                + ", ".join(f"{k}={mine.get(k)!r}" for k in keys))
    return f"{saved!r}, not {mine!r}"


# -- from the command line -------------------------------------------------------------------------

def specs_from_args(paper: Paper, args) -> list[RunSpec]:
    """The specification of each run the command line asks for (one per fold with ``--fold all``).

    With ``--resume --run-dir RUN``, options the command line leaves out come from RUN's record,
    and the row's config is the recorded one (quick settings included)."""
    given = dict(vars(args))
    base = None
    if args.resume and args.run_dir:
        row, base = _from_record(paper, Path(args.run_dir), given)
    else:
        quick = not args.row and not args.data_dir and (args.dataset or "synthetic") == "synthetic"
        if quick and paper.quick_row:
            print(paper.quick_note, file=sys.stderr)
        row = row_name(paper.rows, args.row or (paper.quick_row if quick and paper.quick_row else paper.default_row))
    seed = 0 if given["seed"] is None else given["seed"]
    if not 0 <= seed < 2 ** 32:
        raise ConfigError(f"--seed {seed}: give a whole number from 0 to {2 ** 32 - 1}")
    bn = 0 if given["bn_recalibrate"] is None else given["bn_recalibrate"]
    if bn < 0:
        raise ConfigError(f"--bn-recalibrate {bn}: give a number of batches >= 1, or 0 for off")
    dataset = given["dataset"] or ("auto" if given["data_dir"] else "synthetic")
    synthetic_size = given["synthetic_size"]
    if base is None:
        base = paper.rows[row]
        if dataset == "synthetic" and paper.synthetic_defaults:
            # A quick schedule on the embedded data; explicit options and --set still win.
            names = {f.name for f in dataclasses.fields(base)}
            quick = {k: v for k, v in paper.synthetic_defaults.items() if k in names}
            base = dataclasses.replace(base, **quick)
            if synthetic_size is None:
                synthetic_size = paper.synthetic_defaults.get("synthetic_size")
            shown = {**quick, **({"synthetic_size": synthetic_size} if synthetic_size else {})}
            print(f"synthetic data: quick defaults {shown} (override with --epochs/--set)", file=sys.stderr)
    cfg = resolve_config(base, epochs=args.epochs, batch_size=args.batch_size, image_size=args.image_size,
                            split=args.split, overrides=args.overrides)
    check_image_size(paper, cfg)
    weights = resolve_weights(paper, given["encoder_weights"], cfg)
    if weights != getattr(cfg, "encoder_weights", None):
        try:
            cfg = dataclasses.replace(cfg, encoder_weights=weights)    # the one home of the weights
        except ValueError as exc:                                     # the row refuses them
            raise ConfigError(f"--encoder-weights {given['encoder_weights']}: row {row!r} is trained from scratch "
                              f"({exc}); leave the option out or give none") from exc
    keys = tuple(item.split("=", 1)[0].strip() for item in args.overrides)
    common = RunSpec(
        paper=paper.name, row=row, config=cfg, dataset=dataset, data_dir=given["data_dir"], seed=seed,
        limit=given["limit"],
        synthetic_size=synthetic_size, skip_bad=bool(given["skip_bad"]), bn_recalibrate=int(bn),
        precision=given["precision"] or "float32",
        accumulate=int(given["accumulate"] or default_accumulation_of(paper, row, cfg, getattr(args, "devices", None))),
        exact=not given["fast"], devices=getattr(args, "devices", None) or 1,
        jit=bool(getattr(args, "jit", False)), coordinator=getattr(args, "coordinator", None),
        num_processes=getattr(args, "num_processes", None), process_id=getattr(args, "process_id", None),
        overrides=keys, batch_size_given=args.batch_size is not None or "batch_size" in keys)
    folds = folds_of(given["fold"], cfg)
    if args.run_dir and len(folds) > 1:
        raise ConfigError("--run-dir names one run; with --fold all each fold gets its own folder")
    return [dataclasses.replace(common, fold=f) for f in folds]


def _from_record(paper: Paper, run_dir: Path, given: dict):
    """The run's row and recorded config; options the command line left out filled into ``given``."""
    if not (run_dir / "config.json").exists():
        raise ConfigError(f"--resume: {run_dir} holds no run (config.json missing)")
    saved = records.load_json(run_dir / "config.json")
    if saved.get("paper") not in (None, paper.name):
        raise ConfigError(f"--resume: {run_dir} is a {saved['paper']} run, not {paper.name}")
    for option in RECORDED:
        if option in given and given[option] in (None, False) and saved.get(option) is not None:
            given[option] = saved[option]
    if saved.get("exact") is False:
        given["fast"] = True             # --fast is the option that records exact=False
    if given.get("fold") is None and saved.get("fold") is not None:
        given["fold"] = str(saved["fold"])
    row = row_name(paper.rows, given["row"])
    cfg_class = type(paper.rows[row])
    try:
        recorded = config_from_dict(cfg_class, saved["config"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--resume: {run_dir}/config.json does not hold a {cfg_class.__name__} ({exc})") from exc
    return row, recorded


def resolve_weights(paper: Paper, value: str | None, cfg) -> str | None:
    """``--encoder-weights`` (default: the row config's ``encoder_weights``) as the builders take it."""
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


def folds_of(fold: str | None, cfg) -> list[int | None]:
    """The folds ``--fold`` asks for on the row's split: ``[None]`` for a split without folds."""
    spec = getattr(cfg, "split", "")
    k = fold_count(spec)
    if k is None:
        if fold not in (None, "0"):
            raise ConfigError(f"--fold applies to k-fold splits; this row's split is {spec!r}")
        return [None]
    if fold in (None, "all"):
        return list(range(k)) if fold == "all" else [0]
    try:
        number = int(fold)
    except ValueError:
        raise ConfigError(f"--fold {fold}: choose 0..{k - 1} or all") from None
    if not 0 <= number < k:
        raise ConfigError(f"--fold {number}: choose 0..{k - 1} or all")
    return [number]


def check_image_size(paper: Paper, cfg) -> None:
    """Both image sides must be multiples of the row's network stride; refused before any work."""
    multiple = paper.size_multiple(cfg) if callable(paper.size_multiple) else int(paper.size_multiple)
    h, w = image_hw(cfg)
    if h % multiple or w % multiple:
        def near(v):
            low = max(multiple, v - v % multiple)
            return f"{low} or {low + multiple}" if v % multiple else str(v)

        raise ConfigError(f"image size {h}x{w}: both sides must be multiples of {multiple} for this "
                          f"row (its network halves the resolution {multiple.bit_length() - 1} times); "
                          f"e.g. {near(h)} for {h}" + (f", {near(w)} for {w}" if w != h else ""))


def default_accumulation_of(paper: Paper, row: str, cfg, devices: int | str | None = None) -> int:
    """The micro-batches per update a row takes when ``--accumulate`` is not given (see
    :attr:`~common.training.paper.Paper.micro_batch`); said in one line when it is more than one."""
    from common.training.memory import default_accumulation

    # "--devices all" is counted later, by the backend: one device's share is then the most
    devices = int(devices) if str(devices or "").isdigit() and int(devices) > 0 else 1
    micro = paper.micro_batch(cfg) if paper.micro_batch is not None else None
    parts = default_accumulation(cfg.batch_size, micro, devices)
    if parts > 1:
        h, w = image_hw(cfg)
        each = cfg.batch_size // (parts * devices)
        print(f"row {row!r} at {h}x{w}: each batch of {cfg.batch_size} trains as {parts} micro-batches "
              f"({each} image{'s' if each > 1 else ''}{' per device' if devices > 1 else ''} each) whose gradients "
              f"make one update (gradient accumulation: the effective batch stays {cfg.batch_size}), so that "
              "one update fits an 11 GB card; --accumulate N chooses another split, --accumulate 1 none",
              file=sys.stderr)
    return parts
