"""A corpus of bad inputs: each raises a DataError naming the file and what is wrong, or, with
skip_bad=True, a warning per file and a count of skipped samples. Never a silently wrong sample."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.data import DataError, load_arrays, load_index
from common.data.decode import binarize_mask

GT = "ISIC2018_Task1_Training_GroundTruth"
INPUT = "ISIC2018_Task1-2_Training_Input"


@pytest.fixture
def isic(tmp_path, build):
    """An ISIC 2018 Task 1 folder of 3 training pairs (ISIC_0000000 … 2)."""
    return build.isic2018(tmp_path / "isic", with_val=False)


def _load(root, **kw):
    return load_arrays(load_index("isic2018", root), None, (32, 32), progress=False, **kw)


def test_truncated_image(isic):
    path = isic / INPUT / "ISIC_0000001.jpg"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(DataError, match=r"ISIC_0000001\.jpg: image cannot be decoded .*truncated"):
        _load(isic)


def test_garbage_image(isic):
    (isic / INPUT / "ISIC_0000002.jpg").write_bytes(b"this is not a JPEG" * 10)
    with pytest.raises(DataError, match=r"ISIC_0000002\.jpg: image cannot be read as an image"):
        _load(isic)


def test_missing_mask(isic):
    (isic / GT / "ISIC_0000001_segmentation.png").unlink()
    index = load_index("isic2018", isic)
    assert any("ISIC_0000001_segmentation.png: missing mask" in p for p in index.problems)
    with pytest.raises(DataError, match=r"ISIC_0000001_segmentation\.png: mask file is missing"):
        load_arrays(index, None, (32, 32), progress=False)


def test_mask_size_differs_from_image(isic):
    path = isic / GT / "ISIC_0000000_segmentation.png"
    mask = Image.open(path)
    mask.resize((mask.width // 2, mask.height // 2), Image.NEAREST).save(path)
    with pytest.raises(DataError, match=r"ISIC_0000000_segmentation\.png: mask is \d+x\d+ but its image .* is"):
        _load(isic)


def test_jpeg_compressed_mask(isic):
    path = isic / GT / "ISIC_0000002_segmentation.png"
    Image.open(path).convert("L").save(path, format="JPEG", quality=50)     # a JPEG behind a .png name
    with pytest.raises(DataError, match=r"ISIC_0000002_segmentation\.png: mask has \d+ grey levels"):
        _load(isic)


def test_three_level_mask(isic):
    path = isic / GT / "ISIC_0000000_segmentation.png"
    mask = np.asarray(Image.open(path)).copy()
    mask[: mask.shape[0] // 3] = 128
    Image.fromarray(mask).save(path)
    with pytest.raises(DataError, match="grey levels"):
        _load(isic)


def test_label_map_mask():
    values = np.zeros((20, 20), np.uint8)
    values[5:10] = 1
    values[10:15] = 2
    with pytest.raises(DataError, match="x.png: mask values are 0..2 .* label map"):
        binarize_mask(values, "x.png")


@pytest.mark.parametrize("values, expected", [
    (np.array([[0, 255], [255, 0]], np.uint8), [[0, 1], [1, 0]]),
    (np.array([[0, 1], [1, 0]], np.uint8), [[0, 1], [1, 0]]),                  # a 0/1 mask
    (np.array([[True, False], [False, False]]), [[1, 0], [0, 0]]),             # 1-bit BMP
    (np.array([[[0, 0, 0], [255, 0, 0]], [[0, 0, 255], [0, 0, 0]]], np.uint8), [[0, 1], [1, 0]]),  # RGB
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4))),                            # empty mask
])
def test_accepted_mask_encodings(values, expected):
    out = binarize_mask(values)
    assert out.dtype == np.uint8 and np.array_equal(out, expected)


def test_empty_folder(tmp_path):
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(DataError, match=r"(?s)empty-dir: folder is empty.*Known layouts:.*isic2018.*ph2"):
        load_index("auto", tmp_path / "empty-dir")


def test_unrecognised_layout(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"(?s)holds no known dataset layout.*Known layouts:.*isic2019"):
        load_index("auto", tmp_path)


def test_missing_folder_and_unknown_name(tmp_path):
    with pytest.raises(DataError, match="nowhere: data folder does not exist"):
        load_index("auto", tmp_path / "nowhere")
    with pytest.raises(DataError, match="unknown dataset 'isic2020'"):
        load_index("isic2020", tmp_path)
    (tmp_path / INPUT).mkdir()
    with pytest.raises(DataError, match="no ph2 layout found"):
        load_index("ph2", tmp_path)
    with pytest.raises(DataError, match="isic2018 layout was found but holds no samples"):
        load_index("isic2018", tmp_path)


def test_isic2019_unknown_class_column(tmp_path, build):
    root = build.isic2019(tmp_path)
    csv = root / "ISIC_2019_Training_GroundTruth.csv"
    csv.write_text(csv.read_text().replace("SCC", "XYZ", 1))
    with pytest.raises(DataError, match=r"ISIC_2019_Training_GroundTruth\.csv: unknown class column\(s\) \['XYZ'\]"):
        load_index("isic2019", root)


def test_isic2019_row_not_one_hot(tmp_path, build):
    rows = ["ISIC_0000000," + ",".join(["1.0"] + ["0.0"] * 8),
            "ISIC_0000001_downsampled," + ",".join(["1.0", "1.0"] + ["0.0"] * 7),
            "ISIC_0000002," + ",".join(["0.0"] * 9)]
    root = build.isic2019(tmp_path, rows=rows)
    with pytest.raises(DataError, match=r"GroundTruth\.csv: row 3 \(ISIC_0000001_downsampled\).* not one-hot"):
        load_index("isic2019", root)
    with pytest.warns(UserWarning, match="not one-hot") as record:
        index = load_index("isic2019", root, skip_bad=True)
    assert len(record) == 2 and [s.id for s in index.samples] == ["ISIC_0000000"]


def test_ph2_unknown_diagnosis(tmp_path, build):
    root = build.ph2(tmp_path, n=3)
    txt = root / "PH2_dataset.txt"
    lines = txt.read_text().splitlines()
    lines[2] = lines[2].split("\t")[0] + "\t7\t0"
    txt.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"PH2_dataset\.txt: line 3 \(IMD\d+\): clinical diagnosis '7'"):
        load_index("ph2", root)


def test_isic2017_two_labels_in_one_row(tmp_path, build):
    root = build.isic2017(tmp_path)
    csv = root / "ISIC-2017_Training_Part3_GroundTruth.csv"
    csv.write_text(csv.read_text().replace("ISIC_0000002,0.0,1.0", "ISIC_0000002,1.0,1.0"))
    with pytest.raises(DataError, match=r"Part3_GroundTruth\.csv: row 4 \(ISIC_0000002\)"):
        load_index("isic2017", root)


def test_skip_bad_warns_per_file_and_counts(isic, build):
    shutil.copy(isic / INPUT / "ISIC_0000000.jpg", isic / INPUT / "ISIC_0000009.jpg")
    (isic / INPUT / "ISIC_0000001.jpg").write_bytes(b"broken")
    # ISIC_0000009 has no mask file
    index = load_index("isic2018", isic)
    with pytest.warns(UserWarning) as record:
        x, y, kept = load_arrays(index, None, (32, 32), progress=False, skip_bad=True, return_samples=True)
    messages = [str(r.message) for r in record]
    assert any("ISIC_0000001.jpg" in m for m in messages) and any("ISIC_0000009_segmentation.png" in m for m in messages)
    assert any("skipped 2 of 4 samples" in m for m in messages)
    assert [s.id for s in kept] == ["ISIC_0000000", "ISIC_0000002"] and x.shape[0] == y.shape[0] == 2
    with pytest.warns(UserWarning, match="skipped 2 of 4"):              # cached: same result, warned again
        x2, _ = load_arrays(index, None, (32, 32), progress=False, skip_bad=True)
    assert np.array_equal(x, x2)


def _onehot(k: int) -> str:
    return ",".join("1.0" if j == k else "0.0" for j in range(9))


def test_isic2019_conflicting_duplicate_rows_are_refused(tmp_path, build):
    """A duplicated id with two labels used to keep the last row silently (and inspect --strict passed)."""
    from common.data.__main__ import main as data_main

    rows = [f"ISIC_0000000,{_onehot(0)}", f"ISIC_0000002,{_onehot(2)}", f"ISIC_0000000,{_onehot(1)}"]
    root = build.isic2019(tmp_path, rows=rows)
    with pytest.raises(DataError, match=r"ISIC_0000000 is on rows 2 and 4 with different labels"):
        load_index("isic2019", root)
    with pytest.warns(UserWarning, match="different labels"):
        index = load_index("isic2019", root, skip_bad=True)
    assert [s.id for s in index.samples] == ["ISIC_0000002"]
    assert data_main(["inspect", str(root), "--strict"]) == 1


def test_isic2019_ids_with_folder_parts_and_unk_rows_are_refused(tmp_path, build):
    rows = [f"ISIC_0000000,{_onehot(0)}", f"../../outside,{_onehot(1)}", f"ISIC_0000002,{_onehot(8)}"]
    root = build.isic2019(tmp_path, rows=rows)
    with pytest.raises(DataError, match=r"image id '\.\./\.\./outside' is not a file name"):
        load_index("isic2019", root)
    with pytest.warns(UserWarning) as record:
        index = load_index("isic2019", root, skip_bad=True)
    assert any("ISIC_0000002) is labelled UNK" in str(w.message) for w in record)
    assert [s.id for s in index.samples] == ["ISIC_0000000"]
    assert all(Path(s.image).parent.name == "ISIC_2019_Training_Input" for s in index.samples)


def test_two_images_with_one_id_are_named(tmp_path, build):
    root = build.isic2019(tmp_path)
    folder = root / "ISIC_2019_Training_Input"
    jpg = folder / "ISIC_0000000.jpg"
    jpg.with_suffix(".png").write_bytes(jpg.read_bytes())
    with pytest.raises(DataError, match=r"two images for id ISIC_0000000 \(ISIC_0000000\.(jpg|png) and ISIC_0000000\.(jpg|png)\)"):
        load_index("isic2019", root)
