"""Parameters, MACs and inference speed of every row (the thesis reports none).

    python -m reproductions.isic2019_classifiers.profile --row AlexNet --row "Wide ResNet" --no-latency
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.profiling_cli import profile_main  # noqa: E402
from reproductions.isic2019_classifiers.configs import ROWS  # noqa: E402


def build(cfg):
    from reproductions.isic2019_classifiers.paper import build_network

    return build_network(cfg)


def input_shape(cfg) -> tuple[int, int, int]:
    return (*cfg.image_size, 3)


def main(argv=None) -> int:
    return profile_main(
        "isic2019_classifiers", ROWS, build_fn=build, input_shape_fn=input_shape, argv=argv,
        description="Parameters, MACs and latency of the thesis's classifiers and U-Net (Verdeguer 2020).")


if __name__ == "__main__":
    sys.exit(main())
