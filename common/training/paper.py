"""A paper package's one declaration of itself (:class:`Paper`) and what it hands the runner for
one row (:class:`TrainingParts`).

A paper package declares itself once with a :class:`Paper` (its rows, tables and published
numbers, a task per row, how to build its models and training step, its augmentation); ``train_main``
(:mod:`common.training.commands`), ``evaluate_main`` (:mod:`common.training.evaluation`) and
``predict_main`` (:mod:`common.training.prediction`) do the rest, the same way for every paper, and
the row's :class:`~common.training.tasks.Task` decides what differs between lesion masks, attribute
masks and classes. A declaration imports no backend: the commands import it after reading their
arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from common.config import ConfigError


@dataclass
class TrainingParts:
    """What a paper hands the runner for one row."""

    step: Any                               # common.training.steps.Step
    models: Mapping[str, Any]               # everything the checkpoint holds
    optimizers: Mapping[str, Any]
    network: Any                            # the Keras model whose output the task reads (mask map, class vector)
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
        build_network: ``(cfg) -> keras.Model``: the row's network whose output the task reads
            (weights loaded afterwards from the run; a :class:`~common.training.tasks.Predictor`
            wraps it with the input conversion, the test-time views and ensembles).
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
        tables: the paper's tables: table name -> its rows, in the paper's order (``TABLES`` of its
            configs); the results tables, the notebooks and the tests read them from here.
        published: the paper's own numbers: table name -> row -> metric -> number (``PUBLISHED``
            of its configs).
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
    build_network: Callable
    task: Any = None
    augment: Callable | None = None
    offline_expand: Callable | None = None
    weights_choices: tuple[str, ...] = ("imagenet", "none", "PATH")
    synthetic_defaults: Mapping[str, Any] = field(default_factory=dict)
    fallback_split: str = "holdout:0.8,0.2"
    size_multiple: Callable[[Any], int] | int = 32   # image sides must divide by it (the net's stride)
    subset: Callable | None = None
    tables: Mapping[str, Any] = field(default_factory=dict)
    published: Mapping[str, Any] = field(default_factory=dict)
    #: ``cfg -> int | None``: the most images per device one training step of the row should take
    #: to fit an 11 GB card (:data:`common.training.memory.BUDGET_GB`); where the row's batch is
    #: larger, it trains as micro-batches whose gradients make one update (``--accumulate``, which
    #: overrides it), so the effective batch is still the row's. None: any batch the row sets.
    micro_batch: Callable[[Any], int | None] | None = None
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


def lazy(target: str) -> Callable:
    """``"package.module:function"`` as a function that imports its module on the first call: a
    paper's declaration names model-module rules (the image-stride rule) without importing the
    backend, so ``--help``, the registry and ``--verbose`` work before Keras is loaded."""
    module_name, _, attribute = target.partition(":")
    resolved: list[Callable] = []

    def call(*args, **kwargs):
        if not resolved:
            import importlib

            resolved.append(getattr(importlib.import_module(module_name), attribute))
        return resolved[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__doc__ = f"{target} (imported on first use)"
    return call


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
