"""The one exception the data layer raises for bad input."""
from __future__ import annotations


class DataError(ValueError):
    """A data file or folder cannot be used as it is.

    The message names the file (or folder), says what is wrong with it and how to fix it, e.g.
    ``"…/ISIC_0000001_segmentation.png: mask is 600x450 but its image is 767x576; …"``.
    """
