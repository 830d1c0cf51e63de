"""Score a trained ASNet run with the ISIC challenge metrics: ``python -m reproductions.asnet.evaluate --run-dir R``.

A fold run's ``test`` part is its held-out fold (``--split test``, the default).
"""
from common.training.evaluation import evaluate_main
from reproductions.asnet.paper import PAPER


def main(argv=None):
    return evaluate_main(PAPER, argv)


if __name__ == "__main__":
    main()
