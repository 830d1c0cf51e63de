"""What training and evaluation share after the predictions: each split's targets as the task reads
them, post-processing tuned on the validation predictions, and the printed score tables."""
from __future__ import annotations

from pathlib import Path

from common.config import ConfigError

def split_targets(task, data) -> dict:
    """Each split's targets as the task reads them (masks, one attribute's masks, class labels)."""
    out = {}
    for name, (_, masks) in data.arrays.items():
        if masks is None and task.targets_from_masks:
            out[name] = None
            continue
        try:
            out[name] = task.targets(masks, data.samples[name])
        except ValueError as exc:
            raise ConfigError(f"{data.index.name} ({name} part): {exc}") from exc
    return out


def tuned_postprocess(task, post, val_outputs, val_targets):
    """Post-processing with what it leaves open (T_H, T_L) chosen on the validation predictions."""
    if post.tuned:
        return post
    if val_outputs is None:
        raise ConfigError("double-threshold post-processing chooses (T_H, T_L) on validation "
                          "predictions, and this run has no validation part: use a split with one "
                          "(e.g. holdout:0.7,0.1,0.2) or --postprocess threshold")
    return task.tune(post, val_outputs, val_targets, chosen_on=f"val ({len(val_outputs)} images)")



def print_scores(by_checkpoint: dict, run_dir: Path, keys=None, main: str | None = None) -> None:
    """One table per kept checkpoint: a row per scored split, a column per metric of the task."""
    from common.training.tasks.segmentation import SEGMENTATION_METRICS

    keys = list(keys or SEGMENTATION_METRICS)
    widths = [max(len(k), 6) + 2 for k in keys]
    for name, scores in by_checkpoint.items():
        if len(by_checkpoint) > 1:
            print(f"checkpoint {name}" + (" (main)" if name == main else "") + ":")
        print(f"{'split':<6}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths)))
        for split, mean in scores.items():
            print(f"{split:<6}" + "".join(f"{mean.get(k, float('nan')):>{w}.4f}" for k, w in zip(keys, widths)))
    print(f"run folder: {run_dir}")
