"""Parameters, MACs and inference speed of every AER-Net table row (the paper reports none).

    python -m reproductions.aernet.profile                          # every row at its own 256 x 256
    python -m reproductions.aernet.profile --row "AER-Net" --runs 5 --json
    python -m reproductions.aernet.profile --row "U-Net" --row "AER-Net" --image-size 128 --no-latency

The models are built with random weights (``encoder_weights=None``): nothing measured depends on
them. The SE-ResNeXt101 / SE-ResNet152 rows of Table 1 come from segmentation-models and need it
installed and the TensorFlow backend; a row that cannot be built is listed with its error. Backbone
rows need a side that is a multiple of 32, the original U-Net rows a multiple of 16.
See :mod:`common.profiling_cli` for what each column measures.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.profiling_cli import profile_main  # noqa: E402
from reproductions.aernet.configs import ROWS  # noqa: E402


def build(cfg):
    """The row's model with a randomly initialised encoder."""
    from reproductions.aernet.model import build_model

    return build_model(cfg, encoder_weights=None)


def input_shape(cfg) -> tuple[int, int, int]:
    """``(H, W, C)``: C is 3, or 6 for HSV+RGB, 1 for grey."""
    return cfg.input_shape


def main(argv=None) -> int:
    return profile_main(
        "aernet", ROWS, build_fn=build, input_shape_fn=input_shape, argv=argv,
        description="Parameters, MACs and latency of AER-Net (Lima & Braz Junior 2021) and the other rows "
                    "of its Tables 1-2 and colour-space comparison; the paper gives no such figures.",
        epilog="The SE-ResNeXt101 and SE-ResNet152 rows need segmentation-models and the TensorFlow "
               "backend. Backbone rows need sides that are multiples of 32, original U-Net rows 16.")


if __name__ == "__main__":
    sys.exit(main())
