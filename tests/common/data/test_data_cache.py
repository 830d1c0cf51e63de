"""The decode-once cache: hits skip decoding, source changes rebuild, masks stay binary."""
from __future__ import annotations

import os

import numpy as np
import pytest

from common.data import DataError, cache, load_arrays, load_index


@pytest.fixture
def index(tmp_path, build):
    return load_index("isic2018", build.isic2018(tmp_path / "data", with_val=False))


def test_second_call_does_not_decode(index, tmp_path, monkeypatch):
    x1, y1 = load_arrays(index, None, (40, 48), cache_dir=tmp_path / "c", progress=False)

    def fail(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(cache, "decode_sample", fail)
    x2, y2 = load_arrays(index, None, (40, 48), cache_dir=tmp_path / "c", progress=False)
    assert isinstance(x2, np.memmap) and not x2.flags.writeable
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    with pytest.raises(AssertionError, match="decoded although cached"):    # another size: a new entry
        load_arrays(index, None, (20, 24), cache_dir=tmp_path / "c", progress=False)


def test_rebuilt_when_a_source_changes(index, tmp_path, build):
    x1, y1 = load_arrays(index, None, (32, 32), cache_dir=tmp_path / "c", progress=False)
    mask = index.samples[0].mask
    from PIL import Image
    flipped = np.asarray(Image.open(mask))[:, ::-1]
    Image.fromarray(np.ascontiguousarray(flipped)).save(mask)
    st = os.stat(mask)
    os.utime(mask, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    x2, y2 = load_arrays(index, None, (32, 32), cache_dir=tmp_path / "c", progress=False)
    fresh_x, fresh_y = load_arrays(index, None, (32, 32), cache_dir=False, progress=False)
    assert np.array_equal(x1, x2) and np.array_equal(x2, fresh_x)
    assert np.array_equal(y2, fresh_y) and not np.array_equal(y1[0], y2[0])
    assert len(list((tmp_path / "c").iterdir())) == 2


def test_entry_written_atomically_and_never_pickled(index, tmp_path):
    load_arrays(index, None, (16, 16), cache_dir=tmp_path / "c", progress=False)
    (entry,) = (tmp_path / "c").iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["images.npy", "masks.npy", "meta.json"]
    assert np.load(entry / "images.npy", allow_pickle=False).shape == (3, 16, 16, 3)


def test_incomplete_entry_is_rebuilt(index, tmp_path):
    load_arrays(index, None, (16, 16), cache_dir=tmp_path / "c", progress=False)
    (entry,) = (tmp_path / "c").iterdir()
    (entry / "meta.json").unlink()                                   # as if interrupted before commit
    x, _ = load_arrays(index, None, (16, 16), cache_dir=tmp_path / "c", progress=False)
    assert x.shape == (3, 16, 16, 3) and (entry / "meta.json").exists()


def test_default_cache_dir_from_environment(index, tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "env-cache"))
    assert cache.default_cache_dir() == tmp_path / "env-cache"
    load_arrays(index, None, (16, 16), progress=False)
    assert len(list((tmp_path / "env-cache").iterdir())) == 1


def test_no_cache_and_sample_order(index):
    x, y = load_arrays(index, index.samples[::-1], (16, 16), cache_dir=False, progress=False)
    ref, _ = load_arrays(index, index.samples, (16, 16), cache_dir=False, progress=False)
    assert not isinstance(x, np.memmap) and np.array_equal(x, ref[::-1])


def test_masks_binary_after_resize_of_real_masks(shared_data):
    for name, size in (("ph2-dev", (37, 53)), ("isic2018-sample", (100, 61))):
        index = load_index("auto", shared_data / name)
        x, y = load_arrays(index, index.samples[:8], size, progress=False)
        assert x.dtype == np.uint8 and x.shape == (min(8, len(index)), *size, 3)
        assert y.dtype == np.uint8 and set(np.unique(y)) == {0, 1}
        assert 0.05 < y.mean() < 0.9


def test_mask_resize_agrees_with_original():
    from common.data.decode import resize_mask
    mask = np.zeros((300, 400), np.uint8)
    mask[60:240, 100:300] = 1
    small = resize_mask(mask, (30, 40))
    assert set(np.unique(small)) == {0, 1} and small[6:24, 10:30].all() and small.sum() == 18 * 20


def test_empty_sample_list(index):
    with pytest.raises(DataError, match="no samples to load"):
        load_arrays(index, [], (16, 16))
