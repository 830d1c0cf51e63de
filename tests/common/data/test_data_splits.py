"""Splits: sizes, stratification, disjointness, determinism, JSON round trip."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from common.data import DataError, load_index, splits

IDS = [f"ISIC_{i:07d}" for i in range(2594)]
LABELS = np.array([0] * 1500 + [1] * 800 + [2] * 294)


def _check_partition(parts, ids):
    flat = [i for v in parts.values() for i in v]
    assert len(flat) == len(set(flat)) == len(ids) and set(flat) == set(ids)


@pytest.mark.parametrize("fractions, sizes", [
    ({"train": 0.8, "test": 0.2}, {"train": 2075, "test": 519}),
    ({"train": 0.7, "val": 0.1, "test": 0.2}, {"train": 1816, "val": 259, "test": 519}),
])
def test_holdout_sizes_and_partition(fractions, sizes):
    parts = splits.holdout(IDS, fractions, seed=0)
    assert {k: len(v) for k, v in parts.items()} == sizes
    _check_partition(parts, IDS)


def test_holdout_stratified_and_deterministic():
    parts = splits.holdout(IDS, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=3, labels=LABELS)
    lookup = dict(zip(IDS, LABELS))
    for name, frac in (("train", 0.7), ("val", 0.1), ("test", 0.2)):
        counts = Counter(lookup[i] for i in parts[name])
        for c, total in Counter(LABELS).items():
            assert abs(counts[c] - frac * total) <= 1.5
    assert parts == splits.holdout(IDS, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=3, labels=LABELS)
    assert parts != splits.holdout(IDS, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4, labels=LABELS)
    assert parts["test"] == sorted(parts["test"])            # in the order given


def test_fixed_count_aernet():
    parts = splits.fixed_count(IDS, 2094, seed=0)
    assert len(parts["train"]) == 2094 and len(parts["test"]) == 500
    _check_partition(parts, IDS)


def test_kfold_covers_every_id_once_in_test():
    tests = [splits.kfold(IDS, 5, f, seed=1, labels=LABELS)["test"] for f in range(5)]
    assert sorted(len(t) for t in tests) == [518, 519, 519, 519, 519]
    assert sorted(i for t in tests for i in t) == IDS
    fold = splits.kfold(IDS, 5, 2, seed=1, labels=LABELS)
    _check_partition(fold, IDS)
    counts = Counter(dict(zip(IDS, LABELS))[i] for i in fold["test"])
    assert abs(counts[2] - 294 / 5) <= 1


def test_kfold_validation_share():
    fold = splits.kfold(IDS, 5, 0, seed=0, labels=LABELS, val_share=0.125)
    assert set(fold) == {"train", "val", "test"}
    assert len(fold["val"]) == round(0.125 * (len(IDS) - len(fold["test"])))
    _check_partition(fold, IDS)
    assert fold == splits.kfold(IDS, 5, 0, seed=0, labels=LABELS, val_share=0.125)


def test_official_split_and_json_round_trip(tmp_path, build):
    index = load_index("isic2017", build.isic2017(tmp_path / "d"))
    parts = splits.official(index)
    assert {k: len(v) for k, v in parts.items()} == {"train": 3, "val": 1, "test": 1}
    splits.save_split(tmp_path / "s" / "split.json", parts)
    assert splits.load_split(tmp_path / "s" / "split.json") == parts
    with pytest.raises(DataError, match="defines no official split"):
        splits.official(load_index(synthetic_size=4))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="sum to 1"):
        splits.holdout(IDS, {"train": 0.8, "test": 0.3})
    with pytest.raises(ValueError, match="unique"):
        splits.holdout(["a", "a", "b"], {"train": 0.5, "test": 0.5})
    with pytest.raises(DataError, match="both 'train' and 'test'"):
        splits.save_split(tmp_path / "x.json", {"train": ["a"], "test": ["a"]})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="bad.json: not a valid split JSON"):
        splits.load_split(tmp_path / "bad.json")
