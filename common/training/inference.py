"""One run's predict function: its model on the row's input (colour space, float32 in [0, 1]),
the task's output; the test-time views and ensembles plug into the same
:class:`~common.training.tasks.Predictor`."""
from __future__ import annotations

import numpy as np

from common.config import image_hw


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
