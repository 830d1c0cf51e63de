"""Named online pipelines: transforms ``(image, mask, rng) -> (image, mask)`` to call per sample in the
batch iterator.

A paper's own augmentation lives in its package (SLSNet's 8 offline variants in
``reproductions/slsnet/augment.py``, ASNet's left-right flips in ``reproductions/asnet/paper.py``);
the two below are here until the transfer-ensemble and ISIC 2019 packages take them. Probabilities and
magnitudes a paper does not give are ours and are marked so.
"""
from __future__ import annotations

from typing import Callable

from .core import Compose, Identity, OneOf, Transform
from .hair import HairOcclusion
from .transforms import (
    Affine,
    ChannelShift,
    ContrastStretch,
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

def none() -> Transform:
    """No augmentation (AER-Net reports none)."""
    return Identity()


def flips(p: float = 0.5) -> Transform:
    """Independent left-right and up-down flips, each with probability ``p``."""
    return Compose([HorizontalFlip(p=p), VerticalFlip(p=p)])


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
