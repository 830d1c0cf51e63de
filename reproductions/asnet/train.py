"""Train one row of ASNet's Table 2: ``python -m reproductions.asnet.train --row ASNet ...``.

The paper cross-validates every row over 5 folds: ``--fold all`` trains the five in turn (one run
folder per fold, ``<dataset>-fold<K>-<stamp>``), ``--fold K`` one of them; ``--resume`` continues the
newest run of each fold named. Without arguments: ASNet on fold 0 of the embedded synthetic data, a
couple of minutes on a CPU. See ``--help``.
"""
from common.training.commands import train_main
from reproductions.asnet.paper import PAPER


def main(argv=None):
    return train_main(PAPER, argv)


if __name__ == "__main__":
    main()
