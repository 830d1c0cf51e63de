"""Parameters, MACs and inference speed of every ASNet Table 2 row (the paper reports none).

    python -m reproductions.asnet.profile                          # every row at its own 192 x 256
    python -m reproductions.asnet.profile --row ASNet --runs 5 --json
    python -m reproductions.asnet.profile --row Baseline_Wide --row ASNet --image-size 96x128 --no-latency

The models are built as training builds them (random weights: nothing measured depends on them),
with the input-scaling layer in front (no weights, no MACs). The ASM's shared dilated convolution is
counted once per branch (three times), as three convolutions run. Sides must be multiples of 32
(16 for the U-Net row). See :mod:`common.profiling_cli` for what each column measures.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.profiling_cli import profile_main  # noqa: E402
from reproductions.asnet.configs import ROWS  # noqa: E402


def build(cfg):
    """The row's network with a randomly initialised encoder."""
    from reproductions.asnet.paper import build_network

    return build_network(cfg, None)


def input_shape(cfg) -> tuple[int, int, int]:
    """``(H, W, 3)``: RGB at the row's image size."""
    height, width = cfg.image_size
    return (int(height), int(width), 3)


def main(argv=None) -> int:
    return profile_main(
        "asnet", ROWS, build_fn=build, input_shape_fn=input_shape, argv=argv,
        description="Parameters, MACs and latency of ASNet (Zhu et al. 2020) and the other rows of its "
                    "Table 2; the paper gives no such figures.",
        epilog="Encoder rows need sides that are multiples of 32, the U-Net row 16.")


if __name__ == "__main__":
    sys.exit(main())
