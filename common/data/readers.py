"""Readers for the official dataset layouts: ISIC 2016, 2017, 2018 (Task 1 and Task 2), 2019, PH2.

A reader takes the folder that holds a dataset's official folders (``D``) and returns a
`DatasetIndex`. Each official folder may also sit one level deeper inside a folder of the same
name, as the challenge zips unpack (``D/ISIC2018_Task1-2_Training_Input/ISIC2018_Task1-2_Training_Input``).

Problems found while indexing go into ``DatasetIndex.problems``. A record that cannot be used (a
label row that is not one-hot, an unknown diagnosis) is handled by ``errors``: ``"raise"`` raises a
`DataError`, ``"skip"`` warns and drops the sample, ``"collect"`` only records it and drops the sample.
A missing or unreadable *file* is recorded here and raised when `load_arrays` needs it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .folders import (IMAGE_EXTENSIONS, Problems, dirs, files, find_dir, find_file, finish, list_images,
                      pairs, read_csv, to_float, with_labels)
from .names import ISIC2019_CLASSES
from .samples import ATTRIBUTES, DatasetIndex, Sample

PH2_CLASSES = ["common nevus", "atypical nevus", "melanoma"]


# ---------------------------------------------------------------------------------------------
# ISIC 2016 / 2017 / 2018 Task 1: image folders with mask folders per split

_ISIC2016 = [("train", r"ISBI2016_ISIC_Part1_Training_Data", r"ISBI2016_ISIC_Part1_Training_GroundTruth",
              "ISBI2016_ISIC_Part3_Training_GroundTruth.csv"),
             ("test", r"ISBI2016_ISIC_Part1_Test_Data", r"ISBI2016_ISIC_Part1_Test_GroundTruth",
              "ISBI2016_ISIC_Part3_Test_GroundTruth.csv")]
_ISIC2017 = [("train", r"ISIC-2017_Training_Data", r"ISIC-2017_Training_Part1_GroundTruth",
              "ISIC-2017_Training_Part3_GroundTruth.csv"),
             ("val", r"ISIC-2017_Validation_Data", r"ISIC-2017_Validation_Part1_GroundTruth",
              "ISIC-2017_Validation_Part3_GroundTruth.csv"),
             ("test", r"ISIC-2017_Test(_v2)?_Data", r"ISIC-2017_Test(_v2)?_Part1_GroundTruth",
              "ISIC-2017_Test_v2_Part3_GroundTruth.csv")]
_ISIC2018 = [("train", r"ISIC2018_Task1-2_Training_Input", r"ISIC2018_Task1_Training_GroundTruth"),
             ("val", r"ISIC2018_Task1-2_Validation_Input", r"ISIC2018_Task1_Validation_GroundTruth"),
             ("test", r"ISIC2018_Task1-2_Test_Input", r"ISIC2018_Task1_Test_GroundTruth")]
_TASK2_GT = {"train": r"ISIC2018_Task2_Training_GroundTruth(_v\d+)?",
             "val": r"ISIC2018_Task2_Validation_GroundTruth(_v\d+)?",
             "test": r"ISIC2018_Task2_Test_GroundTruth(_v\d+)?"}


def _segmentation_splits(root: Path, spec, suffix: str, problems: Problems) -> list[Sample]:
    samples = []
    for split, img_pat, gt_pat, *_ in spec:
        img_dir = find_dir(root, img_pat)
        if img_dir is None:
            continue
        gt_dir = find_dir(root, gt_pat)
        if gt_dir is None:
            problems.note(f"{root}: no ground-truth folder {gt_pat.replace('(_v2)?', '')} for {img_dir.name}; "
                          f"its {split} masks are unknown")
        samples += pairs(img_dir, gt_dir, split, suffix, problems)
    return samples


def _labels_2016(path: Path, problems: Problems) -> dict[str, int]:
    labels = {}
    for i, row in enumerate(read_csv(path, problems), 1):
        value = row[1].strip().lower() if len(row) > 1 else ""
        label = {"benign": 0, "malignant": 1, "0": 0, "1": 1, "0.0": 0, "1.0": 1}.get(value)
        if label is None:
            if i > 1 or "isic" in row[0].lower():
                problems.bad(f"{path}: row {i} ({row[0] if row else ''}): diagnosis {value!r} is not "
                             f"benign/malignant or 0/1; correct the row")
                labels[row[0].strip()] = None
            continue
        labels[row[0].strip()] = label
    return labels


def _labels_2017(path: Path, problems: Problems) -> dict[str, int]:
    rows = read_csv(path, problems)
    if not rows:
        return {}
    header = [h.strip().lower() for h in rows[0]]
    try:
        i_id, i_mel, i_sk = (header.index(c) for c in ("image_id", "melanoma", "seborrheic_keratosis"))
    except ValueError:
        problems.fatal(f"{path}: header {rows[0]} lacks image_id, melanoma, seborrheic_keratosis; "
                       f"use the official ISIC 2017 Part 3 ground-truth CSV")
        return {}
    labels = {}
    for n, row in enumerate(rows[1:], 2):
        mel, sk = (to_float(row[i]) if i < len(row) else None for i in (i_mel, i_sk))
        if mel not in (0.0, 1.0) or sk not in (0.0, 1.0) or mel + sk > 1:
            problems.bad(f"{path}: row {n} ({row[i_id] if row else ''}): melanoma={mel}, "
                         f"seborrheic_keratosis={sk} is not a valid 0/1 label (at most one 1); correct the row")
            labels[row[i_id].strip()] = None
            continue
        labels[row[i_id].strip()] = 1 if mel == 1 else 2 if sk == 1 else 0
    return labels


def _read_with_part3(name, root, spec, suffix, classes, parse, problems) -> DatasetIndex:
    samples = _segmentation_splits(root, spec, suffix, problems)
    labels, found = {}, False
    for split, *_, csv_name in spec:
        path = find_file(root, csv_name)
        if path is not None:
            found = True
            labels.update(parse(path, problems))
    if found:
        samples = with_labels(samples, labels, problems, "the Part 3 ground-truth CSVs")
    return finish(name, root, samples, problems, classes if found else None)


def read_isic2016(root: Path, problems: Problems) -> DatasetIndex:
    """ISIC 2016 (ISBI 2016 Part 1): train 900 / test 379, masks ``*_Segmentation.png``; labels
    benign/malignant from the optional Part 3 CSVs."""
    return _read_with_part3("isic2016", root, _ISIC2016, "_Segmentation.png",
                            ["benign", "malignant"], _labels_2016, problems)


def read_isic2017(root: Path, problems: Problems) -> DatasetIndex:
    """ISIC 2017 (ISBI 2017 Part 1): train 2000 / val 150 / test 600; ``*_superpixels.png`` and
    the metadata CSVs in the image folders are ignored; labels nevus / melanoma /
    seborrheic keratosis from the optional Part 3 CSVs."""
    return _read_with_part3("isic2017", root, _ISIC2017, "_segmentation.png",
                            ["nevus", "melanoma", "seborrheic_keratosis"], _labels_2017, problems)


def read_isic2018(root: Path, problems: Problems) -> DatasetIndex:
    """ISIC 2018 Task 1: train 2594 / val 100 / test 1000; masks are optional for val and test."""
    return finish("isic2018", root, _segmentation_splits(root, _ISIC2018, "_segmentation.png", problems),
                   problems)


def read_isic2018_task2(root: Path, problems: Problems) -> DatasetIndex:
    """ISIC 2018 Task 2: five attribute masks per image (`ATTRIBUTES` order) in ``Sample.attributes``."""
    samples = []
    for split, img_pat, _ in _ISIC2018:
        img_dir, gt_dir = find_dir(root, img_pat), find_dir(root, _TASK2_GT[split])
        if img_dir is None or gt_dir is None:
            continue
        masks = {p.name.lower(): p for p in files(gt_dir) if p.suffix.lower() in IMAGE_EXTENSIONS}
        for img in list_images(img_dir, problems):
            attrs = []
            for a in ATTRIBUTES:
                p = masks.pop(f"{img.stem}_attribute_{a}.png".lower(), None)
                if p is None:
                    p = gt_dir / f"{img.stem}_attribute_{a}.png"
                    problems.note(f"{p}: missing {a} attribute mask for image {img}")
                attrs.append((a, str(p)))
            samples.append(Sample(img.stem, str(img), None, tuple(attrs), split=split))
        for p in sorted(masks.values()):
            problems.note(f"{p}: stray file in attribute folder (no matching image in {img_dir})")
    return finish("isic2018_task2", root, samples, problems, meta={"attributes": list(ATTRIBUTES)})


# ---------------------------------------------------------------------------------------------
# ISIC 2019: images + one-hot ground-truth CSV


#: an image id as a CSV may give it: a file name without folder parts
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def _labels_2019(path: Path, problems: Problems) -> tuple[dict[str, int | None], list[str] | None]:
    rows = read_csv(path, problems)
    if not rows:
        return {}, None
    header = [h.strip() for h in rows[0]]
    if not header or header[0].lower() != "image":
        problems.fatal(f"{path}: first column is {header[:1]}, expected 'image' followed by the class "
                       f"columns {', '.join(ISIC2019_CLASSES)}; use the official ground-truth CSV")
        return {}, None
    classes = header[1:]
    unknown = [c for c in classes if c.upper() not in ISIC2019_CLASSES]
    if unknown or not classes:
        problems.fatal(f"{path}: unknown class column(s) {unknown or '(none)'}; the known ISIC 2019 "
                       f"classes are {', '.join(ISIC2019_CLASSES)} — rename or remove the column")
        return {}, None
    labels: dict[str, int | None] = {}
    first_row: dict[str, int] = {}
    for n, row in enumerate(rows[1:], 2):
        image_id = row[0].strip() if row else ""
        if not _SAFE_ID.fullmatch(image_id):
            problems.bad(f"{path}: row {n}: image id {image_id!r} is not a file name (letters, digits, '_', "
                         "'-', '.'; no folder parts); correct or delete the row")
            continue
        values = [to_float(v) for v in row[1:]]
        ones = [j for j, v in enumerate(values) if v == 1.0]
        label: int | None
        if len(values) != len(classes) or len(ones) != 1 or any(v not in (0.0, 1.0) for v in values):
            problems.bad(f"{path}: row {n} ({image_id}): values {row[1:]} are not one-hot over "
                         f"{', '.join(classes)} (exactly one 1.0, the rest 0.0); correct or delete the row")
            label = None
        elif classes[ones[0]].upper() == "UNK":
            problems.bad(f"{path}: row {n} ({image_id}) is labelled UNK; no ISIC 2019 training image is (UNK "
                         "is the test set's 'none of the others'), so nothing can learn it; correct or delete the row")
            label = None
        else:
            label = ones[0]
        if image_id in labels:
            if labels[image_id] != label:
                problems.bad(f"{path}: image {image_id} is on rows {first_row[image_id]} and {n} with different "
                             "labels; keep one row")
                labels[image_id] = None
            else:
                problems.note(f"{path}: image {image_id} is on rows {first_row[image_id]} and {n} (same label)")
            continue
        first_row[image_id] = n
        labels[image_id] = label
    return labels, classes


def _by_stem(paths, problems: Problems) -> dict:
    """Images by id (file stem); two files of one id (``X.jpg`` and ``X.png``) are a problem naming
    both, and neither is used (which one is the image is not ours to guess)."""
    out: dict = {}
    clashes: set = set()
    for p in paths:
        if p.stem in out:
            problems.bad(f"{p}: two images for id {p.stem} ({out[p.stem].name} and {p.name}); keep one")
            clashes.add(p.stem)
            continue
        out[p.stem] = p
    for stem in clashes:
        del out[stem]
    return out


def read_isic2019(root: Path, problems: Problems) -> DatasetIndex:
    """ISIC 2019: ``ISIC_2019_Training_Input`` (names may end ``_downsampled``) labelled by the one-hot
    ``ISIC_2019_Training_GroundTruth.csv`` (class order as in the CSV: MEL, NV, BCC, AK, BKL, DF,
    VASC, SCC, UNK); optional ``ISIC_2019_Test_Input`` (unlabelled, split ``"test"``)."""
    samples, classes = [], None
    train_dir, test_dir = find_dir(root, "ISIC_2019_Training_Input"), find_dir(root, "ISIC_2019_Test_Input")
    csv_path = find_file(root, "ISIC_2019_Training_GroundTruth.csv")
    if train_dir is not None:
        images = _by_stem(list_images(train_dir, problems), problems)
        if csv_path is None:
            problems.note(f"{root}: ISIC_2019_Training_GroundTruth.csv is absent; training labels unknown")
            samples += [Sample(k, str(p), None, split="train") for k, p in sorted(images.items())]
        else:
            labels, classes = _labels_2019(csv_path, problems)
            if classes is None:
                # The CSV itself is unusable (its problem is reported once, above): the images stay,
                # unlabelled, rather than each being reported as missing from it.
                samples += [Sample(k, str(p), None, split="train") for k, p in sorted(images.items())]
                images = {}
            for image_id, label in labels.items():
                if label is None:
                    continue
                path = images.pop(image_id, None)
                if path is None:
                    path = train_dir / f"{image_id}.jpg"
                    problems.note(f"{path}: missing image listed in {csv_path.name}")
                samples.append(Sample(image_id, str(path), None, label=label, split="train"))
            for image_id, p in sorted(images.items()):
                if classes is not None and image_id not in labels:
                    problems.note(f"{p}: image is not listed in {csv_path.name}; it is left out")
    elif csv_path is not None:
        # The labels alone (e.g. the ground truth downloaded first): the class counts can be
        # reported and checked, and every image is reported missing once, as one problem.
        labels, classes = _labels_2019(csv_path, problems)
        expected = root / "ISIC_2019_Training_Input"
        listed = [(k, v) for k, v in labels.items() if v is not None]
        problems.note(f"{expected}: folder missing, so the {len(listed):,} images listed in {csv_path.name} "
                      f"are missing; unpack ISIC_2019_Training_Input.zip beside the CSV")
        samples += [Sample(k, str(expected / f"{k}.jpg"), None, label=v, split="train") for k, v in listed]
    if test_dir is not None:
        samples += [Sample(p.stem, str(p), None, split="test") for p in list_images(test_dir, problems)]
    meta = {}
    metadata = find_file(root, "ISIC_2019_Training_Metadata.csv")
    if metadata is not None:
        meta["metadata_csv"] = str(metadata)
    return finish("isic2019", root, samples, problems, classes, meta)


# ---------------------------------------------------------------------------------------------
# PH2


def _labels_ph2(path: Path, problems: Problems) -> dict[str, int | None]:
    """``PH2_dataset.txt``: tab-separated (Name, Clinical Diagnosis, …) or the release's ``||`` table."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        problems.fatal(f"{path}: cannot be read ({exc})")
        return {}
    col, labels = None, {}
    for n, line in enumerate(lines, 1):
        cells = [c.strip() for c in (line.strip().strip("|").split("||") if "||" in line else line.split("\t"))]
        if col is None:
            lowered = [c.lower() for c in cells]
            if "name" in lowered and "clinical diagnosis" in lowered:
                i_name, col = lowered.index("name"), lowered.index("clinical diagnosis")
            continue
        if len(cells) <= max(i_name, col) or not re.fullmatch(r"IMD\d+", cells[i_name]):
            continue
        value = cells[col]
        if value not in ("0", "1", "2"):
            problems.bad(f"{path}: line {n} ({cells[i_name]}): clinical diagnosis {value!r} is not "
                         f"0, 1 or 2 (common nevus, atypical nevus, melanoma); correct the line")
            labels[cells[i_name]] = None
            continue
        labels[cells[i_name]] = int(value)
    if col is None:
        problems.fatal(f"{path}: no header line with 'Name' and 'Clinical Diagnosis'; "
                       f"use the PH2 release's PH2_dataset.txt")
    return labels


def read_ph2(root: Path, problems: Problems) -> DatasetIndex:
    """PH2: ``PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp`` with the lesion mask
    ``IMDxxx_lesion/IMDxxx_lesion.bmp`` (1-bit, grey or RGB); labels (common nevus, atypical nevus,
    melanoma) from the Clinical Diagnosis column of ``PH2_dataset.txt`` when present."""
    base = find_dir(root, r"PH2[ _]?Dataset[ _]images")
    samples = []
    for case in dirs(base):
        if not re.fullmatch(r"IMD\d+", case.name):
            problems.note(f"{case}: stray folder (not an IMDxxx case folder)")
            continue
        img = case / f"{case.name}_Dermoscopic_Image" / f"{case.name}.bmp"
        mask = case / f"{case.name}_lesion" / f"{case.name}_lesion.bmp"
        if not img.is_file():
            problems.note(f"{img}: missing image")
        if not mask.is_file():
            problems.note(f"{mask}: missing mask for image {img}")
        samples.append(Sample(case.name, str(img), str(mask)))
    if not samples:
        problems.note(f"{base}: folder holds no IMDxxx case folders")
    txt = find_file(root, "PH2_dataset.txt")
    classes = None
    if txt is not None:
        labels = _labels_ph2(txt, problems)
        if labels:
            classes = PH2_CLASSES
            samples = with_labels(samples, labels, problems, txt.name)
    return finish("ph2", root, samples, problems, classes)


# ---------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class Layout:
    """A known dataset layout: how to recognise it in a folder and read it."""

    name: str
    description: str
    folders: tuple[str, ...]                    # regexes of its official folders
    detect: Callable[[Path], bool]
    read: Callable[[Path, Problems], DatasetIndex]


def _any(root: Path, patterns) -> bool:
    return any(find_dir(root, p) is not None for p in patterns)


_T1_INPUTS = [s[1] for s in _ISIC2018]
_T1_GT = [s[2] for s in _ISIC2018]
LAYOUTS: dict[str, Layout] = {
    "isic2016": Layout("isic2016", "ISBI2016_ISIC_Part1_{Training,Test}_Data + _GroundTruth",
                       tuple(p for s in _ISIC2016 for p in s[1:3]),
                       lambda d: _any(d, [s[1] for s in _ISIC2016]), read_isic2016),
    "isic2017": Layout("isic2017", "ISIC-2017_{Training,Validation,Test_v2}_Data + _Part1_GroundTruth",
                       tuple(p for s in _ISIC2017 for p in s[1:3]),
                       lambda d: _any(d, [s[1] for s in _ISIC2017]), read_isic2017),
    "isic2018": Layout("isic2018", "ISIC2018_Task1-2_{Training,Validation,Test}_Input + ISIC2018_Task1_*_GroundTruth",
                       tuple(_T1_INPUTS + _T1_GT),
                       lambda d: _any(d, _T1_INPUTS) and (_any(d, _T1_GT) or not _any(d, _TASK2_GT.values())),
                       read_isic2018),
    "isic2018_task2": Layout("isic2018_task2", "ISIC2018_Task1-2_*_Input + ISIC2018_Task2_*_GroundTruth[_v3]",
                             tuple(_TASK2_GT.values()),
                             lambda d: _any(d, _T1_INPUTS) and _any(d, _TASK2_GT.values()),
                             read_isic2018_task2),
    "isic2019": Layout("isic2019", "ISIC_2019_Training_Input + ISIC_2019_Training_GroundTruth.csv",
                       ("ISIC_2019_Training_Input", "ISIC_2019_Test_Input"),
                       lambda d: _any(d, ["ISIC_2019_Training_Input", "ISIC_2019_Test_Input"])
                       or (d / "ISIC_2019_Training_GroundTruth.csv").is_file(), read_isic2019),
    "ph2": Layout("ph2", "'PH2 Dataset images'/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp + PH2_dataset.txt",
                  (r"PH2[ _]?Dataset[ _]images",), lambda d: _any(d, [r"PH2[ _]?Dataset[ _]images"]), read_ph2),
}
