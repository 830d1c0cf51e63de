"""Seeded, optionally class-stratified splits of sample ids, saved as JSON.

Every function returns ``{split name: [ids]}`` with disjoint lists, each in the order the ids were
given. With ``labels``, each class is spread over the splits in proportion (within one sample).
The same arguments always give the same split.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from common.config import ConfigError

from .errors import DataError


def _prepare(ids, labels) -> tuple[list[str], np.ndarray | None]:
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise ValueError(f"ids must be unique; repeated: {dup}")
    if labels is None:
        return ids, None
    labels = np.asarray(labels)
    if labels.shape != (len(ids),):
        raise ValueError(f"labels must be one per id ({len(ids)}), got shape {labels.shape}")
    return ids, labels


def _grouped_order(n: int, seed: int, labels) -> np.ndarray:
    """A random permutation with each class's members contiguous (random order within a class)."""
    perm = np.random.default_rng(seed).permutation(n)
    if labels is None:
        return perm
    keys = np.unique(labels.astype(str), return_inverse=True)[1] if labels.dtype.kind not in "iub" else labels
    return perm[np.argsort(np.asarray(keys)[perm], kind="stable")]


def _largest_remainder(n: int, fractions: list[float]) -> list[int]:
    raw = np.asarray(fractions, float) * n
    counts = np.floor(raw).astype(int)
    for j in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[j] += 1
    return counts.tolist()


def _spread(counts: dict[str, int]) -> list[str]:
    """A sequence holding each name ``counts[name]`` times, each name evenly spread along it."""
    keys = [((j + 0.5) / c, k, name) for k, (name, c) in enumerate(counts.items()) for j in range(c)]
    return [name for *_, name in sorted(keys)]


def _allocate(ids, counts: dict[str, int], seed: int, labels) -> dict[str, list[str]]:
    order = _grouped_order(len(ids), seed, labels)
    pattern = _spread(counts)
    chosen = {name: [] for name in counts}
    for position, name in zip(order, pattern):
        chosen[name].append(int(position))
    return {name: [ids[i] for i in sorted(rows)] for name, rows in chosen.items()}


def holdout(ids, fractions: dict[str, float], seed: int = 0, labels=None) -> dict[str, list[str]]:
    """Hold-out split by fractions, e.g. ``{"train": 0.8, "test": 0.2}`` (SLSNet) or
    ``{"train": 0.7, "val": 0.1, "test": 0.2}``.

    Args:
        ids: sample ids (unique).
        fractions: split name -> fraction; must sum to 1. Counts are rounded by largest remainder,
            so they add up to ``len(ids)``.
        seed: random seed.
        labels: optional class per id; the split is then stratified by class.
    """
    ids, labels = _prepare(ids, labels)
    if not fractions or any(f < 0 for f in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}")
    counts = dict(zip(fractions, _largest_remainder(len(ids), list(fractions.values()))))
    return _allocate(ids, counts, seed, labels)


def fixed_count(ids, n_train: int, seed: int = 0, labels=None) -> dict[str, list[str]]:
    """``n_train`` ids for training, the rest for testing (AER-Net: 2094 of the 2594 ISIC 2018
    training images, 500 for testing).

    Args:
        ids: sample ids (unique).
        n_train: number of training ids (0 < n_train <= len(ids)).
        seed: random seed.
        labels: optional class per id (stratified).
    """
    ids, labels = _prepare(ids, labels)
    if not 0 < n_train <= len(ids):
        raise ValueError(f"n_train must be in 1..{len(ids)}, got {n_train}")
    return _allocate(ids, {"train": n_train, "test": len(ids) - n_train}, seed, labels)


def kfold(ids, k: int, fold: int, seed: int = 0, labels=None, val_share: float = 0.0) -> dict[str, list[str]]:
    """Fold ``fold`` of a seeded k-fold cross-validation (ASNet, transfer ensemble: 5 folds).

    Args:
        ids: sample ids (unique).
        k: number of folds (>= 2); fold sizes differ by at most one.
        fold: which fold is the test set (0 <= fold < k).
        seed: random seed (the same for every fold of one cross-validation).
        labels: optional class per id; folds (and the validation share) are then stratified.
        val_share: fraction of the training folds carved out as ``"val"`` (e.g. 0.125, ISIC 2019
            thesis), 0 for none.

    Returns:
        ``{"train", "test"}`` plus ``"val"`` when ``val_share > 0``.
    """
    ids, labels = _prepare(ids, labels)
    if k < 2 or not 0 <= fold < k:
        raise ValueError(f"need k >= 2 and 0 <= fold < k, got k={k}, fold={fold}")
    if len(ids) < k:
        raise ValueError(f"cannot make {k} folds of {len(ids)} ids")
    if not 0 <= val_share < 1:
        raise ValueError(f"val_share must be in [0, 1), got {val_share}")
    order = _grouped_order(len(ids), seed, labels)
    in_fold = np.empty(len(ids), int)
    in_fold[order] = np.arange(len(ids)) % k
    test = [ids[i] for i in range(len(ids)) if in_fold[i] == fold]
    rest = [i for i in range(len(ids)) if in_fold[i] != fold]
    out = {"train": [ids[i] for i in rest], "test": test}
    if val_share > 0:
        n_val = int(round(val_share * len(rest)))
        sub = _allocate([ids[i] for i in rest], {"train": len(rest) - n_val, "val": n_val},
                        seed + 1_000_003 * (fold + 1), None if labels is None else labels[rest])
        out = {"train": sub["train"], "val": sub["val"], "test": test}
    return out


def official(index) -> dict[str, list[str]]:
    """The dataset's own split, from `Sample.split` (e.g. ISIC 2017: train 2000 / val 150 / test 600).

    Raises:
        DataError: the dataset defines no split (use `holdout` or `kfold`).
    """
    out: dict[str, list[str]] = {}
    for s in index.samples:
        if s.split is not None:
            out.setdefault(s.split, []).append(s.id)
    if not out:
        raise DataError(f"{index.root or index.name}: dataset {index.name} defines no official split; "
                        f"make one with splits.holdout or splits.kfold")
    return out


def _validate(split: dict, source: str) -> dict[str, list[str]]:
    if not isinstance(split, dict) or not all(isinstance(v, list) for v in split.values()):
        raise DataError(f"{source}: a split must map split names to lists of ids")
    seen: dict[str, str] = {}
    for name, ids in split.items():
        for i in ids:
            if i in seen:
                raise DataError(f"{source}: id {i!r} is in both {seen[i]!r} and {name!r}; splits must be disjoint")
            seen[i] = name
    return {str(k): [str(i) for i in v] for k, v in split.items()}


def save_split(path, split_dict: dict[str, list[str]]) -> None:
    """Write a split as JSON (atomically: a temporary file moved into place)."""
    split = _validate(split_dict, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(split, indent=1))
    os.replace(tmp, path)


def load_split(path) -> dict[str, list[str]]:
    """Read a split written by `save_split`.

    Raises:
        DataError: missing file, invalid JSON, or overlapping splits.
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: split file does not exist") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a valid split JSON file ({exc})") from exc
    return _validate(data, str(path))


# -- split specs ('official', 'holdout:0.8,0.2', 'count:2094', 'kfold:5') -----------------------

def fold_count(spec: str) -> int | None:
    """The K of a ``kfold:K[,VAL_SHARE]`` split spec (5 for a bare ``kfold``, as :func:`make_split`
    reads it); None for any other split."""
    kind, _, rest = str(spec).partition(":")
    if kind.strip().lower() != "kfold":
        return None
    first = rest.split(",")[0].strip()
    try:
        return int(float(first)) if first else 5
    except ValueError:
        raise ConfigError(f"--split {spec}: K must be a whole number, e.g. kfold:5") from None


def make_split(index, spec: str, seed: int, fold: int | None = None) -> dict[str, list[str]]:
    """Split an index by a spec: ``official``, ``holdout:0.8,0.2[,...]``, ``count:N[,V]``,
    ``kfold:K`` (with ``fold``), or ``kfold:K,VAL_SHARE``."""
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    pool = index.samples
    if kind != "official" and any(s.split for s in pool):
        # The papers split (or cross-validate) the official training images only, e.g. AER-Net's
        # 2094 of ISIC 2018's 2594: the validation and test folders stay out of the pool.
        pool = [s for s in pool if s.split == "train"]
    ids = [s.id for s in pool]
    labels = [s.label for s in pool] if pool and all(s.label is not None for s in pool) else None
    try:
        nums = [float(v) for v in rest.split(",") if v.strip()] if rest else []
    except ValueError:
        raise ConfigError(f"--split {spec}: the numbers after ':' must be numbers separated by commas, "
                          "e.g. holdout:0.8,0.2, count:2094 or kfold:5") from None
    if any(not math.isfinite(v) for v in nums):
        raise ConfigError(f"--split {spec}: every number must be finite")
    if kind == "official":
        result = official(index)
        if not result.get("train"):
            raise ConfigError(f"dataset {index.name!r} defines no official split; use e.g. --split holdout:0.8,0.2")
        if not result.get("val") and not result.get("test"):
            raise ConfigError(f"--split official: {index.name} here holds only an official training part "
                              f"({len(result['train'])} images, no validation or test images), so nothing "
                              "would select or score the model; split it with e.g. --split holdout:0.8,0.1,0.1 "
                              "or --split kfold:5")
        return result
    if kind == "holdout":
        names = ["train", "val", "test"][:len(nums)] or ["train", "val"]
        nums = nums or [0.8, 0.2]
        if len(nums) == 1:
            raise ConfigError(f"--split {spec}: give the training and the validation fraction (and optionally "
                              f"the test fraction), e.g. holdout:{nums[0]:g},{round(1 - nums[0], 6):g}")
        if len(nums) > 3 or any(not 0 < v < 1 for v in nums) or sum(nums) > 1 + 1e-9:
            raise ConfigError(f"--split {spec}: give two or three fractions, each between 0 and 1 and "
                              f"together at most 1 (train, validation[, test]), e.g. holdout:0.8,0.2 "
                              f"or holdout:0.7,0.1,0.2")
        if any(round(v * len(ids)) < 1 for v in nums):
            raise ConfigError(f"--split {spec}: {len(ids)} images leave a part of the split empty; "
                              f"use larger fractions or more images")
        return holdout(ids, dict(zip(names, nums)), seed, labels=labels)
    if kind == "count":
        if not nums:
            raise ConfigError("--split count:N needs the number of training images, e.g. count:2094")
        n_train = int(nums[0])
        n_val = int(nums[1]) if len(nums) > 1 else 0
        if not 1 <= n_train < len(ids) or (len(nums) > 1 and not 0 <= n_val < n_train):
            raise ConfigError(
                f"--split {spec}: {index.name} has {len(ids)} training images"
                + (f" (in {index.root})" if index.root else "")
                + f", so count:N needs 1 <= N < {len(ids)} (the rest is the test part)"
                + (" and V < N validation images taken from them" if len(nums) > 1 else "")
                + "; on this data use --split holdout:0.8,0.2 or --split kfold:5 instead")
        result = fixed_count(ids, n_train, seed, labels=labels)
        if len(nums) > 1 and nums[1] > 0:
            train = result["train"]
            n_val = int(nums[1])
            result = {"train": train[n_val:], "val": train[:n_val], "test": result["test"]}
        return result
    if kind == "kfold":
        k = int(nums[0]) if nums else 5
        val_share = nums[1] if len(nums) > 1 else 0.0
        if not 2 <= k <= len(ids) or not 0 <= val_share < 1:
            raise ConfigError(f"--split {spec}: k-fold needs 2 <= K <= {len(ids)} (the number of "
                              f"images) and a validation share in [0, 1), e.g. kfold:5 or kfold:5,0.125")
        if fold is None:
            raise ConfigError(f"--split {spec} needs --fold K (0..{k - 1}) or --fold all")
        return kfold(ids, k, fold, seed, labels=labels, val_share=val_share)
    raise ConfigError(f"unknown split {spec!r}: use official, holdout:0.8,0.2, count:2094 or kfold:5")
