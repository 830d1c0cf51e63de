"""Train one row of SLSNet's tables: ``python -m reproductions.slsnet.train --row "SLSNet" ...``.

Without arguments: SLSNet on the embedded synthetic data, a few minutes on a CPU. See ``--help``.
"""
from common.training.commands import train_main
from reproductions.slsnet.paper import PAPER


def main(argv=None):
    return train_main(PAPER, argv)


if __name__ == "__main__":
    main()
