"""ASNet's augmentation (section 2.5): online left-right flips only."""
from __future__ import annotations

import numpy as np


def _sample():
    rng = np.random.default_rng(0)
    image = rng.integers(20, 90, size=(40, 48, 3), dtype=np.uint8)
    mask = np.zeros((40, 48, 1), dtype=np.uint8)
    mask[8:22, 12:30, 0] = 1
    return image, mask


def test_asnet_flips_left_right_only():
    image, mask = _sample()
    from reproductions.asnet.configs import BASE
    from reproductions.asnet.paper import augment

    flip = augment(BASE)
    results = [flip(image, mask, np.random.default_rng(s)) for s in range(20)]
    kinds = {("same" if np.array_equal(i, image) else "lr") for i, _ in results}
    assert kinds == {"same", "lr"}
    for out_image, out_mask in results:
        assert np.array_equal(out_image, image) or np.array_equal(out_image, image[:, ::-1])
