"""Data layer: dataset readers, synthetic data, decode-once cache, splits, colour spaces, batches.

Typical use::

    from common.data import load_index, load_arrays, splits, SegmentationBatches
    index = load_index("auto", "~/data/ISIC2018")          # or load_index() for synthetic data
    split = splits.holdout([s.id for s in index.samples], {"train": 0.8, "test": 0.2}, seed=0)
    x, y = load_arrays(index, index.by_id(split["train"]), (192, 256))
    batches = SegmentationBatches(x, y, 8, shuffle=True, seed=0, colour_space="lab")
"""
from . import splits, synthetic
from .cache import default_cache_dir, load_arrays
from .colour import COLOUR_SPACES, PREPROCESS_MODES, imagenet_preprocess, to_colour_space
from .discovery import DATASETS, discover, known_layouts, load_index
from .errors import DataError
from .samples import ATTRIBUTES, DatasetIndex, Sample

__all__ = [
    "ATTRIBUTES", "COLOUR_SPACES", "DATASETS", "PREPROCESS_MODES", "ClassificationBatches", "DataError",
    "DatasetIndex", "Sample", "SegmentationBatches", "default_cache_dir", "discover", "imagenet_preprocess",
    "known_layouts", "load_arrays", "load_index", "splits", "synthetic", "to_colour_space",
]


def __getattr__(name):
    # the batch iterators import keras (slow): load them only when asked for
    if name in ("SegmentationBatches", "ClassificationBatches"):
        from . import batches
        return getattr(batches, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
