"""Dataset readers: the real sample folders and official layouts built from real files."""
from __future__ import annotations

import numpy as np
from pathlib import Path

import pytest

from common.data import ATTRIBUTES, DataError, discover, load_arrays, load_index
from common.data.discovery import locate


def test_ph2_dev_has_100_labelled_samples(shared_data):
    index = load_index("auto", shared_data / "ph2-dev")
    assert index.name == "ph2" and len(index.samples) == 100
    assert index.classes == ["common nevus", "atypical nevus", "melanoma"]
    assert index.class_counts() == {"common nevus": 40, "atypical nevus": 40, "melanoma": 20}
    s = index.by_id(["IMD010"])[0]
    assert s.image.endswith("IMD010_Dermoscopic_Image/IMD010.bmp") and s.mask.endswith("IMD010_lesion.bmp")
    assert s.label == 0 and s.split is None and not index.problems


def test_isic2018_sample_has_5_pairs(shared_data):
    index = load_index("isic2018", shared_data / "isic2018-sample")
    assert [s.id for s in index.samples] == ["ISIC_0024311", "ISIC_0027001", "ISIC_0027287",
                                             "ISIC_0027533", "ISIC_0027800"]
    assert all(s.split == "train" and s.mask.endswith(f"{s.id}_segmentation.png") for s in index.samples)
    assert index.classes is None and not index.problems


def test_discover_finds_every_real_dataset_from_their_parent(shared_data):
    found = {Path(i.root).name: i.name for i in discover(shared_data)}
    expected = {"isic2017-256": "isic2017", "isic2018-sample": "isic2018", "isic2019-ham10000": "isic2019",
                "isic2019-labels": "isic2019",  # the labels alone, images missing
                "ph2-dev": "ph2"}
    present = {k: v for k, v in expected.items() if (shared_data / k).is_dir()}
    assert {k: found.get(k) for k in present} == present
    with pytest.raises(DataError, match="several datasets found"):
        load_index("auto", shared_data)
    assert len(load_index("ph2", shared_data)) == 100


def test_isic2016_layout(tmp_path, build):
    index = load_index("auto", build.isic2016(tmp_path / "isic2016"))
    assert index.name == "isic2016"
    assert index.split_counts() == {"train": 3, "test": 2}
    assert index.classes == ["benign", "malignant"]
    assert [s.label for s in index.samples] == [0, 1, 0, 0, 1]
    assert index.samples[0].mask.endswith("_Segmentation.png") and not index.problems


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested-zip-folders"])
def test_isic2017_layout_ignores_superpixels_and_csvs(tmp_path, build, nested):
    build.isic2017(tmp_path / "isbi2017", nested=nested)
    index = load_index("auto", tmp_path)               # the dataset sits one level down
    assert index.name == "isic2017"
    assert index.split_counts() == {"train": 3, "val": 1, "test": 1}
    assert not any("superpixels" in s.image for s in index.samples)
    assert index.classes == ["nevus", "melanoma", "seborrheic_keratosis"]
    assert [s.label for s in index.by_split("train")] == [0, 1, 2]
    assert [s.label for s in index.by_split("val")] == [None]       # no validation CSV given
    assert not [p for p in index.problems if "stray" in p]
    x, y = load_arrays(index, None, (32, 40), progress=False)
    assert x.shape == (5, 32, 40, 3) and y.shape == (5, 32, 40, 1)


def test_isic2018_masks_optional_for_validation(tmp_path, build):
    index = load_index("auto", build.isic2018(tmp_path))
    assert index.split_counts() == {"train": 3, "val": 2}
    assert all(s.mask for s in index.by_split("train")) and not any(s.mask for s in index.by_split("val"))
    _, masks = load_arrays(index, index.by_split("val"), (16, 16), progress=False)
    assert masks is None
    with pytest.raises(DataError, match="have no mask"):
        load_arrays(index, index.samples, (16, 16), progress=False)


def test_isic2018_task2_attributes(tmp_path, build):
    build.isic2018_task2(tmp_path)
    index = load_index("isic2018_task2", tmp_path)
    assert len(index) == 3
    assert [a for a, _ in index.samples[0].attributes] == list(ATTRIBUTES)
    x, y = load_arrays(index, None, (24, 32), progress=False)
    assert y.shape == (3, 24, 32, 5) and set(np.unique(y)) <= {0, 1}
    assert y[0, ..., 0].any() and not y[0, ..., 1].any()    # attribute 1 of image 0 is empty


def test_task1_and_task2_in_one_folder(tmp_path, build):
    build.isic2018(tmp_path, with_val=False)
    build.isic2018_task2(tmp_path)
    assert sorted(i.name for i in discover(tmp_path)) == ["isic2018", "isic2018_task2"]
    with pytest.raises(DataError, match="several datasets"):
        load_index("auto", tmp_path)
    assert load_index("isic2018", tmp_path).name == "isic2018"


def test_isic2019_layout(tmp_path, build):
    index = load_index("auto", build.isic2019(tmp_path))
    assert index.name == "isic2019" and index.classes == build.columns
    assert [s.id for s in index.samples][:2] == ["ISIC_0000000", "ISIC_0000001_downsampled"]
    assert [s.label for s in index.samples] == [0, 1, 2, 3, 4]
    assert index.meta["metadata_csv"].endswith("ISIC_2019_Training_Metadata.csv")
    x, y = load_arrays(index, None, (16, 16), progress=False)
    assert x.shape == (5, 16, 16, 3) and y is None


def test_ph2_layout_nested_in_release_folder(tmp_path, build):
    build.ph2(tmp_path / "downloads" / "PH2Dataset")
    index = load_index("auto", tmp_path)
    assert index.name == "ph2" and len(index) == 6 and index.classes
    _, y = load_arrays(index, None, (32, 32), progress=False)
    assert set(np.unique(y)) == {0, 1}


def test_ph2_official_double_bar_table(tmp_path, build):
    root = build.ph2(tmp_path, n=3)
    names = [s.id for s in load_index("ph2", root).samples]
    (root / "PH2_dataset.txt").write_text(
        "|| Name || Histological Diagnosis || Clinical Diagnosis || Asymmetry ||\n"
        + "".join(f"|| {n} ||  || {k} || 0 ||\n" for k, n in enumerate(names))
        + "\nLegend: 0 - Common Nevus\n")
    assert [s.label for s in load_index("ph2", root).samples] == [0, 1, 2]


def test_search_depth_and_official_folder_hint(tmp_path, build):
    build.isic2018(tmp_path / "a" / "b", with_val=False)
    assert [n for n, _ in locate(tmp_path)] == ["isic2018"]
    deep = tmp_path / "x" / "y" / "z"
    build.isic2018(deep, with_val=False)
    assert len(locate(tmp_path / "x")) == 1 and len(locate(tmp_path)) == 1     # z is 3 levels below
    with pytest.raises(DataError, match="pass its parent folder"):
        load_index("auto", tmp_path / "a" / "b" / "ISIC2018_Task1_Training_GroundTruth")


def test_synthetic_is_the_default():
    index = load_index(synthetic_size=10, seed=3)
    assert index.name == "synthetic" and len(index) == 10 and index.root is None
    assert index.samples[7].id == "synthetic_00007" and index.meta == {"seed": 3, "n_classes": 3}
    assert load_index("synthetic", synthetic_size=4, seed=3).samples[3].label == index.samples[3].label


def test_isic2019_reports_unlisted_and_missing_images(tmp_path, build):
    root = build.isic2019(tmp_path)
    folder = root / "ISIC_2019_Training_Input"
    (folder / "ISIC_0000002.jpg").rename(folder / "ISIC_0000042.jpg")
    index = load_index("isic2019", root)
    problems = "\n".join(index.problems)
    assert "ISIC_0000042.jpg: image is not listed" in problems
    assert "ISIC_0000002.jpg: missing image listed in ISIC_2019_Training_GroundTruth.csv" in problems
    with pytest.raises(DataError, match=r"ISIC_0000002\.jpg: image file is missing"):
        load_arrays(index, None, (16, 16), progress=False)
