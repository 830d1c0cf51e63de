"""The paper's on-the-fly augmentation (section II.A.3), as a named pipeline of ``common.augment``.

``paper``: every routine section II.A.3 lists (flips, rotation 0-40 degrees, zoom 0.7-1.3,
translation, shear 0.3, colour-channel shift, intensity scaling 0.7-1.3, Gaussian / speckle /
salt-and-pepper noise, contrast by linear histogram stretching, Gaussian blur and unsharp masking,
axial and radial illumination gradients, hair occlusion); the probabilities and the magnitudes the
paper leaves out are ours, listed in ``common.augment.pipelines.transfer_ensemble_train``.
``flips``: horizontal and vertical flips only (a light variant for quick runs).
"""
from __future__ import annotations

from common.augment import get_pipeline

PIPELINES = {"paper": "transfer_ensemble_train", "flips": "flips"}


def pipeline(name: str):
    """The online transform ``(image, mask, rng) -> (image, mask)`` of ``name`` (paper or flips)."""
    if name not in PIPELINES:
        raise ValueError(f"augment {name!r}: choose one of {', '.join(PIPELINES)} or none")
    return get_pipeline(PIPELINES[name])
