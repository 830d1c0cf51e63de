"""Post-processing: thresholds, components, the transfer ensemble's double threshold (eq. 2)."""
from __future__ import annotations

import numpy as np
import pytest
from skimage.morphology import reconstruction

from common import postprocess as P

# Hand-made map: object A (marker .97 x2, mask .6 incl. a diagonal neighbour at (3, 3)),
# object B (marker .99 x1 + one .6 pixel), a .5 block that never passes T_L = 0.55.
PROB = np.array([
    [0.0, 0.00, 0.00, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.97, 0.97, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.60, 0.60, 0.0, 0.0, 0.5, 0.5],
    [0.0, 0.00, 0.00, 0.6, 0.0, 0.5, 0.5],
    [0.0, 0.00, 0.00, 0.0, 0.0, 0.0, 0.0],
    [0.99, 0.6, 0.00, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.00, 0.00, 0.0, 0.0, 0.0, 0.0],
])
A = np.zeros((7, 7), bool)
A[1, 1] = A[1, 2] = A[2, 1] = A[2, 2] = A[3, 3] = True
B = np.zeros((7, 7), bool)
B[5, 0] = B[5, 1] = True


def test_double_threshold_hand_made_example():
    assert np.array_equal(P.double_threshold(PROB, 0.95, 0.55), A)  # largest marker object only
    assert np.array_equal(P.double_threshold(PROB, 0.95, 0.55, largest=False), A | B)
    four = A.copy()
    four[3, 3] = False  # (3, 3) touches A only diagonally
    assert np.array_equal(P.double_threshold(PROB, 0.95, 0.55, connectivity=1), four)
    assert not P.double_threshold(PROB, 0.995, 0.55).any()  # empty marker -> empty output
    out = P.double_threshold(PROB[..., None], 0.95, 0.55)
    assert out.shape == (7, 7, 1) and np.array_equal(out[..., 0], A)


def test_reconstruct_matches_skimage_reconstruction_by_dilation():
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = rng.random((20, 20)) > 0.45
        marker = (rng.random((20, 20)) > 0.97) & mask
        expected = reconstruction(marker.astype(np.uint8), mask.astype(np.uint8), method="dilation",
                                  footprint=np.ones((3, 3))).astype(bool)
        assert np.array_equal(P.reconstruct(marker, mask), expected)
    marker = np.zeros((3, 3), bool)
    marker[0, 0] = True
    assert not P.reconstruct(marker, np.zeros((3, 3), bool)).any()  # marker outside the mask is clipped


def test_threshold_largest_component_fill_holes():
    prob = np.array([[0.5, 0.49, 0.0], [0.0, 0.0, 0.0], [0.9, 0.9, 0.9]])
    assert P.threshold(prob).tolist() == [[True, False, False], [False] * 3, [True] * 3]
    assert P.largest_component(P.threshold(prob)).tolist() == [[False] * 3, [False] * 3, [True] * 3]
    assert not P.largest_component(np.zeros((3, 3), bool)).any()
    ring = np.ones((5, 5), bool)
    ring[2, 2] = False
    assert P.fill_holes(ring).all()
    prob = np.zeros((7, 7), "float32")
    prob[1:5, 1:5] = 0.9
    prob[2, 2] = 0.1  # hole
    prob[6, 6] = 0.8  # speck
    cleaned = P.clean_mask(prob)
    assert cleaned.sum() == 16 and not cleaned[6, 6]


def test_thresholds_compare_in_the_maps_dtype():
    prob = np.array([[0.4, 0.41]], dtype="float32")
    assert P.double_threshold(prob, 0.405, 0.4, largest=False).tolist() == [[False, True]]


def test_restrict_to_lesion():
    attrs = np.full((2, 2, 3), 0.8, "float32")
    lesion = np.array([[1, 0], [0, 1]], np.uint8)
    out = P.restrict_to_lesion(attrs, lesion)
    assert out.shape == (2, 2, 3)
    assert np.allclose(out[..., 1], [[0.8, 0.0], [0.0, 0.8]])
    soft = P.restrict_to_lesion(attrs[None], np.full((1, 2, 2, 1), 0.5))
    assert np.allclose(soft, 0.4)
    with pytest.raises(ValueError):
        P.restrict_to_lesion(attrs, np.ones((3, 3)))


def test_paper_ranges():
    assert P.TH_RANGE == (0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.996)
    assert P.TL_RANGE == (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)


def _search_example():
    prob = np.full((20, 20), 0.1)
    prob[1:11, 1:11] = 0.4   # halo around the lesion, false
    prob[2:10, 2:10] = 0.6   # the lesion (truth), low confidence
    prob[4:8, 4:8] = 0.999   # its confident core (16 px)
    prob[12:18, 12:18] = 0.985  # a larger false blob (36 px), confident below 0.99
    truth = np.zeros((20, 20), bool)
    truth[2:10, 2:10] = True
    return prob, truth


def test_grid_search_finds_the_separating_thresholds():
    prob, truth = _search_example()
    result = P.grid_search_thresholds([prob, prob[..., None]], [truth, truth[..., None]])
    # T_H < 0.99 keeps the larger false blob as marker (Jaccard 0); T_L >= 0.6 drops the ring,
    # T_L = 0.3/0.35 adds the halo. First best pair in range order: (0.99, 0.4).
    assert (result.t_high, result.t_low) == (0.99, 0.4)
    assert result.score == pytest.approx(1.0)
    assert result.grid.shape == (len(P.TH_RANGE), len(P.TL_RANGE))
    assert np.all(result.grid[:4] == 0.0)
    assert np.allclose(result.grid[4:, 2:6], 1.0)
    assert result.grid[4, 0] == pytest.approx(64 / 100)  # halo included: 64 / 100 px
    assert result.grid[4, 6] == pytest.approx(16 / 64)   # only the core
    thr = P.grid_search_thresholds([prob], [truth], metric="thresholded_jaccard")
    assert thr.grid[4, 0] == 0.0 and thr.grid[4, 6] == 0.0
    assert (thr.t_high, thr.t_low) == (0.99, 0.4)
    ds = P.grid_search_thresholds([prob], [truth], metric="dataset_jaccard")
    assert ds.score == pytest.approx(1.0)


def test_grid_search_matches_double_threshold():
    rng = np.random.default_rng(3)
    probs = [np.clip(rng.random((12, 12)) ** 0.3, 0, 1) for _ in range(3)]
    truths = [rng.random((12, 12)) > 0.5 for _ in range(3)]
    th, tl = (0.9, 0.99), (0.4, 0.7)
    for largest in (True, False):
        result = P.grid_search_thresholds(probs, truths, th, tl, largest=largest)
        for i, a in enumerate(th):
            for j, b in enumerate(tl):
                scores = []
                for p, t in zip(probs, truths):
                    out = P.double_threshold(p, a, b, largest=largest)
                    inter, union = (out & t).sum(), (out | t).sum()
                    scores.append(inter / union if union else 1.0)
                assert result.grid[i, j] == pytest.approx(np.mean(scores))
