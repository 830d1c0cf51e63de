"""What a dataset is made of: `Sample` records collected in a `DatasetIndex`."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: The five dermoscopic attributes of ISIC 2018 Task 2, in the order their masks are stacked.
ATTRIBUTES = ("globules", "milia_like_cyst", "negative_network", "pigment_network", "streaks")


@dataclass(frozen=True)
class Sample:
    """One image of a dataset and what belongs to it.

    Args:
        id: identifier, e.g. ``"ISIC_0024311"``, ``"IMD010"``, ``"synthetic_00007"``.
        image: path of the image file (``None`` for synthetic samples).
        mask: path of the binary lesion mask; ``None`` where the dataset has none (classification
            datasets, ISIC 2018 validation/test without ground truth, synthetic samples).
        attributes: ISIC 2018 Task 2 ``(attribute, mask path)`` pairs in `ATTRIBUTES` order.
        label: class index into `DatasetIndex.classes`, ``None`` when unknown.
        split: ``"train"``, ``"val"`` or ``"test"`` where the dataset defines an official split.
    """

    id: str
    image: str | None
    mask: str | None
    attributes: tuple[tuple[str, str], ...] = ()
    label: int | None = None
    split: str | None = None


@dataclass
class DatasetIndex:
    """All samples of one dataset found in one folder.

    Args:
        name: ``"isic2016"``, ``"isic2017"``, ``"isic2018"``, ``"isic2018_task2"``, ``"isic2019"``,
            ``"ph2"`` or ``"synthetic"``.
        root: the folder the dataset was found in (``None`` for synthetic data).
        samples: the samples, sorted by split then id.
        classes: class names that `Sample.label` indexes, ``None`` without labels.
        problems: human-readable problems found while indexing, each naming its file.
        meta: extra facts (for synthetic data: ``seed`` and ``n_classes``).
    """

    name: str
    root: str | None
    samples: list[Sample]
    classes: list[str] | None = None
    problems: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def by_split(self, split: str | None) -> list[Sample]:
        """The samples whose `Sample.split` equals ``split``."""
        return [s for s in self.samples if s.split == split]

    def by_id(self, ids) -> list[Sample]:
        """The samples with the given ids, in that order; a missing id raises ``KeyError``."""
        lookup = {s.id: s for s in self.samples}
        missing = [i for i in ids if i not in lookup]
        if missing:
            raise KeyError(f"{len(missing)} id(s) not in dataset {self.name!r}, e.g. {missing[:3]}")
        return [lookup[i] for i in ids]

    def split_counts(self) -> dict[str, int]:
        """Number of samples per split (``"none"`` for samples without one)."""
        return dict(Counter(s.split or "none" for s in self.samples))

    def class_counts(self) -> dict[str, int]:
        """Number of samples per class name (``"unlabelled"`` for samples without a label)."""
        counts = Counter(s.label for s in self.samples)
        out = {name: counts[k] for k, name in enumerate(self.classes or []) if counts[k]}
        if counts[None]:
            out["unlabelled"] = counts[None]
        return out

    def __len__(self) -> int:
        return len(self.samples)
