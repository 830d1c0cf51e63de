"""Fixtures for the data-layer tests: official dataset layouts built in a temporary folder.

The layouts are assembled from the real ISIC 2018 and PH2 sample files beside the checkout
(`../shared/data`), renamed to the official names; in a clone without that folder, synthetic
JPEG/PNG files stand in for them, so the layout tests run everywhere.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.data import ATTRIBUTES, synthetic

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
ISIC2018_SAMPLE = SHARED / "isic2018-sample"
PH2_SAMPLE = SHARED / "ph2-dev"


@pytest.fixture(scope="session")
def source_pairs(tmp_path_factory) -> list[tuple[Path, Path]]:
    """Five (JPEG image, 0/255 PNG mask) pairs: the real ISIC 2018 sample, else synthetic files."""
    if ISIC2018_SAMPLE.is_dir():
        images = sorted((ISIC2018_SAMPLE / "ISIC2018_Task1-2_Training_Input").glob("*.jpg"))
        gt = ISIC2018_SAMPLE / "ISIC2018_Task1_Training_GroundTruth"
        return [(p, gt / f"{p.stem}_segmentation.png") for p in images]
    folder = tmp_path_factory.mktemp("synthetic-sources")
    out = []
    for i in range(5):
        image, mask, _ = synthetic.generate_sample(i, (90, 120), seed=5)
        Image.fromarray(image).save(folder / f"s{i}.jpg", quality=92)
        Image.fromarray(mask[..., 0] * 255).save(folder / f"s{i}.png")
        out.append((folder / f"s{i}.jpg", folder / f"s{i}.png"))
    return out


def isic_id(k: int) -> str:
    """The k-th ISIC id used in the fixtures."""
    return f"ISIC_{k:07d}"


def put(pairs, k: int, image_dir: Path | None, mask_dir: Path | None, image_id: str, mask_name: str | None):
    """Copy source pair ``k`` (cyclically) as ``image_dir/<id>.jpg`` and ``mask_dir/<mask_name>``."""
    img, mask = pairs[k % len(pairs)]
    if image_dir is not None:
        image_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(img, image_dir / f"{image_id}.jpg")
    if mask_dir is not None and mask_name:
        mask_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(mask, mask_dir / mask_name)


def nest(folder: Path) -> Path:
    """The folder a zip unpacks to: ``folder/<folder name>``."""
    return folder / folder.name


def build_isic2016(root: Path, pairs, nested=False) -> Path:
    """ISIC 2016: 3 train + 2 test, masks ``*_Segmentation.png``, Part 3 label CSVs."""
    f = nest if nested else (lambda p: p)
    for k in range(5):
        split = "Training" if k < 3 else "Test"
        put(pairs, k, f(root / f"ISBI2016_ISIC_Part1_{split}_Data"), f(root / f"ISBI2016_ISIC_Part1_{split}_GroundTruth"),
            isic_id(k), f"{isic_id(k)}_Segmentation.png")
    (root / "ISBI2016_ISIC_Part3_Training_GroundTruth.csv").write_text(
        "".join(f"{isic_id(k)},{'malignant' if k == 1 else 'benign'}\n" for k in range(3)))
    (root / "ISBI2016_ISIC_Part3_Test_GroundTruth.csv").write_text(
        "".join(f"{isic_id(k)},{1.0 if k == 4 else 0.0}\n" for k in range(3, 5)))
    return root


def build_isic2017(root: Path, pairs, nested=False) -> Path:
    """ISIC 2017: 3 train / 1 val / 1 test with superpixels and metadata CSVs in the image folders."""
    f = nest if nested else (lambda p: p)
    names = {"train": "Training", "val": "Validation", "test": "Test_v2"}
    splits = ["train", "train", "train", "val", "test"]
    for k, split in enumerate(splits):
        data = f(root / f"ISIC-2017_{names[split]}_Data")
        put(pairs, k, data, f(root / f"ISIC-2017_{names[split]}_Part1_GroundTruth"),
            isic_id(k), f"{isic_id(k)}_segmentation.png")
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(data / f"{isic_id(k)}_superpixels.png")
    for split in set(splits):
        data = f(root / f"ISIC-2017_{names[split]}_Data")
        (data / f"ISIC-2017_{names[split]}_Data_metadata.csv").write_text("image_id,age_approximate,sex\n")
    (root / "ISIC-2017_Training_Part3_GroundTruth.csv").write_text(
        "image_id,melanoma,seborrheic_keratosis\n"
        f"{isic_id(0)},0.0,0.0\n{isic_id(1)},1.0,0.0\n{isic_id(2)},0.0,1.0\n")
    return root


def build_isic2018(root: Path, pairs, n_train=3, with_val=True) -> Path:
    """ISIC 2018 Task 1: ``n_train`` train images with masks, 2 validation images without masks."""
    for k in range(n_train):
        put(pairs, k, root / "ISIC2018_Task1-2_Training_Input", root / "ISIC2018_Task1_Training_GroundTruth",
            isic_id(k), f"{isic_id(k)}_segmentation.png")
    if with_val:
        for k in range(n_train, n_train + 2):
            put(pairs, k, root / "ISIC2018_Task1-2_Validation_Input", None, isic_id(k), None)
    (root / "ISIC2018_Task1-2_Training_Input" / "LICENSE.txt").write_text("CC BY-NC 4.0\n")
    return root


def build_isic2018_task2(root: Path, pairs, n=3) -> Path:
    """ISIC 2018 Task 2: ``n`` images with 5 attribute masks each (``..._v3`` folder)."""
    gt = root / "ISIC2018_Task2_Training_GroundTruth_v3"
    gt.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        put(pairs, k, root / "ISIC2018_Task1-2_Training_Input", None, isic_id(k), None)
        mask = np.asarray(Image.open(pairs[k % len(pairs)][1]))
        for j, a in enumerate(ATTRIBUTES):
            attr = mask if (j + k) % 2 == 0 else np.zeros_like(mask)
            Image.fromarray(attr).save(gt / f"{isic_id(k)}_attribute_{a}.png")
    return root


ISIC2019_COLUMNS = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]


def build_isic2019(root: Path, pairs, rows=None) -> Path:
    """ISIC 2019: 5 images (two named ``_downsampled``), the one-hot CSV and the metadata CSV."""
    ids = [isic_id(0), isic_id(1) + "_downsampled", isic_id(2), isic_id(3) + "_downsampled", isic_id(4)]
    folder = root / "ISIC_2019_Training_Input"
    for k, image_id in enumerate(ids):
        put(pairs, k, folder, None, image_id, None)
    (folder / "ATTRIBUTION.txt").write_text("see ISIC archive\n")
    if rows is None:
        rows = [",".join([image_id] + ["1.0" if j == k % 8 else "0.0" for j in range(9)]) for k, image_id in enumerate(ids)]
    (root / "ISIC_2019_Training_GroundTruth.csv").write_text("image," + ",".join(ISIC2019_COLUMNS) + "\n"
                                                             + "\n".join(rows) + "\n")
    (root / "ISIC_2019_Training_Metadata.csv").write_text(
        "image,age_approx,anatom_site_general,lesion_id,sex\n" + "".join(f"{i},55,torso,,male\n" for i in ids))
    return root


def build_ph2(root: Path, n=6) -> Path:
    """PH2: ``n`` real cases (1-bit masks) and PH2_dataset.txt, else synthetic cases."""
    images = root / "PH2 Dataset images"
    lines = ["Name\tClinical Diagnosis\tAsymmetry"]
    if PH2_SAMPLE.is_dir():
        cases = sorted((PH2_SAMPLE / "PH2 Dataset images").iterdir())[:n]
        labels = dict(line.split("\t")[:2] for line in (PH2_SAMPLE / "PH2_dataset.txt").read_text().splitlines()[1:])
        for case in cases:
            shutil.copytree(case, images / case.name)
            lines.append(f"{case.name}\t{labels[case.name]}\t0")
    else:
        for k in range(n):
            name = f"IMD{k + 2:03d}"
            image, mask, _ = synthetic.generate_sample(k, (72, 96), seed=9)
            (images / name / f"{name}_Dermoscopic_Image").mkdir(parents=True)
            (images / name / f"{name}_lesion").mkdir()
            Image.fromarray(image).save(images / name / f"{name}_Dermoscopic_Image" / f"{name}.bmp")
            Image.fromarray(mask[..., 0].astype(bool)).save(images / name / f"{name}_lesion" / f"{name}_lesion.bmp")
            lines.append(f"{name}\t{k % 3}\t0")
    (root / "PH2_dataset.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def build(source_pairs):
    """Layout builders bound to the source files: ``build.isic2018(tmp_path / "x")`` etc."""
    from types import SimpleNamespace

    return SimpleNamespace(
        isic2016=lambda root, **kw: build_isic2016(root, source_pairs, **kw),
        isic2017=lambda root, **kw: build_isic2017(root, source_pairs, **kw),
        isic2018=lambda root, **kw: build_isic2018(root, source_pairs, **kw),
        isic2018_task2=lambda root, **kw: build_isic2018_task2(root, source_pairs, **kw),
        isic2019=lambda root, **kw: build_isic2019(root, source_pairs, **kw),
        ph2=build_ph2, nest=nest, isic_id=isic_id, pairs=source_pairs, columns=ISIC2019_COLUMNS,
    )
