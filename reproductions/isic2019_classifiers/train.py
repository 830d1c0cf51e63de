"""Train one row of the thesis's tables: ``python -m reproductions.isic2019_classifiers.train --row "Wide ResNet"``.

Rows are model x experiment: "Wide ResNet" (standard, Table 6.1), "Wide ResNet (balanced)" (Table
6.2), "Wide ResNet (cv)" with ``--fold all`` (Table 6.4), and "U-Net" (Table 6.6, ISIC 2018 Task 1).
Each classifier run keeps three checkpoints (lowest validation loss, highest validation accuracy,
highest validation balanced multi-class accuracy) and scores each on the test part. Without
arguments: the default row on the embedded synthetic data's three classes, a few minutes on a CPU.
"""
from common.training.commands import train_main
from reproductions.isic2019_classifiers.paper import PAPER


def main(argv=None):
    return train_main(PAPER, argv)


if __name__ == "__main__":
    main()
