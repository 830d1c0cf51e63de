"""The augmentation each paper reports, as named pipelines.

Online pipelines are transforms ``(image, mask, rng) -> (image, mask)`` to call per sample in the batch
iterator; ``slsnet_offline_expand`` grows a training set before training. Probabilities and magnitudes a
paper does not give are ours and are marked so below.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .core import Compose, Identity, OneOf, Transform, expand_dataset
from .hair import HairOcclusion
from .transforms import (
    CLAHE,
    Affine,
    ChannelShift,
    ContrastStretch,
    Gamma,
    GaussianBlur,
    GaussianNoise,
    HorizontalFlip,
    IlluminationGradient,
    IntensityScale,
    SaltPepperNoise,
    SpeckleNoise,
    UnsharpMask,
    VerticalFlip,
)

# ------------------------------------------------------------------------------------------------- SLSNet
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


# ------------------------------------------------------------------------------------------------- others
def none() -> Transform:
    """No augmentation (AER-Net reports none)."""
    return Identity()


def flips(p: float = 0.5) -> Transform:
    """Independent left-right and up-down flips, each with probability ``p``."""
    return Compose([HorizontalFlip(p=p), VerticalFlip(p=p)])


def asnet_train() -> Transform:
    """ASNet §2.5 (implementation details): "online randomly left-right flipping", probability 1/2."""
    return Compose([HorizontalFlip(p=0.5)])


def transfer_ensemble_train() -> Transform:
    """The on-the-fly augmentation of the transfer-ensemble paper (§II-A.3).

    The paper's list: vertical and horizontal flips; rotation 0–40 degrees (drawn from [-40, 40]); zoom
    0.7–1.3; translation (range not given: 10 % of the size); shear 0.3 (radians, Keras convention);
    colour-channel shift (not given: +-20 levels); intensity scaling 0.7–1.3; Gaussian, speckle or
    salt-and-pepper noise; contrast up or down by linear histogram stretching; Gaussian blur or unsharp
    masking; an axial or radial illumination gradient; synthetic hair. The paper gives no probabilities;
    ours: flips 1/2 each, the affine warp 0.7 (rotation, zoom, translation and shear drawn together, as
    Keras' ``ImageDataGenerator`` does), every other group 0.25–0.3 so a typical sample gets one or two
    photometric changes.
    """
    return Compose([
        HorizontalFlip(p=0.5),
        VerticalFlip(p=0.5),
        Affine(rotate=40.0, scale=(0.7, 1.3), translate=0.1, shear=0.3, p=0.7),
        ChannelShift(limit=20.0, p=0.3),
        IntensityScale(scale=(0.7, 1.3), p=0.3),
        OneOf([GaussianNoise(p=1.0), SpeckleNoise(p=1.0), SaltPepperNoise(p=1.0)], p=0.25),
        ContrastStretch(mode="both", p=0.3),
        OneOf([GaussianBlur(p=1.0), UnsharpMask(p=1.0)], p=0.25),
        IlluminationGradient(kind="both", p=0.3),
        HairOcclusion(p=0.25),
    ])


def classification_train() -> Transform:
    """Training augmentation for the ISIC 2019 classifiers of the thesis (Verdeguer 2020).

    The thesis says only that augmentation was done in PyTorch (§4.3.2), not which; this is a conventional
    mild set for dermoscopy (orientation carries no label information): flips 1/2 each, rotation up to 30
    degrees with zoom 0.9–1.1 (p 0.5), intensity scaling 0.9–1.1 (p 0.3), channel shift +-10 (p 0.3).
    Use it with ``mask=None``.
    """
    return Compose([
        HorizontalFlip(p=0.5),
        VerticalFlip(p=0.5),
        Affine(rotate=30.0, scale=(0.9, 1.1), translate=0.05, p=0.5),
        IntensityScale(scale=(0.9, 1.1), p=0.3),
        ChannelShift(limit=10.0, p=0.3),
    ])


PIPELINES: dict[str, Callable[..., Transform]] = {
    "none": none,
    "flips": flips,
    "slsnet_online": slsnet_online,
    "asnet_train": asnet_train,
    "transfer_ensemble_train": transfer_ensemble_train,
    "classification_train": classification_train,
}


def get_pipeline(name: str, **kwargs) -> Transform:
    """Build the online pipeline registered as ``name`` (see ``PIPELINES``); ``kwargs`` go to its factory.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        factory = PIPELINES[name]
    except KeyError:
        raise ValueError(f"unknown augmentation pipeline {name!r}; known: {', '.join(PIPELINES)}") from None
    return factory(**kwargs)
