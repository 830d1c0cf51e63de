"""Joint image/mask augmentation: determinism, alignment, binary masks, the paper pipelines."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from skimage import exposure

from common import augment as aug
from common.augment.core import A

H, W = 40, 48


def _sample(seed: int = 0, channels: int = 1):
    """A textured RGB image and a mask whose lesion is a white square painted on the image."""
    rng = np.random.default_rng(seed)
    image = rng.integers(20, 90, size=(H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W, channels), dtype=np.uint8)
    mask[8:22, 12:30, 0] = 1
    for k in range(1, channels):  # further attribute masks: other rectangles
        mask[4 + 3 * k:14 + 3 * k, 5 * k:5 * k + 10, k] = 1
    image[mask[..., 0] == 1] = 255
    return image, mask


GEOMETRIC = {
    "hflip": lambda: aug.HorizontalFlip(p=1.0),
    "vflip": lambda: aug.VerticalFlip(p=1.0),
    "affine": lambda: aug.Affine(rotate=40, scale=(0.7, 1.3), translate=0.1, shear=0.3, p=1.0),
    "rotate": lambda: aug.Rotate(40, p=1.0),
    "zoom": lambda: aug.Zoom((0.7, 1.3), p=1.0),
    "translate": lambda: aug.Translate(0.15, p=1.0),
    "shear": lambda: aug.Shear(0.3, p=1.0),
}
PHOTOMETRIC = {
    "gamma": lambda: aug.Gamma((0.5, 1.5), p=1.0),
    "clahe": lambda: aug.CLAHE((1.0, 2.0), p=1.0),
    "channel_shift": lambda: aug.ChannelShift(20, p=1.0),
    "intensity_scale": lambda: aug.IntensityScale((0.7, 1.3), p=1.0),
    "contrast_stretch": lambda: aug.ContrastStretch("both", p=1.0),
    "gaussian_blur": lambda: aug.GaussianBlur(p=1.0),
    "unsharp_mask": lambda: aug.UnsharpMask(p=1.0),
    "illumination": lambda: aug.IlluminationGradient("both", p=1.0),
    "gaussian_noise": lambda: aug.GaussianNoise(p=1.0),
    "speckle_noise": lambda: aug.SpeckleNoise(p=1.0),
    "salt_pepper_noise": lambda: aug.SaltPepperNoise(p=1.0),
    "hair": lambda: aug.HairOcclusion(p=1.0),
}
ALL = {**GEOMETRIC, **PHOTOMETRIC}
FIXED = {"hflip", "vflip"}  # no random parameter: every seed gives the same output


@pytest.mark.parametrize("name", sorted(ALL))
def test_transform_changes_image_keeps_contract_and_inputs(name):
    image, mask = _sample()
    image_before, mask_before = image.copy(), mask.copy()
    out_image, out_mask = ALL[name]()(image, mask, np.random.default_rng(3))
    assert out_image.dtype == np.uint8 and out_image.shape == image.shape
    assert out_mask.dtype == np.uint8 and out_mask.shape == mask.shape
    assert set(np.unique(out_mask)) <= {0, 1}
    assert not np.array_equal(out_image, image), f"{name} with p=1 left the image unchanged"
    np.testing.assert_array_equal(image, image_before)  # never in place
    np.testing.assert_array_equal(mask, mask_before)
    if name in PHOTOMETRIC:
        assert out_mask is mask


@pytest.mark.parametrize("name", sorted(ALL))
def test_same_seed_same_output_different_seed_different(name):
    image, mask = _sample()
    transform = ALL[name]()
    first = transform(image, mask, np.random.default_rng(11))
    again = transform(image, mask, np.random.default_rng(11))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    if name not in FIXED:
        others = [transform(image, mask, np.random.default_rng(s))[0] for s in range(12, 20)]
        assert any(not np.array_equal(first[0], o) for o in others)


@pytest.mark.parametrize("name", sorted(GEOMETRIC))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_geometric_moves_mask_with_image(name, seed):
    image, mask = _sample(seed)
    out_image, out_mask = GEOMETRIC[name]()(image, mask, np.random.default_rng(seed))
    assert set(np.unique(out_mask)) <= {0, 1} and out_mask.any()
    square = out_image.min(axis=-1) > 160  # the white square painted at the mask, where it went
    inter = np.logical_and(square, out_mask[..., 0] == 1).sum()
    union = np.logical_or(square, out_mask[..., 0] == 1).sum()
    assert inter / union > 0.85, f"{name}: mask and image square overlap only {inter / union:.2f}"


@pytest.mark.parametrize("name", ["affine", "hflip"])
def test_several_masks_move_together_and_2d_masks_keep_their_shape(name):
    image, masks = _sample(channels=5)
    transform = GEOMETRIC[name]()
    out_image, out_masks = transform(image, masks, np.random.default_rng(5))
    assert out_masks.shape == (H, W, 5) and set(np.unique(out_masks)) <= {0, 1}
    for k in range(5):  # each channel lands where it would alone
        single_image, single = transform(image, masks[..., k], np.random.default_rng(5))
        assert single.shape == (H, W)
        np.testing.assert_array_equal(single, out_masks[..., k])
        np.testing.assert_array_equal(single_image, out_image)


def test_mask_none_and_probability_zero():
    image, mask = _sample()
    out_image, out_mask = aug.transfer_ensemble_train()(image, None, np.random.default_rng(0))
    assert out_mask is None and out_image.shape == image.shape
    for make in ALL.values():
        transform = make()
        transform.p = 0.0
        result = transform(image, mask, np.random.default_rng(0))
        assert result[0] is image and result[1] is mask


def test_hair_occlusion_draws_on_image_only():
    image, mask = _sample()
    out_image, out_mask = aug.HairOcclusion(count=(8, 8), p=1.0)(image, mask, np.random.default_rng(1))
    assert out_mask is mask
    changed = np.any(out_image != image, axis=-1).mean()
    assert 0.01 < changed < 0.6


def test_clahe_clip_limit_range_grid_and_reference():
    transform = aug.CLAHE((1.0, 2.0), p=1.0)
    rng = np.random.default_rng(0)
    clips = np.array([transform.sample(rng) for _ in range(200)])
    assert clips.min() >= 1.0 and clips.max() <= 2.0 and clips.max() - clips.min() > 0.8
    assert transform.grid(128, 128) == (4, 4) and transform.grid(512, 768) == (8, 8)
    assert transform.grid(40, 48) == (1, 1)
    image, mask = _sample()
    out, _ = transform(image, mask, np.random.default_rng(4))
    probe = np.random.default_rng(4)
    probe.random()  # the p draw
    clip = transform.sample(probe)
    reference = A.CLAHE(clip_limit=(clip, clip), tile_grid_size=(1, 1), p=1.0)(image=image)["image"]
    np.testing.assert_array_equal(out, reference)
    low, _ = aug.CLAHE(1.0, p=1.0)(image, mask, 0)
    high, _ = aug.CLAHE(2.0, p=1.0)(image, mask, 0)
    assert not np.array_equal(low, high)  # the limit matters at small sizes too
    with pytest.raises(ValueError):
        aug.CLAHE((0.5, 2.0))


def test_gamma_values_and_formula():
    transform = aug.Gamma((0.5, 1.0, 1.5), p=1.0)
    rng = np.random.default_rng(0)
    assert {transform.sample(rng) for _ in range(100)} == {0.5, 1.0, 1.5}
    image, _ = _sample()
    np.testing.assert_array_equal(aug.Gamma(1.0, p=1.0)(image, None, 0)[0], image)
    for gamma in (0.5, 1.5):
        out, _ = aug.Gamma(gamma, p=1.0)(image, None, 0)
        np.testing.assert_array_equal(out, exposure.adjust_gamma(image, gamma))
    assert aug.Gamma(0.5, p=1.0)(image, None, 0)[0].mean() > image.mean()
    assert aug.Gamma(1.5, p=1.0)(image, None, 0)[0].mean() < image.mean()


def test_contrast_stretch_directions():
    image = np.random.default_rng(0).integers(60, 200, size=(H, W, 3), dtype=np.uint8)
    up, _ = aug.ContrastStretch("increase", p=1.0)(image, None, 1)
    down, _ = aug.ContrastStretch("decrease", p=1.0)(image, None, 1)
    assert up.std() > image.std() > down.std()


def test_registry_pipelines_run_deterministically():
    image, mask = _sample()
    assert {"none", "flips", "transfer_ensemble_train", "classification_train"} <= set(aug.PIPELINES)
    for name in aug.PIPELINES:
        pipeline = aug.get_pipeline(name)
        first = pipeline(image, mask, np.random.default_rng(7))
        second = pipeline(image, mask, np.random.default_rng(7))
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])
        assert first[0].shape == image.shape and set(np.unique(first[1])) <= {0, 1}
    outputs = {aug.transfer_ensemble_train()(image, mask, np.random.default_rng(s))[0].tobytes()
               for s in range(6)}
    assert len(outputs) >= 5
    with pytest.raises(ValueError, match="known"):
        aug.get_pipeline("no_such_pipeline")


def test_compose_oneof_expand_and_pickle():
    image, mask = _sample()
    chain = aug.Compose([aug.HorizontalFlip(p=1.0), aug.VerticalFlip(p=1.0)])
    np.testing.assert_array_equal(chain(image, mask, 0)[0], image[::-1, ::-1])
    only_second = aug.OneOf([aug.HorizontalFlip(p=1.0), aug.VerticalFlip(p=1.0)], weights=[0, 1])
    np.testing.assert_array_equal(only_second(image, mask, 0)[0], image[::-1])
    pipeline = aug.transfer_ensemble_train()
    pipeline(image, mask, 0)  # creates the per-thread albumentations copies
    clone = pickle.loads(pickle.dumps(pipeline))
    np.testing.assert_array_equal(clone(image, mask, 9)[0], pipeline(image, mask, 9)[0])
    out, out_masks = aug.expand_dataset(image[None], mask[None], [pipeline] * 3, seed=2)
    assert out.shape == (3, H, W, 3) and out_masks.shape == (3, H, W, 1)


def test_rejects_wrong_inputs():
    image, mask = _sample()
    with pytest.raises(ValueError, match="uint8"):
        aug.HorizontalFlip(p=1.0)(image.astype(np.float32), mask, 0)
    with pytest.raises(ValueError, match="size"):
        aug.HorizontalFlip(p=1.0)(image, mask[:-1], 0)
    with pytest.raises(TypeError):
        aug.HorizontalFlip(p=1.0)(image, mask, "seed")
    with pytest.raises(ValueError):
        aug.HorizontalFlip(p=1.5)


def test_worker_threads_get_the_same_augmentation_as_serial_calls():
    from concurrent.futures import ThreadPoolExecutor

    image, mask = _sample()
    pipeline = aug.transfer_ensemble_train()
    serial = [pipeline(image, mask, np.random.default_rng(s))[0] for s in range(24)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: pipeline(image, mask, np.random.default_rng(s))[0], range(24)))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
