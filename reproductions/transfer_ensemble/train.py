"""Train one row: ``python -m reproductions.transfer_ensemble.train --row DenseNet169 --fold all``.

Lesion rows are named after their model (Table I); attribute rows ``"<encoder> (<attribute>)"``
(Table III). Each fold of the 5-fold cross-validation is one run folder; see ``--help`` and
``python -m reproductions.transfer_ensemble.plan`` for every run the tables need."""
from common.training.commands import train_main
from reproductions.transfer_ensemble.paper import PAPER


def main(argv=None):
    return train_main(PAPER, argv)


if __name__ == "__main__":
    main()
