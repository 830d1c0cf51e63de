"""No silent wrong data: alpha-channel masks, cache files changed in place, honest inspect counts."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from common.data import DataError, load_arrays, load_index
from common.data.decode import read_mask
from common.data.inspect import format_report, inspect_dir

GT = "ISIC2018_Task1_Training_GroundTruth"
INPUT = "ISIC2018_Task1-2_Training_Input"


def _lesion(h=40, w=60):
    m = np.zeros((h, w), np.uint8)
    m[10:30, 15:45] = 255
    return m


# ------------------------------------------------------------------ masks with an alpha channel

@pytest.mark.parametrize("colour", [0, 255])
def test_rgba_mask_drawn_only_in_alpha_is_read_from_alpha(tmp_path, colour):
    lesion = _lesion()
    rgba = np.zeros(lesion.shape + (4,), np.uint8)
    rgba[..., :3] = colour                         # constant colour: the drawing is the alpha
    rgba[..., 3] = lesion
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask, _ = read_mask(str(tmp_path / "m.png"))
    np.testing.assert_array_equal(mask, lesion > 128)


def test_la_mask_drawn_only_in_alpha_is_read_from_alpha(tmp_path):
    lesion = _lesion()
    la = np.stack([np.full_like(lesion, 255), lesion], -1)
    Image.fromarray(la, "LA").save(tmp_path / "m.png")
    mask, _ = read_mask(str(tmp_path / "m.png"))
    np.testing.assert_array_equal(mask, lesion > 128)


def test_opaque_rgba_mask_is_read_from_its_colour(tmp_path):
    lesion = _lesion()
    rgba = np.stack([lesion, lesion, lesion, np.full_like(lesion, 255)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask, _ = read_mask(str(tmp_path / "m.png"))
    np.testing.assert_array_equal(mask, lesion > 128)


def test_rgba_mask_whose_alpha_and_colour_disagree_is_an_error(tmp_path):
    lesion = _lesion()
    other = np.zeros_like(lesion)
    other[:5, :5] = 255
    rgba = np.stack([other, other, other, lesion], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "bad.png")
    with pytest.raises(DataError, match=r"bad\.png: mask has an alpha channel and colour channels"):
        read_mask(str(tmp_path / "bad.png"))


def test_inspect_deep_reports_an_alpha_only_mask_correctly(tmp_path, build):
    """The case that was read as 100 % lesion: now the alpha's lesion, and the disagreeing one is a problem."""
    root = build.isic2018(tmp_path / "isic", with_val=False)
    first = root / GT / "ISIC_0000000_segmentation.png"
    truth = np.asarray(Image.open(first)).copy()
    rgba = np.zeros(truth.shape + (4,), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = truth
    Image.fromarray(rgba, "RGBA").save(first)
    report = inspect_dir(root, deep=True)
    assert report["problems"] == []
    x, y = load_arrays(load_index("isic2018", root), None, (32, 32), progress=False, cache_dir=False)
    assert 0 < y[0].mean() < 1                    # not a full mask
    rgba[..., 0] = 0                               # colour now varies and draws nothing like the alpha
    rgba[:4, :4, 0] = 255
    Image.fromarray(rgba, "RGBA").save(first)
    problems = inspect_dir(root, deep=True)["problems"]
    assert len(problems) == 1 and "ISIC_0000000_segmentation.png" in problems[0]


# ------------------------------------------------------------------ cache files changed in place

def test_cache_file_overwritten_in_place_is_rebuilt_with_a_warning(tmp_path, build):
    root = build.isic2018(tmp_path / "isic", with_val=False)
    index = load_index("isic2018", root)
    cache = tmp_path / "cache"
    x0, y0 = (np.array(a) for a in load_arrays(index, None, (32, 32), progress=False, cache_dir=cache))
    entry = next(cache.iterdir())
    meta = json.loads((entry / "meta.json").read_text())
    assert set(meta["crc32"]) == {"images.npy", "masks.npy"}
    for name in ("images.npy", "masks.npy"):
        path = entry / name
        data = bytearray(path.read_bytes())
        size = len(data)
        data[-100:] = bytes(255 - b for b in data[-100:])   # same size, other pixels
        path.write_bytes(bytes(data))
        assert path.stat().st_size == size
        with pytest.warns(UserWarning, match=rf"{name}: cached array does not match its checksum"):
            x1, y1 = load_arrays(index, None, (32, 32), progress=False, cache_dir=cache)
        np.testing.assert_array_equal(x1, x0)
        np.testing.assert_array_equal(y1, y0)
    with warnings.catch_warnings():                # the rebuilt entry is used without a word
        warnings.simplefilter("error")
        load_arrays(index, None, (32, 32), progress=False, cache_dir=cache)


def test_truncated_cache_file_is_rebuilt(tmp_path, build):
    root = build.isic2018(tmp_path / "isic", with_val=False)
    index = load_index("isic2018", root)
    cache = tmp_path / "cache"
    x0, _ = (np.array(a) for a in load_arrays(index, None, (32, 32), progress=False, cache_dir=cache))
    path = next(cache.iterdir()) / "images.npy"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.warns(UserWarning, match="checksum"):
        x1, _ = load_arrays(index, None, (32, 32), progress=False, cache_dir=cache)
    np.testing.assert_array_equal(x1, x0)


# ------------------------------------------------------------------ inspect counts what exists

def test_inspect_counts_masks_that_exist(tmp_path, build):
    root = build.isic2018(tmp_path / "isic", n_train=5, with_val=False)
    (root / GT / "ISIC_0000003_segmentation.png").unlink()
    report = inspect_dir(root)
    assert report["samples"] == 5 and report["with_masks"] == 4
    assert any("missing mask" in p for p in report["problems"])
    assert "masks: 4" in format_report(report)


def test_inspect_counts_images_that_exist(tmp_path, build):
    """A CSV row whose image is missing is a problem, not a sixth sample."""
    root = build.isic2019(tmp_path / "i19")
    names = sorted(p.stem for p in (root / "ISIC_2019_Training_Input").glob("*.jpg"))
    rows = [",".join([i] + ["1.0" if j == k % 8 else "0.0" for j in range(9)])
            for k, i in enumerate(names + ["ISIC_0099999"])]
    (root / "ISIC_2019_Training_GroundTruth.csv").write_text(
        "image," + ",".join(build.columns) + "\n" + "\n".join(rows) + "\n")
    report = inspect_dir(root)
    assert report["samples"] == 5 and report["listed_without_image"] == 1
    text = format_report(report)
    assert "isic2019: 5 samples" in text and "1 listed whose image file is missing" in text
    assert any("ISIC_0099999" in p and "missing image" in p for p in report["problems"])


def test_unknown_class_column_is_reported_once(tmp_path, build):
    root = build.isic2019(tmp_path / "i19")
    csv = root / "ISIC_2019_Training_GroundTruth.csv"
    lines = csv.read_text().splitlines()
    lines[0] = lines[0].replace("SCC", "XYZ")
    csv.write_text("\n".join(lines) + "\n")
    report = inspect_dir(root)
    assert len(report["problems"]) == 1, report["problems"]
    assert "unknown class column(s) ['XYZ']" in report["problems"][0]
    assert report["samples"] == 5


def test_plain_inspect_says_what_it_checked_and_what_deep_adds(tmp_path, build):
    root = build.isic2018(tmp_path / "isic", with_val=False)
    path = root / INPUT / "ISIC_0000001.jpg"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])   # truncated: headers still read
    plain = inspect_dir(root)
    assert plain["problems"] == []
    assert "--deep also decodes every file" in format_report(plain)
    deep = inspect_dir(root, deep=True)
    assert any("ISIC_0000001.jpg" in p for p in deep["problems"])
    assert "every image and mask decoded" in format_report(deep)
