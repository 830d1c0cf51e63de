"""Finding datasets in a folder: `discover` and `load_index`."""
from __future__ import annotations

import re
from pathlib import Path

from .errors import DataError
from .folders import Problems, dirs
from .readers import LAYOUTS
from .samples import DatasetIndex
from .synthetic import synthetic_index

#: Dataset names `load_index` accepts.
DATASETS = ("synthetic", *LAYOUTS)
#: How far below the given folder datasets are looked for (official folders may nest once more).
SEARCH_DEPTH = 2
_OFFICIAL = [re.compile(p, re.IGNORECASE) for layout in LAYOUTS.values() for p in layout.folders]


def known_layouts() -> str:
    """A human-readable list of the layouts the readers know."""
    return "\n".join(f"  {name:15s} {layout.description}" for name, layout in LAYOUTS.items())


def locate(root) -> list[tuple[str, Path]]:
    """``(layout name, dataset folder)`` for every known layout found in ``root`` or up to
    `SEARCH_DEPTH` folders below it, without reading the datasets.

    Raises:
        DataError: ``root`` does not exist or is not a folder.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"{root}: data folder does not exist; pass the folder holding the dataset")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, not a folder; pass the folder holding the dataset")
    found, queue = [], [(root, 0)]
    while queue:
        folder, depth = queue.pop(0)
        found += [(name, folder) for name, layout in LAYOUTS.items() if layout.detect(folder)]
        if depth < SEARCH_DEPTH:
            queue += [(d, depth + 1) for d in dirs(folder)
                      if not any(rx.fullmatch(d.name) for rx in _OFFICIAL)]
    return found


def discover(root, *, errors: str = "collect") -> list[DatasetIndex]:
    """Every known dataset layout found under ``root`` (also inside the nested folders zips unpack to).

    Args:
        root: folder to search (the dataset folder itself or a folder up to two levels above it).
        errors: what an unusable label record does: ``"collect"`` (record it in ``problems``),
            ``"skip"`` (warn and drop the sample) or ``"raise"`` (`DataError`).

    Returns:
        One `DatasetIndex` per dataset found (empty list when none is).
    """
    return [LAYOUTS[name].read(folder, Problems(errors)) for name, folder in locate(root)]


def no_layout_error(root: Path) -> DataError:
    what = "is empty" if root.is_dir() and not any(root.iterdir()) else "holds no known dataset layout"
    hint = ""
    if any(rx.fullmatch(root.name) for rx in _OFFICIAL):
        hint = f"\n{root.name} is one of a dataset's official folders: pass its parent folder {root.parent}"
    return DataError(f"{root}: folder {what} (searched {SEARCH_DEPTH} levels down). Known layouts:\n"
                     f"{known_layouts()}{hint}")


def load_index(dataset: str = "auto", data_dir=None, *, synthetic_size: int = 200, seed: int = 0,
               skip_bad: bool = False, n_classes: int = 3, attributes: bool = False) -> DatasetIndex:
    """The index of one dataset.

    Args:
        dataset: ``"auto"`` (the single dataset found in ``data_dir``; synthetic without one),
            ``"synthetic"`` or a layout name (``"isic2016"``, ``"isic2017"``, ``"isic2018"``,
            ``"isic2018_task2"``, ``"isic2019"``, ``"ph2"``).
        data_dir: folder holding the dataset; ``None`` gives the synthetic dataset.
        synthetic_size: number of synthetic samples.
        seed: synthetic dataset seed.
        skip_bad: drop unusable label records with a warning instead of raising `DataError`.
        n_classes: synthetic classes.
        attributes: synthetic data with the five attribute masks in place of the lesion mask.

    Raises:
        DataError: unknown dataset name, missing folder, no or several matching layouts, no samples,
            or an unusable label file/record (unless ``skip_bad``).
    """
    if dataset not in ("auto", *DATASETS):
        raise DataError(f"unknown dataset {dataset!r}; known: auto, {', '.join(DATASETS)}")
    if dataset == "synthetic" or (data_dir is None and dataset == "auto"):
        return synthetic_index(synthetic_size, seed, n_classes, attributes=attributes)
    if data_dir is None:
        raise DataError(f"dataset {dataset!r} needs a data folder (data_dir / --data-dir)")
    root = Path(data_dir).expanduser()
    found = locate(root)
    if not found:
        raise no_layout_error(root)
    wanted = [(n, f) for n, f in found if dataset in ("auto", n)]
    listing = ", ".join(f"{n} in {f}" for n, f in found)
    if not wanted:
        raise DataError(f"{root}: no {dataset} layout found (found {listing}). Known layouts:\n{known_layouts()}")
    if len(wanted) > 1:
        raise DataError(f"{root}: several datasets found ({', '.join(f'{n} in {f}' for n, f in wanted)}); "
                        f"choose one with dataset=<name> or point data_dir at one of them")
    name, folder = wanted[0]
    index = LAYOUTS[name].read(folder, Problems("skip" if skip_bad else "raise"))
    if not index.samples:
        raise DataError(f"{folder}: the {name} layout was found but holds no samples "
                        f"({'; '.join(index.problems[:3]) or 'no images'})")
    return index
