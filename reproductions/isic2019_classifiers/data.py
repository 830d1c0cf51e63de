"""The thesis's data (chapter 5): ISIC 2019's classes, Table 5.1, and the three experiments' splits.

- ``standard`` (section 5.2): every image, 70 % train / 10 % validation / 20 % test, stratified by
  class (the thesis does not say it stratified; with DF at 239 images an unstratified draw can leave a
  validation part with a handful of them, so ours is stratified).
- ``balanced`` (section 5.3): AK, DF, VASC and SCC grouped into one class (867 + 239 + 253 + 628 =
  1987 images, exactly the thesis's 1987 per class), 1987 drawn from each of MEL, NV, BCC and BKL:
  5 classes, 9935 images, then split 70 / 10 / 20 as above.
- ``cv`` (section 5.4): 5 stratified folds over every image; in each stage 4 folds train and 1 tests,
  and 12.5 % of the 4 training folds (stratified) is the validation part.

Every function takes ``ids`` and ``labels`` (class indices into ``classes``) and a seed; the same seed
gives the same split. The splits are written with each run (``split.json``), as for the other papers.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from common.data import splits
from common.data.names import ISIC2019_CLASSES

#: The eight diagnostic classes with images (UNK is in the CSV's columns but has none).
CLASSES = tuple(c for c in ISIC2019_CLASSES if c != "UNK")
NAMES = {"MEL": "Melanoma", "NV": "Melanocytic nevus", "BCC": "Basal cell carcinoma",
         "AK": "Actinic keratosis", "BKL": "Benign keratosis", "DF": "Dermatofibroma",
         "VASC": "Vascular lesion", "SCC": "Squamous cell carcinoma"}
#: Table 5.1 of the thesis, as printed.
TABLE_5_1 = {"MEL": 4522, "NV": 12875, "BCC": 3323, "AK": 867, "BKL": 2624, "DF": 239, "VASC": 253, "SCC": 628}
#: Section 5.3: the four least common classes become one; 1987 images of each of the five classes.
GROUPED = ("AK", "DF", "VASC", "SCC")
BALANCED_CLASSES = ("MEL", "NV", "BCC", "BKL", "+".join(GROUPED))
BALANCED_PER_CLASS = 1987
EXPERIMENTS = ("standard", "balanced", "cv")


def class_counts(labels: Sequence[int], classes: Sequence[str] = CLASSES) -> dict[str, int]:
    counts = Counter(int(v) for v in labels)
    return {name: counts.get(i, 0) for i, name in enumerate(classes)}


def table_5_1(labels: Sequence[int], classes: Sequence[str] = CLASSES) -> tuple[str, list[dict]]:
    """Table 5.1 regenerated from a ground-truth CSV's labels, beside the thesis's numbers."""
    ours = class_counts(labels, classes)
    lines = ["## Table 5.1: samples per class of ISIC 2019", "",
             "Counted from the ground-truth CSV (`python -m reproductions.isic2019_classifiers.table`).", "",
             "| Class | Label | thesis | ours (CSV) |", "|---|---|---|---|"]
    rows = []
    for name in classes:
        paper = TABLE_5_1.get(name)
        lines.append(f"| {NAMES.get(name, name)} | {name} | {paper if paper is not None else '—'} | {ours[name]} |")
        rows.append({"class": name, "name": NAMES.get(name, name), "thesis": paper, "ours": ours[name]})
    lines.append(f"| total | | {sum(TABLE_5_1.values())} | {sum(ours.values())} |")
    return "\n".join(lines) + "\n", rows


def standard_split(ids: Sequence[str], labels: Sequence[int], seed: int = 0) -> dict[str, list[str]]:
    """Section 5.2: 70 / 10 / 20, stratified by class."""
    return splits.holdout(list(ids), {"train": 0.7, "val": 0.1, "test": 0.2}, seed, labels=list(labels))


def balanced_subset(ids: Sequence[str], labels: Sequence[int], seed: int = 0,
                    classes: Sequence[str] = CLASSES, per_class: int | None = None
                    ) -> tuple[list[str], list[int]]:
    """Section 5.3: the four rarest classes (AK, DF, VASC, SCC) grouped into one and ``per_class``
    images drawn from each of the five; returns ``(ids, labels)`` with labels indexing
    :data:`BALANCED_CLASSES`.

    ``per_class`` defaults to the smallest of the five classes' counts: on ISIC 2019's 25,331 images
    that is the grouped class's 1987 (the thesis's number; MEL, NV, BCC and BKL all have more), and
    on a part of ISIC 2019 (e.g. the HAM10000 images) the rule still gives five equal classes."""
    index = {name: i for i, name in enumerate(classes)}
    missing = [c for c in (*BALANCED_CLASSES[:4], *GROUPED) if c not in index]
    if missing:
        raise ValueError(f"the balanced experiment needs the classes {', '.join(missing)}")
    grouped = {index[c] for c in GROUPED}
    remap = {index[c]: i for i, c in enumerate(BALANCED_CLASSES[:4])}
    rng = np.random.default_rng([seed, 1987])
    out_ids, out_labels = [], []
    by_class: dict[int, list[str]] = {}
    for sample_id, label in zip(ids, labels):
        by_class.setdefault(int(label), []).append(sample_id)
    group = sorted(i for c in grouped for i in by_class.get(c, []))
    if per_class is None:
        per_class = min(len(group), *(len(by_class.get(label, [])) for label in remap))
        if per_class == 0:
            empty = [classes[label] for label in remap if not by_class.get(label)] or ["+".join(GROUPED)]
            raise ValueError(f"no image of {', '.join(empty)}")
    if len(group) < per_class:
        raise ValueError(f"the grouped class has {len(group)} images, fewer than {per_class}")
    if len(group) > per_class:
        group = sorted(rng.choice(group, per_class, replace=False).tolist())
    for label, new in remap.items():
        pool = sorted(by_class.get(label, []))
        if len(pool) < per_class:
            raise ValueError(f"class {classes[label]} has {len(pool)} images, fewer than {per_class}")
        chosen = sorted(rng.choice(pool, per_class, replace=False).tolist())
        out_ids += chosen
        out_labels += [new] * per_class
    out_ids += group
    out_labels += [len(remap)] * len(group)
    return out_ids, out_labels


def balanced_split(ids: Sequence[str], labels: Sequence[int], seed: int = 0, classes: Sequence[str] = CLASSES
                   ) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Section 5.3's subset split 70 / 10 / 20 (stratified); returns the split and each chosen
    image's label in :data:`BALANCED_CLASSES`."""
    sub_ids, sub_labels = balanced_subset(ids, labels, seed, classes)
    return standard_split(sub_ids, sub_labels, seed), dict(zip(sub_ids, sub_labels))


def cv_split(ids: Sequence[str], labels: Sequence[int], fold: int, seed: int = 0, k: int = 5,
             val_share: float = 0.125) -> dict[str, list[str]]:
    """Section 5.4: stage ``fold`` of a stratified 5-fold cross-validation, 12.5 % of the training
    folds as validation."""
    return splits.kfold(list(ids), k, fold, seed, labels=list(labels), val_share=val_share)


def balanced_accuracy_8_from_5(balanced_accuracy_5: float) -> float:
    """Section 5.3's correction of a 5-class balanced accuracy to the 8-class problem:
    ``M_r = 5/8 · M_b`` (the grouped class answered by its most likely member)."""
    return 5.0 / 8.0 * balanced_accuracy_5
