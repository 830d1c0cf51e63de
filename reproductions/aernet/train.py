"""Train one row of AER-Net's tables: ``python -m reproductions.aernet.train --row "AER-Net" ...``.

Without arguments: AER-Net (from scratch) on the embedded synthetic data, about two minutes on a CPU.
See ``--help`` and the package README for the command of every table row.
"""
from common.training.commands import train_main
from reproductions.aernet.paper import PAPER


def main(argv=None):
    return train_main(PAPER, argv)


if __name__ == "__main__":
    main()
