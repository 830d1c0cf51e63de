"""Joint image/mask augmentation, seeded by a ``numpy.random.Generator``.

Every transform and pipeline is a callable ``transform(image, mask, rng) -> (image, mask)`` on one sample:
``image`` ``uint8 [H, W, 3]``, ``mask`` ``uint8 [H, W, 1]`` in ``{0, 1}`` (or ``[H, W, K]`` for several masks,
e.g. the five ISIC 2018 Task 2 attributes, or ``None``). The result depends only on the inputs and the
generator's state, so a batch iterator that derives each sample's generator from (seed, epoch, index)
replays the same augmentation after a resume. Geometric transforms move all mask channels with the image
(nearest-neighbour, masks stay binary); the others change the image only.

Online use (per sample, inside the batch iterator)::

    augment = get_pipeline("transfer_ensemble_train")
    image, mask = augment(image, mask, rng)

Offline use (grow the training set once, before training)::

    images3, masks3 = expand_dataset(images, masks, [augment] * 3, seed=0)   # exactly 3x

albumentations (>= 2.0) does the work where it has the operation; each call re-seeds it from ``rng`` (see
:class:`AlbumentationsTransform`). Shared named pipelines are in ``pipelines.py``; a paper's own
augmentation is in its package.
"""
from .core import (
    AlbumentationsTransform,
    Compose,
    Identity,
    OneOf,
    Transform,
    as_rng,
    check_pair,
    expand_dataset,
    value_range,
)
from .hair import HairOcclusion
from .pipelines import (
    PIPELINES,
    classification_train,
    flips,
    get_pipeline,
    none,
    transfer_ensemble_train,
)
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
    Rotate,
    SaltPepperNoise,
    Shear,
    SpeckleNoise,
    Translate,
    UnsharpMask,
    VerticalFlip,
    Zoom,
)

__all__ = [
    "Transform", "Compose", "OneOf", "Identity", "AlbumentationsTransform", "as_rng", "check_pair",
    "expand_dataset", "value_range",
    "HorizontalFlip", "VerticalFlip", "Affine", "Rotate", "Zoom", "Translate", "Shear",
    "Gamma", "CLAHE", "ChannelShift", "IntensityScale", "ContrastStretch", "GaussianBlur", "UnsharpMask",
    "IlluminationGradient", "GaussianNoise", "SpeckleNoise", "SaltPepperNoise", "HairOcclusion",
    "PIPELINES", "get_pipeline", "none", "flips", "transfer_ensemble_train", "classification_train",
]
