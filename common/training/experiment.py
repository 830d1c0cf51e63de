"""From command-line arguments to a finished run: data, split, training parts, the predict function
and the run record.

A paper package declares itself once with a :class:`Paper` (its rows, a task per row, how to build
its models and training step, its augmentation); ``train_main`` (:mod:`common.training.commands`),
``evaluate_main`` (:mod:`common.training.evaluation`) and ``predict_main``
(:mod:`common.training.prediction`) do the rest, the same way for every paper, and
the row's :class:`~common.training.tasks.Task` decides what differs between lesion masks, attribute
masks and classes.
"""
from __future__ import annotations


import dataclasses
import os
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from common.config import ConfigError, apply_overrides, check_choices, parse_image_size
from common.data.splits import make_split


@dataclass
class TrainingParts:
    """What a paper hands the runner for one row."""

    step: Any                               # common.training.steps.Step
    models: Mapping[str, Any]               # everything the checkpoint holds
    optimizers: Mapping[str, Any]
    predictor: Any                          # the model whose output the task reads (mask map, class vector)
    loss: Callable | None = None            # loss(y_true, y_pred) for a val_loss monitor (default: the step's)


@dataclass
class Paper:
    """A paper package's one declaration of itself; the shared commands do the rest.

    Args:
        name: package name, also the runs sub-folder (``"slsnet"``).
        title: one line for ``--help``.
        rows: row name -> frozen config (the paper's table order).
        default_row: the row trained when ``--row`` is omitted.
        build_training: ``(cfg, encoder_weights[, steps_per_epoch]) -> TrainingParts``.
        build_predictor: ``(cfg) -> keras.Model`` (weights loaded afterwards from the run).
        task: the :class:`~common.training.tasks.Task` of every row, or ``cfg -> Task`` when rows
            differ (a segmentation U-Net beside classifiers). Default: lesion segmentation.
        augment: ``cfg -> callable(image, mask, rng) or None`` for online augmentation.
        offline_expand: ``(cfg, images, masks, seed) -> (images, masks)`` or None.
        weights_choices: what ``--encoder-weights`` accepts (SLSNet: none only).
        synthetic_defaults: the quick settings of the embedded synthetic data.
        quick_row / quick_note: the row trained on the synthetic data when ``--row`` is omitted
            (default: ``default_row``), and the line printed to say why.
        fallback_split: the split used where a row's ``official`` split does not exist.
        size_multiple: ``cfg -> int`` (or an int): image height and width must be multiples of it
            (2 to the number of times the network halves the resolution); checked before any work.
        subset: ``(index, cfg, seed) -> index`` or None: the images and labels a row works on, when
            that is not the whole dataset (the ISIC 2019 thesis's balanced experiment: 1987 images of
            each of five classes, four of them grouped); applied wherever the runner loads the
            dataset (training, evaluate), before the split.
    """

    name: str
    title: str
    rows: Mapping[str, Any]
    default_row: str
    build_training: Callable
    build_predictor: Callable
    task: Any = None
    augment: Callable | None = None
    offline_expand: Callable | None = None
    weights_choices: tuple[str, ...] = ("imagenet", "none", "PATH")
    synthetic_defaults: Mapping[str, Any] = field(default_factory=dict)
    fallback_split: str = "holdout:0.8,0.2"
    size_multiple: Callable[[Any], int] | int = 32   # image sides must divide by it (the net's stride)
    subset: Callable | None = None
    #: the row the quick start trains on the synthetic data when --row is omitted, and the one line
    #: that says why (SLSNet: the row as printed does not learn; the run names the row that does)
    quick_row: str | None = None
    quick_note: str = ""
    #: the paper's tiny run, which the runner tests, the same-seed test (both backends) and the
    #: registry test read (seconds on a CPU): ``row`` (default: the quick row), ``sets`` (``--set``
    #: items narrowing it to a few filters), ``image_size``, ``synthetic_size``, ``batch_size``,
    #: ``epochs``, ``argv`` (further options); and what the run gives: ``split`` (the part it
    #: scores), ``n_images``, optionally ``parts`` (every part of its split), ``first_argv`` /
    #: ``one_argv`` / ``one_index`` (a k-fold paper: the first command trains every fold, then one
    #: fold alone is ``runs[one_index]``)
    tiny: Mapping[str, Any] = field(default_factory=dict)

    def tiny_argv(self) -> list[str]:
        """The train command line of :attr:`tiny` (without ``--epochs``)."""
        t = self.tiny
        argv = ["--row", t["row"]] if "row" in t else []
        for item in t.get("sets", ()):
            argv += ["--set", item]
        for option in ("image_size", "synthetic_size", "batch_size"):
            if option in t:
                argv += ["--" + option.replace("_", "-"), str(t[option])]
        return argv + list(t.get("argv", ()))

    @property
    def short_title(self) -> str:
        """The title up to its citation: "SLSNet (Sarker et al. 2021)"."""
        head = self.title.split(")")[0] + ")" if ")" in self.title else self.title
        return head[:1].upper() + head[1:]

    def task_for(self, cfg):
        """The row's task, bound to the row's config (an attribute task to its attribute)."""
        from common.training.tasks import SegmentationTask

        task = self.task if self.task is not None else SegmentationTask()
        if callable(task) and not hasattr(task, "kind"):
            task = task(cfg)
        return task.bind(cfg)


def build_or_explain(build: Callable, *args, **kwargs):
    """``build(*args, **kwargs)``; pretrained weights that cannot be had become a command-line error
    saying what to do (where Keras caches them, or ``--encoder-weights none``)."""
    from common.backbones import WeightsUnavailableError

    try:
        return build(*args, **kwargs)
    except WeightsUnavailableError as exc:
        raise ConfigError(f"{exc}\nOr train from scratch with --encoder-weights none.") from exc
    except ValueError as exc:
        # the builders check what the config's own checks cannot (entries per stage, ...)
        raise ConfigError(f"this configuration cannot be built: {exc} (check the --set values)") from exc


# -- configs -----------------------------------------------------------------------------------

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


# -- data --------------------------------------------------------------------------------------

@dataclass
class PreparedData:
    index: Any
    spec: str
    split: dict[str, list[str]]
    samples: dict[str, list]                 # split -> Sample list in split order
    arrays: dict[str, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)   # {"id", "error"} of samples --skip-bad left out


def show_bars(args) -> bool:
    """Progress bars only on a terminal; a log file or a pipe gets one line per epoch instead."""
    return not args.quiet and sys.stderr.isatty()


def prepare_data(spec, cfg, *, fallback: str = "holdout:0.8,0.2", index_options: Mapping[str, Any] | None = None,
                 subset: Callable | None = None, fixed_split: Mapping[str, list] | None = None,
                 cache_dir: str | None = None, progress: bool = False) -> PreparedData:
    """Load the run's dataset (``spec``: a :class:`~common.training.spec.RunSpec`), split it, decode
    the arrays (cached).

    ``index_options``: what the row's task asks of ``load_index`` (synthetic attribute masks).
    ``subset``: the paper's ``(index, cfg, seed) -> index`` (see :class:`Paper`).
    ``fixed_split``: a split already made (a resumed run's ``split.json``): used as it is, never
    recomputed from what the folder holds now; an image it names that the folder no longer holds
    is an error.
    """
    from common.data import load_arrays, load_index

    seed = spec.seed
    synthetic_size = spec.synthetic_size or getattr(cfg, "synthetic_size", 200)
    index = load_index(spec.dataset, spec.data_dir, synthetic_size=synthetic_size, seed=seed, **(index_options or {}))
    if subset is not None:
        index = subset(index, cfg, seed)
    split_spec = getattr(cfg, "split", "holdout:0.8,0.2")
    if split_spec.startswith("official") and not any(s.split for s in index.samples):
        print(f"{index.name} defines no official split: using {fallback} instead", file=sys.stderr)
        split_spec = fallback
    elif index.name == "synthetic" and split_spec.startswith("count"):
        split_spec = fallback
    by_id = {s.id: s for s in index.samples}
    if fixed_split is not None:
        split = {k: list(v) for k, v in fixed_split.items()}
        missing = [i for v in split.values() for i in v if i not in by_id]
        if missing:
            from common.data.errors import DataError

            raise DataError(f"the run's split.json names {len(missing)} image(s) that {index.root or index.name} "
                            f"no longer holds ({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); "
                            "restore them, or start a new run")
    else:
        split = make_split(index, split_spec, seed, spec.fold)
        if spec.limit:
            split = {k: v[:spec.limit] for k, v in split.items()}
    samples = {k: [by_id[i] for i in v] for k, v in split.items() if v}
    prepared = PreparedData(index=index, spec=split_spec, split={k: list(v) for k, v in split.items() if v},
                            samples=samples)
    skip_bad, show = spec.skip_bad, progress
    for name, items in samples.items():
        bad: list[dict] = []
        images, masks, kept = load_arrays(index, items, image_hw(cfg), cache_dir=cache_dir,
                                          progress=show, skip_bad=skip_bad, return_samples=True,
                                          skipped_out=bad)
        if len(kept) != len(items):
            prepared.skipped += [{"split": name, **b} for b in bad]
            prepared.samples[name] = kept
            prepared.split[name] = [s.id for s in kept]
        prepared.arrays[name] = (images, masks)
    if prepared.skipped:
        print(f"--skip-bad: left out {len(prepared.skipped)} sample(s) with bad files: "
              f"{', '.join(s['id'] for s in prepared.skipped[:10])}"
              + (" ..." if len(prepared.skipped) > 10 else "") + " (listed in the run's config.json)",
              file=sys.stderr)
    return prepared


# -- prediction and scoring ----------------------------------------------------------------------

def to_model_input(images_uint8: np.ndarray, cfg) -> np.ndarray:
    """The row's colour space, float32 in [0, 1] (encoder input scaling is a layer of the model)."""
    from common.data import to_colour_space

    return to_colour_space(images_uint8, getattr(cfg, "colour_space", "rgb")).astype("float32")


def predictor_for(model, cfg, task=None, views=None, name: str = ""):
    """The predict function of one run: its model on the row's input, the task's output."""
    from common.training.tasks import IDENTITY, Member, Predictor, SegmentationTask

    task = task or SegmentationTask()
    return Predictor([Member(model, lambda x: to_model_input(x, cfg), name)], task.output,
                     views=views or (IDENTITY,), spatial=task.spatial)


def predict_probabilities(model, images_uint8: np.ndarray, cfg, batch_size: int = 8,
                          progress: bool = False) -> np.ndarray:
    """Mask probabilities ``[N, H, W]`` at the model's input size (one model, no test-time views)."""
    if len(images_uint8) == 0:
        return np.zeros((0,) + image_hw(cfg), "float32")
    return predictor_for(model, cfg)(images_uint8, batch_size=batch_size, progress=progress)


def resize_probability(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of one probability map to ``shape`` (see :mod:`common.training.tasks`)."""
    from common.training.tasks import resize_probability as resize

    return resize(prob, shape)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
