"""SLSNet's augmentation: the 8 offline variants in their documented order, and the online draw."""
from __future__ import annotations

import numpy as np
from skimage import exposure

from reproductions.slsnet import augment as aug

H, W = 40, 48


def _sample(seed: int = 0):
    """A textured RGB image and a mask whose lesion is a white square painted on the image."""
    rng = np.random.default_rng(seed)
    image = rng.integers(20, 90, size=(H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W, 1), dtype=np.uint8)
    mask[8:22, 12:30, 0] = 1
    image[mask[..., 0] == 1] = 255
    return image, mask


def test_slsnet_offline_expand_is_exactly_8x_in_documented_order():
    images = np.stack([_sample(s)[0] for s in range(3)])
    masks = np.stack([_sample(s)[1] for s in range(3)])
    out_images, out_masks = aug.slsnet_offline_expand(images, masks, seed=0)
    assert len(aug.SLSNET_OFFLINE_VARIANTS) == 8
    assert out_images.shape == (24, H, W, 3) and out_masks.shape == (24, H, W, 1)
    assert out_images.dtype == np.uint8 and set(np.unique(out_masks)) <= {0, 1}
    for i in range(3):
        block_images, block_masks = out_images[8 * i:8 * i + 8], out_masks[8 * i:8 * i + 8]
        np.testing.assert_array_equal(block_images[0], images[i])
        np.testing.assert_array_equal(block_images[1], images[i][:, ::-1])
        np.testing.assert_array_equal(block_images[2], images[i][::-1])
        np.testing.assert_array_equal(block_images[3], images[i][::-1, ::-1])
        np.testing.assert_array_equal(block_masks[3], masks[i][::-1, ::-1])
        np.testing.assert_array_equal(block_images[4], exposure.adjust_gamma(images[i], 0.5))
        for v in (0, 4, 5, 6, 7):  # photometric variants keep the mask
            np.testing.assert_array_equal(block_masks[v], masks[i])
        assert len({block_images[v].tobytes() for v in range(8)}) == 8
    again = aug.slsnet_offline_expand(images, masks, seed=0)
    np.testing.assert_array_equal(again[0], out_images)
    other, _ = aug.slsnet_offline_expand(images, masks, seed=1)
    np.testing.assert_array_equal(other[:6], out_images[:6])  # only the CLAHE limits are random
    assert not np.array_equal(other[6:8], out_images[6:8])
    unlabelled, none = aug.slsnet_offline_expand(images, None, seed=0)
    assert none is None and len(unlabelled) == 24


def test_slsnet_online_gives_one_of_the_offline_variants():
    image, mask = _sample()
    online = aug.slsnet_online()
    flips = [mask, mask[:, ::-1], mask[::-1], mask[::-1, ::-1]]
    seen = set()
    for seed in range(40):
        out_image, out_mask = online(image, mask, np.random.default_rng(seed))
        assert any(np.array_equal(out_mask, f) for f in flips)
        seen.add(out_image.tobytes())
    assert len(seen) >= 6
