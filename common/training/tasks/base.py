"""What a task owns: targets, batches, views, post-processing, scores, submission files, monitors.

The runner (:mod:`common.training.commands`) owns what every kind of work shares; a :class:`Task`
owns what differs between lesion masks, attribute masks and class labels. A paper declares a task
per row; the runner asks it for its batches, its validation metrics, the checkpoints to keep (one
per :class:`Monitor`), how to post-process and score predictions and how to write them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Monitor:
    """A checkpoint the run keeps: the weights of the epoch with the best ``metric``.

    Args:
        name: the checkpoint's name (``--checkpoint NAME`` of evaluate and predict).
        metric: a history column, e.g. ``"val_jaccard"`` or ``"val_loss"``.
        mode: ``"max"`` or ``"min"``.
    """

    name: str
    metric: str
    mode: str = "max"

    def __post_init__(self):
        if self.mode not in ("max", "min"):
            raise ValueError(f"monitor {self.name}: mode must be 'max' or 'min', not {self.mode!r}")

    def better(self, score: float | None, best: float) -> bool:
        return score is not None and math.isfinite(score) and (
            score > best if self.mode == "max" else score < best)

    @property
    def worst(self) -> float:
        return -math.inf if self.mode == "max" else math.inf


def checkpoint_file(monitors: Sequence[Monitor], name: str | None = None) -> str:
    """File of a monitor's checkpoint: the first monitor's is ``best.weights.h5`` (every run has it),
    the others ``best_<name>.weights.h5``."""
    if name is None or name == monitors[0].name:
        return "best.weights.h5"
    if name not in [m.name for m in monitors]:
        raise KeyError(name)
    return f"best_{name}.weights.h5"


def history_column(monitors: Sequence[Monitor], name: str) -> str:
    """History column marking the epochs a monitor's checkpoint was written (``best`` for the first)."""
    return "best" if name == monitors[0].name else f"best_{name}"


@dataclass(frozen=True)
class PostProcess:
    """From a probability map to a binary mask.

    ``kind="threshold"``: ``prob >= threshold``. ``kind="double"``: the transfer ensemble's
    double-threshold reconstruction (:func:`common.postprocess.double_threshold`) with ``t_high`` and
    ``t_low`` chosen on validation predictions (:meth:`Task.tune`); ``largest`` keeps the largest
    marker object (lesions) or every object (attributes).
    """

    kind: str = "threshold"
    threshold: float = 0.5
    t_high: float | None = None
    t_low: float | None = None
    largest: bool = True
    chosen_on: str | None = None         # which images chose (t_high, t_low), e.g. "val (40 images)"
    score: float | None = None           # their score at the chosen pair

    KINDS = ("threshold", "double")

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise ValueError(f"post-processing {self.kind!r}: choose one of {', '.join(self.KINDS)}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold {self.threshold}: give a probability in [0, 1]")

    @property
    def tuned(self) -> bool:
        return self.kind == "threshold" or (self.t_high is not None and self.t_low is not None)

    def __call__(self, prob: np.ndarray) -> np.ndarray:
        if self.kind == "threshold":
            return prob >= self.threshold
        if not self.tuned:
            raise ValueError("double-threshold post-processing has no (T_H, T_L) yet: tune it on "
                             "validation predictions first")
        from common.postprocess import double_threshold

        return double_threshold(prob, self.t_high, self.t_low, largest=self.largest).astype(bool)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "PostProcess":
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def describe(self) -> str:
        if self.kind == "threshold":
            return f"threshold {self.threshold:g}"
        pair = (f"T_H {self.t_high:g}, T_L {self.t_low:g}" if self.tuned else "T_H, T_L not chosen yet")
        return f"double threshold ({pair}" + (f", chosen on {self.chosen_on}" if self.chosen_on else "") + ")"


@dataclass
class Scored:
    """What :meth:`Task.score` returns: the mean scores, one row per image, and extras (confusion
    matrix, per-class or per-attribute scores) that the record keeps."""

    mean: dict[str, float]
    per_image: list[dict]
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"mean": self.mean, "per_image": self.per_image, **self.extra}


class Task:
    """Base of the tasks. Subclasses set the class attributes and implement the methods.

    Attributes:
        kind: ``"segmentation"``, ``"attributes"`` or ``"classification"``.
        metrics: the score names the console, ``metrics.json`` and the tables show, in order.
        monitors: the checkpoints a run keeps; the first is the run's main checkpoint.
        spatial: outputs are maps (views' inverse transforms apply; resized to each image's size).
    """

    kind: str = "task"
    metrics: tuple[str, ...] = ()
    monitors: tuple[Monitor, ...] = ()
    spatial: bool = True
    #: the targets come from the decoded masks (a split without masks has none); classes: from labels
    targets_from_masks: bool = True
    #: the output is thresholded and cleaned (``--postprocess``/``--threshold`` apply); classes: argmax
    post_processed: bool = True
    #: what ``predict`` writes, in words, and whether it is one file for all images (a CSV)
    output_words: str = "masks"
    one_output_file: bool = False

    @property
    def group(self) -> str:
        """Runs that can be evaluated or averaged together share a group (one attribute per group)."""
        return ""

    def record_fields(self) -> dict:
        """What ``metrics.json`` says of the task beyond its kind (an attribute task: the attribute)."""
        return {}

    def rule(self, post: "PostProcess") -> str:
        """How an output becomes the final prediction, in words."""
        return post.describe() if self.post_processed else "argmax"

    def bind(self, cfg) -> "Task":
        """This task for one row's config (the runner calls it once per run); default: itself."""
        return self

    # -- data ------------------------------------------------------------------------------------
    def index_options(self) -> dict:
        """Extra arguments of ``load_index`` the task needs (e.g. synthetic attribute masks)."""
        return {}

    def targets(self, masks: np.ndarray | None, samples: Sequence) -> Any:
        """The training/scoring targets of a split from its decoded masks and its samples."""
        raise NotImplementedError

    def select_training(self, targets, seed: int, cfg) -> np.ndarray | None:
        """Indices of the training images to keep (``None``: all of them)."""
        return None

    def batches(self, images: np.ndarray, targets, cfg, *, seed: int, augment: Callable | None,
                shuffle: bool, drop_remainder: bool):
        raise NotImplementedError

    def output(self, prediction: np.ndarray) -> np.ndarray:
        """The task's output from a model's raw batch prediction (segmentation: channel 0)."""
        return prediction[..., 0]

    def empty_outputs(self, n: int, hw: tuple[int, int]) -> np.ndarray:
        return np.zeros((n,) + tuple(hw), np.float32)

    # -- validation, post-processing and scores --------------------------------------------------
    def validation(self, outputs: np.ndarray, targets, samples, loss_fn: Callable | None = None,
                   wanted: Sequence[str] = ()) -> dict[str, float]:
        """Metrics of the validation predictions, keys prefixed ``val_`` (the monitors read them)."""
        raise NotImplementedError

    def postprocess(self, cfg) -> PostProcess:
        """The row's post-processing before tuning."""
        return PostProcess(kind=getattr(cfg, "postprocess", "threshold"),
                           threshold=float(getattr(cfg, "threshold", 0.5)), largest=True)

    def tune(self, post: PostProcess, outputs, targets, chosen_on: str) -> PostProcess:
        """Choose what post-processing leaves open (double threshold: T_H, T_L) on these predictions."""
        return post

    def score(self, samples, outputs: np.ndarray, targets, *, native: bool, post: PostProcess,
              classes: Sequence[str] | None = None) -> Scored:
        """Challenge scores of the outputs; ``native``: at each image's own size where files exist."""
        raise NotImplementedError

    def has_truth(self, sample) -> bool:
        """Whether a sample has this task's ground truth (a mask; attributes and classes override)."""
        return bool(sample.mask)

    def record_classes(self, record: dict):
        """The class names a run of this task recorded (the CSV columns ``predict`` writes), or None."""
        return None

    def check_data(self, index, split: dict, cfg) -> dict:
        """Refuse data this row cannot learn (a ``ConfigError`` naming the fix) and say what the run
        should know about it; returns what the record keeps of the data (e.g. its classes)."""
        return {}

    def output_key(self, image_path: Path) -> str:
        """What identifies an input's prediction in the output: its file name, or its CSV row id.
        Two inputs with one key would overwrite each other, so ``predict`` refuses them."""
        from common.data.names import submission_stem

        return submission_stem(image_path)

    def output_files(self, image_paths: Sequence[Path]) -> list[str]:
        """The names of the files ``write`` creates for these inputs (in the output folder)."""
        return [self.output_key(Path(p)) for p in image_paths]

    def write(self, out_dir: Path, items: Sequence[tuple[Path, tuple[int, int]]], outputs: np.ndarray,
              post: PostProcess, classes: Sequence[str] | None = None) -> list[Path]:
        """Write predictions in the challenge's submission format; ``items``: (image path, (H, W))."""
        raise NotImplementedError


def loss_in_batches(loss_fn: Callable, targets: np.ndarray, outputs: np.ndarray, batch: int = 16) -> float:
    """The mean of a Keras loss over (target, output) batches, weighted by batch size."""
    import keras

    total, n = 0.0, 0
    for start in range(0, len(outputs), batch):
        y = np.asarray(targets[start:start + batch], np.float32)
        p = np.asarray(outputs[start:start + batch], np.float32)
        value = float(np.asarray(keras.ops.convert_to_numpy(loss_fn(y, p))).mean())
        total += value * len(p)
        n += len(p)
    return total / max(n, 1)
