"""The run library: open a finished run, re-open the data it was scored on, make its predict function
(:class:`~common.training.tasks.Predictor`: the run's network behind its input conversion, with
test-time views and ensembles).

Everything that reads a run folder goes through here: ``evaluate``, ``predict``, the results
tables, the notebooks, SLSNet's probe, the transfer ensemble's ensemble and submission, and the
comparison command. A run folder is what ``train`` writes (``config.json``, ``split.json``,
``checkpoints/``, ...); see the README's "Every train command".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.config import ConfigError, config_from_dict, image_hw
from common.training.inference import to_model_input
from common.training.paper import Paper
from common.training import records

__all__ = ["LoadedRun", "open_run", "load_run", "checkpoint_names", "ensemble_predictor", "another_dataset",
           "evaluation_samples", "load_samples", "collect_images", "mask_name", "run_classes"]


@dataclass
class LoadedRun:
    """A finished run: its folder, config, record, task and model with the chosen checkpoint."""

    run_dir: Path
    cfg: object
    record: dict
    task: object
    model: object
    checkpoint: str
    subset: object = None          # the paper's (index, cfg, seed) -> index, applied as in training


def checkpoint_names(task, run_dir: Path) -> list[str]:
    """The checkpoints a run kept (its monitors' names), from ``state.json``."""
    state = records.load_json(run_dir / "state.json") if (run_dir / "state.json").exists() else {}
    kept = list(state.get("checkpoints", {}))
    return kept or [task.monitors[0].name]


def open_run(paper: Paper, run_dir: str | Path, checkpoint: str | None = None) -> LoadedRun:
    """A run folder's config, record, task and network with a kept checkpoint's weights
    (default: the run's main checkpoint, ``best.weights.h5``)."""
    from common.training.tasks import checkpoint_file

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json)")
    record = records.load_json(cfg_path)
    if record.get("paper") not in (None, paper.name):
        raise ConfigError(f"{run_dir} is a {record['paper']} run, not {paper.name}")
    row_cfg = paper.rows.get(record["row"])
    if row_cfg is None:
        raise ConfigError(f"{run_dir}: row {record['row']!r} is not a row of {paper.name}")
    cfg = config_from_dict(type(row_cfg), record["config"])
    task = paper.task_for(cfg)
    names = [m.name for m in task.monitors]
    kept = checkpoint_names(task, run_dir)
    if checkpoint is not None and checkpoint not in names:
        raise ConfigError(f"--checkpoint {checkpoint}: this row keeps {', '.join(names)}")
    if checkpoint is not None and checkpoint not in kept:
        raise ConfigError(f"--checkpoint {checkpoint}: {run_dir} kept only {', '.join(kept)} "
                          f"(a run without a validation part keeps its last epoch as {names[0]})")
    name = checkpoint or names[0]
    weights = run_dir / "checkpoints" / checkpoint_file(task.monitors, name)
    if not weights.exists():
        raise ConfigError(f"{run_dir} has no checkpoints/{weights.name} yet: train (or --resume) it first")
    model = paper.build_network(cfg)
    model.load_weights(str(weights))
    return LoadedRun(run_dir, cfg, record, task, model, name, paper.subset)


def load_run(paper: Paper, run_dir: str | Path, checkpoint: str | None = None):
    """Config, record and the network with its best weights, from a run folder."""
    run = open_run(paper, run_dir, checkpoint)
    return run.cfg, run.record, run.model


def ensemble_predictor(runs: list[LoadedRun], views, task):
    """One predict function over the runs (an ensemble when several): same task and image size."""
    from common.training.tasks import Member, Predictor

    sizes = {image_hw(r.cfg) for r in runs}
    if len(sizes) > 1:
        raise ConfigError(f"the runs of an ensemble must share an image size; these have "
                          f"{', '.join('x'.join(map(str, s)) for s in sorted(sizes))}")
    kinds = {r.task.kind for r in runs}
    if len(kinds) > 1:
        raise ConfigError(f"the runs of an ensemble must be one kind of task, not {', '.join(sorted(kinds))}")
    members = [Member(r.model, (lambda c: (lambda x: to_model_input(x, c)))(r.cfg), str(r.run_dir))
               for r in runs]
    return Predictor(members, task.output, views=views, spatial=task.spatial)


def another_dataset(data_dir, record: dict) -> bool:
    """Whether ``data_dir`` names a dataset other than the run's own. The run's own folder, however
    it is spelt (a trailing slash, a relative path, a link), keeps the run's split: scoring it whole
    would score the images the run trained on."""
    if not data_dir:
        return False
    own = record.get("data_dir")
    return not own or Path(data_dir).resolve() != Path(own).resolve()


def run_index(run: LoadedRun):
    """The run's own dataset, re-opened as training opened it: the recorded dataset and folder, the
    synthetic size and seed, the task's index options and the paper's subset."""
    from common.data import load_index

    record = run.record
    index = load_index(record["dataset"], record.get("data_dir"),
                       synthetic_size=record.get("synthetic_size") or getattr(run.cfg, "synthetic_size", 200),
                       seed=record.get("seed", 0), **run.task.index_options())
    if run.subset is not None:
        index = run.subset(index, run.cfg, record.get("seed", 0))
    return index


def evaluation_samples(run: LoadedRun, split: str = "test", data_dir=None, dataset: str | None = None):
    """The images to score: the run's split part (``split``: train, val, test or all; test falls
    back to val when the split has none), or every image with ground truth of another dataset
    (``data_dir``). Returns ``(index, samples, split scored, the run's split ids or None)``; the
    dataset is re-opened with the task's index options and the paper's subset, as in training."""
    from common.data import load_index
    from common.data.splits import load_split

    record = run.record
    options = run.task.index_options()
    if another_dataset(data_dir, record):
        index = load_index(dataset or "auto", data_dir, **options)
        if run.subset is not None:
            index = run.subset(index, run.cfg, record.get("seed", 0))
        samples = [s for s in index.samples if run.task.has_truth(s)]
        if not samples:
            raise ConfigError(f"{data_dir}: no images with ground truth to score")
        return index, samples, "all", None
    index = run_index(run)
    split_ids = load_split(run.run_dir / "split.json")
    if split == "test" and "test" not in split_ids:
        split = "val"
    ids = [i for part in split_ids.values() for i in part] if split == "all" else split_ids.get(split, [])
    if not ids:
        raise ConfigError(f"the run's split has no {split!r} part (it has {', '.join(split_ids)})")
    by_id = {s.id: s for s in index.samples}
    return index, [by_id[i] for i in ids], split, split_ids


def load_samples(index, samples, cfg, cache_dir=None, progress: bool = True):
    """The samples' images and targets decoded at the run's size, through the cache."""
    from common.data import load_arrays

    return load_arrays(index, samples, image_hw(cfg), cache_dir=cache_dir, progress=progress)


def collect_images(paths: Sequence[str]) -> list[Path]:
    """The image files named, and those in the folders named (recursively), in order."""
    from common.data.names import IMAGE_SUFFIXES, is_input_image

    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if is_input_image(f)))
        elif p.exists():
            files.append(p)
        else:
            raise ConfigError(f"{p}: no such file or folder")
    if not files:
        raise ConfigError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {', '.join(paths)}")
    return files


def mask_name(image_path: Path) -> str:
    """ISIC submission name: ``ISIC_0012345_segmentation.png`` (other names: ``<stem>_segmentation.png``)."""
    from common.data.names import mask_name as name

    return name(image_path)


def run_classes(run: LoadedRun):
    """Class names for a classifier's CSV columns, as the run recorded them (None for other tasks)."""
    return run.task.record_classes(run.record)
