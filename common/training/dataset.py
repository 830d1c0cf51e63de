"""A run's dataset: the images and masks (or labels) of each part of its split, decoded at the
row's size (cached), with what ``--skip-bad`` left out."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from common.config import image_hw
from common.data.splits import make_split


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
