"""Parameters, MACs and latency of every model, at the lesion size (192x256) and the attribute size
(384x576); the paper reports none.

    python -m reproductions.transfer_ensemble.profile --row DenseNet169 --no-latency
    python -m reproductions.transfer_ensemble.profile --row "DenseNet169 (streaks)"
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.profiling_cli import profile_main  # noqa: E402
from reproductions.transfer_ensemble.configs import ROWS  # noqa: E402


def build(cfg):
    from reproductions.transfer_ensemble.model import build_model

    return build_model(cfg, None)


def input_shape(cfg) -> tuple[int, int, int]:
    return (*cfg.image_size, 3)


def main(argv=None) -> int:
    return profile_main(
        "transfer_ensemble", ROWS, build_fn=build, input_shape_fn=input_shape, argv=argv,
        description="Parameters, MACs and latency of the transfer-ensemble paper's models: lesion rows at "
                    "192x256, attribute rows at 384x576 (Koohbanani et al. 2018).")


if __name__ == "__main__":
    sys.exit(main())
