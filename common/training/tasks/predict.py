"""The predict function: the one place where test-time augmentation and ensembles plug in.

A :class:`View` transforms a batch of images and maps the model's output back (a flip is its own
inverse; a class vector needs no inverse). :class:`Predictor` runs every member model (the runs of
an ensemble) on every view, maps each output back, and averages: first over the views of a member,
then over the members. One member with the identity view is exactly ``model.predict_on_batch``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from common.training.scale import predict_on_batch


@dataclass(frozen=True)
class View:
    """A test-time view: ``forward`` on uint8 images [B, H, W, 3], ``inverse`` on outputs [B, H, W(, C)]."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


def _same(x):
    return x


IDENTITY = View("identity", _same, _same)
HFLIP = View("hflip", lambda x: x[:, :, ::-1], lambda y: y[:, :, ::-1])
VFLIP = View("vflip", lambda x: x[:, ::-1], lambda y: y[:, ::-1])
HVFLIP = View("hvflip", lambda x: x[:, ::-1, ::-1], lambda y: y[:, ::-1, ::-1])

#: Named view sets of ``--tta``. Papers may register more (the transfer ensemble's 25 views).
TTA_SETS: dict[str, tuple[View, ...]] = {
    "none": (IDENTITY,),
    "hflip": (IDENTITY, HFLIP),
    "flip": (IDENTITY, HFLIP, VFLIP, HVFLIP),
}


def tta_views(name: str) -> tuple[View, ...]:
    """The views of a named set; an unknown name is an error listing the known ones."""
    try:
        return TTA_SETS[name]
    except KeyError:
        raise ValueError(f"--tta {name!r}: choose one of {', '.join(TTA_SETS)}") from None


@dataclass
class Member:
    """One model of an ensemble and how its input is made (the run's config: its colour space)."""

    model: object
    to_input: Callable[[np.ndarray], np.ndarray]
    name: str = ""


class Predictor:
    """Average of ``members`` over ``views``; ``output`` picks the task's output from a raw prediction.

    Args:
        members: the models (one per run of an ensemble).
        output: raw batch prediction -> the task's output (segmentation: channel 0 of a sigmoid map;
            classification: the softmax vector).
        views: the test-time views (default: the image as it is).
        spatial: outputs are maps that the views' inverses apply to; class vectors are not.
    """

    def __init__(self, members: Sequence[Member], output: Callable[[np.ndarray], np.ndarray],
                 views: Sequence[View] = (IDENTITY,), spatial: bool = True):
        if not members:
            raise ValueError("a predictor needs at least one model")
        if not views:
            raise ValueError("a predictor needs at least one view")
        self.members, self.output, self.views, self.spatial = list(members), output, tuple(views), spatial

    def describe(self) -> dict:
        return {"members": [m.name for m in self.members], "views": [v.name for v in self.views]}

    def _member_batch(self, member: Member, images: np.ndarray) -> np.ndarray:
        total = None
        for view in self.views:
            x = member.to_input(np.ascontiguousarray(view.forward(images)))
            out = self.output(np.asarray(predict_on_batch(member.model, x)))
            if self.spatial:
                out = view.inverse(out)
            out = np.asarray(out, np.float32)
            total = out if total is None else total + out
        return total if len(self.views) == 1 else total / np.float32(len(self.views))

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        total = None
        for member in self.members:
            out = self._member_batch(member, images)
            total = out if total is None else total + out
        return total if len(self.members) == 1 else total / np.float32(len(self.members))

    def __call__(self, images_uint8: np.ndarray, batch_size: int = 8, progress: bool = False) -> np.ndarray:
        out = []
        starts = range(0, len(images_uint8), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="predict", leave=False, file=sys.stderr)
        for start in starts:
            out.append(self.predict_batch(np.asarray(images_uint8[start:start + batch_size])))
        if not out:
            raise ValueError("no images to predict")
        return np.concatenate(out, axis=0)
