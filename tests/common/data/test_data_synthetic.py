"""The synthetic dermoscopy generator: determinism, subsets, sizes, learnable labels."""
from __future__ import annotations

import time

import numpy as np
import pytest

from common.data import load_arrays, load_index, synthetic


def test_generate_shapes_and_types():
    images, masks, labels = synthetic.generate(6, (48, 64), seed=1)
    assert images.shape == (6, 48, 64, 3) and images.dtype == np.uint8
    assert masks.shape == (6, 48, 64, 1) and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
    assert labels.shape == (6,) and labels.dtype.kind == "i" and set(labels) <= {0, 1, 2}
    assert synthetic.generate(2, seed=1, with_labels=False)[2] is None


def test_deterministic_and_any_subset_reproducible():
    a = synthetic.generate(8, (40, 40), seed=7)
    b = synthetic.generate(8, (40, 40), seed=7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    tail = synthetic.generate(3, (40, 40), seed=7, start=5)
    assert np.array_equal(tail[0], a[0][5:]) and np.array_equal(tail[1], a[1][5:])
    image, mask, label = synthetic.generate_sample(6, (40, 40), seed=7)
    assert np.array_equal(image, a[0][6]) and label == a[2][6]
    other = synthetic.generate(8, (40, 40), seed=8)
    assert not np.array_equal(other[0], a[0])


def test_same_lesion_at_any_size():
    small = synthetic.generate_sample(3, (64, 64))[1][..., 0].astype(float)
    large = synthetic.generate_sample(3, (256, 256))[1][..., 0].astype(float)
    down = large.reshape(64, 4, 64, 4).mean((1, 3)) > 0.5
    assert (down == small.astype(bool)).mean() > 0.97


def test_picture_properties():
    images, masks, labels = synthetic.generate(60, (96, 96), seed=0)
    area = masks.mean((1, 2, 3))
    assert ((area > 0.03) & (area < 0.6)).all()                     # one lesion of sensible size
    inside = [img[m[..., 0] == 1].mean() for img, m in zip(images, masks)]
    outside = [img[m[..., 0] == 0].mean() for img, m in zip(images, masks)]
    assert np.all(np.array(inside) < np.array(outside))             # lesion darker than skin
    skin = images[:, 40:56, :8].reshape(-1, 3).mean(0)
    assert skin[0] > skin[1] > skin[2]                               # reddish skin tone
    # labels follow the lesion: a higher class is darker on average
    darkness = np.array([255 - i for i in inside])
    assert darkness[labels == 2].mean() > darkness[labels == 0].mean() + 10
    assert np.bincount(labels, minlength=3).min() >= 10


def test_corners_darkened_by_vignette():
    images, _, _ = synthetic.generate(40, (64, 64), seed=2)
    has_vignette = np.array([synthetic.sample_params(i, seed=2)["vignette"] is not None for i in range(40)])
    assert 0.4 < has_vignette.mean() < 0.95
    corners = images[:, :2, :2].mean((1, 2, 3))
    bright = np.percentile(images.reshape(40, -1), 90, axis=1)
    ratio = corners / bright
    assert np.median(ratio[has_vignette]) < 0.2 and np.median(ratio[~has_vignette]) > 0.6


def test_params_match_labels_without_rendering():
    labels = synthetic.generate(10, (16, 16), seed=4)[2]
    assert [synthetic.sample_label(i, seed=4) for i in range(10)] == labels.tolist()


def test_fast():
    synthetic.generate(2)
    t0 = time.perf_counter()
    synthetic.generate(20, (128, 128))
    assert (time.perf_counter() - t0) / 20 < 0.05                    # a few ms each; generous on CI


def test_load_arrays_renders_the_synthetic_index():
    index = load_index(synthetic_size=12, seed=3)
    x, y = load_arrays(index, index.samples[4:9], (32, 32), progress=False)
    ref = synthetic.generate(5, (32, 32), seed=3, start=4)
    assert np.array_equal(x, ref[0]) and np.array_equal(y, ref[1])
    assert [s.label for s in index.samples[4:9]] == ref[2].tolist()


@pytest.mark.parametrize("n_classes", [2, 5])
def test_n_classes(n_classes):
    labels = synthetic.generate(30, (16, 16), n_classes=n_classes)[2]
    assert set(labels) == set(range(n_classes))
    assert len(synthetic.class_names(n_classes)) == n_classes


def test_hairs_and_spots_are_not_in_the_mask():
    for i in range(6):
        p = synthetic.sample_params(i, seed=11)
        bare = dict(p, n_hairs=0, spots=np.zeros((0, 3)))
        image, mask = synthetic.render(p, (64, 64))
        image_bare, mask_bare = synthetic.render(bare, (64, 64))
        assert np.array_equal(mask, mask_bare)
        if p["n_hairs"] or len(p["spots"]):
            assert not np.array_equal(image, image_bare)
