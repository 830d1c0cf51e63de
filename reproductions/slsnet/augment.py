"""SLSNet's augmentation (section 4.3, Table 2): the 8 offline variants, and the online alternative."""
from __future__ import annotations

import numpy as np

from common.augment import CLAHE, Compose, Gamma, HorizontalFlip, Identity, OneOf, Transform, VerticalFlip
from common.augment import expand_dataset

SLSNET_OFFLINE_VARIANTS = (
    "original",        # gamma 1.0 of the paper: the image as it is
    "hflip",
    "vflip",
    "hvflip",          # both flips (a 180-degree rotation)
    "gamma_0.5",
    "gamma_1.5",
    "clahe_1.0-1.5",   # CLAHE, contrast limit drawn from [1.0, 1.5)
    "clahe_1.5-2.0",   # CLAHE, contrast limit drawn from [1.5, 2.0]
)


def slsnet_variants() -> list[tuple[str, Transform]]:
    """The 8 fixed variants of SLSNet's offline augmentation, in ``SLSNET_OFFLINE_VARIANTS`` order.

    SLSNet §4.3 augments with horizontal and vertical flips, gamma 0.5, 1.0 and 1.5, and CLAHE with a
    contrast limit "between 1.00 and 2.00", and Table 2 grows the training sets exactly 8-fold (ISBI 2017
    2000 -> 16000, ISIC 2018 2594 -> 20752). The paper does not list the 8 images; our reading: gamma 1.0 is
    the original itself; the flips give the four mirror states (original, left-right, up-down, both); gamma
    0.5 and 1.5 give two; CLAHE over the stated range gives two, one with a limit from the lower half and
    one from the upper half so every image gets a mild and a strong version. Flips keep masks aligned;
    gamma and CLAHE change the image only.
    """
    return [
        ("original", Identity()),
        ("hflip", HorizontalFlip(p=1.0)),
        ("vflip", VerticalFlip(p=1.0)),
        ("hvflip", Compose([HorizontalFlip(p=1.0), VerticalFlip(p=1.0)])),
        ("gamma_0.5", Gamma(0.5, p=1.0)),
        ("gamma_1.5", Gamma(1.5, p=1.0)),
        ("clahe_1.0-1.5", CLAHE((1.0, 1.5), p=1.0)),
        ("clahe_1.5-2.0", CLAHE((1.5, 2.0), p=1.0)),
    ]


def slsnet_offline_expand(images: np.ndarray, masks: np.ndarray | None, seed: int = 0):
    """SLSNet's offline augmentation (§4.3, Table 2): every training image in its 8 variants.

    Args:
        images: ``uint8 [N, H, W, 3]`` RGB.
        masks: ``uint8 [N, H, W, 1]`` in ``{0, 1}`` (or ``[N, H, W, K]``), or ``None``.
        seed: seeds the CLAHE contrast limits (the only random part); sample ``i`` uses
            ``default_rng([seed, i])``.

    Returns:
        ``(images, masks)`` with exactly ``8 N`` samples; index ``8 i + v`` is variant
        ``SLSNET_OFFLINE_VARIANTS[v]`` of sample ``i``. Expand the training split only, after splitting.
    """
    return expand_dataset(images, masks, [t for _, t in slsnet_variants()], seed=seed)


def slsnet_online() -> Transform:
    """SLSNet's "online augmentation" alternative (§4.3, "results more or less similar"): each time a sample
    is drawn it becomes one of the 8 offline variants, chosen uniformly, so an epoch sees the distribution
    of the expanded set without storing it."""
    return OneOf([t for _, t in slsnet_variants()])
