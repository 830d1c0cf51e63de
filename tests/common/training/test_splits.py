"""Split specs of the train commands (``--split``): official, hold-out, count, k-fold."""
from __future__ import annotations

import pytest

from common.config import ConfigError
from common.data import DatasetIndex, Sample
from common.data.splits import make_split


def isic2018_like(n_train=50, n_val=10, n_test=20) -> DatasetIndex:
    samples = [Sample(id=f"ISIC_{i:07d}", image=f"{i}.jpg", mask=f"{i}.png", split=split)
               for i, split in enumerate(["train"] * n_train + ["val"] * n_val + ["test"] * n_test)]
    return DatasetIndex(name="isic2018", root=None, samples=samples)


def test_official_uses_the_dataset_folders():
    split = make_split(isic2018_like(), "official", seed=0)
    assert {k: len(v) for k, v in split.items()} == {"train": 50, "val": 10, "test": 20}


@pytest.mark.parametrize("spec, sizes", [
    ("holdout:0.8,0.2", {"train": 40, "val": 10}),
    ("count:42", {"train": 42, "test": 8}),
    ("count:42,5", {"train": 37, "val": 5, "test": 8}),
])
def test_other_specs_split_only_the_official_training_images(spec, sizes):
    index = isic2018_like()
    split = make_split(index, spec, seed=1)
    assert {k: len(v) for k, v in split.items() if v} == sizes
    train_ids = {s.id for s in index.samples if s.split == "train"}
    assert set().union(*map(set, split.values())) <= train_ids


def test_kfold_covers_the_training_images_once():
    index = isic2018_like()
    tests = [set(make_split(index, "kfold:5", seed=0, fold=k)["test"]) for k in range(5)]
    assert set().union(*tests) == {s.id for s in index.samples if s.split == "train"}
    assert sum(map(len, tests)) == 50


def test_kfold_needs_a_fold_and_unknown_specs_are_errors():
    with pytest.raises(ConfigError, match="needs --fold"):
        make_split(isic2018_like(), "kfold:5", seed=0)
    with pytest.raises(ConfigError, match="unknown split"):
        make_split(isic2018_like(), "random:3", seed=0)
