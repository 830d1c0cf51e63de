"""Score a trained run: ``python -m reproductions.isic2019_classifiers.evaluate --run-dir R [--checkpoint accuracy]``.

A classifier: accuracy (Wilson 95 % interval), balanced multi-class accuracy (mean per-class
recall, classes absent from the truth left out), per-class recall, the confusion matrix.
"""
from common.training.evaluation import evaluate_main
from reproductions.isic2019_classifiers.paper import PAPER


def main(argv=None):
    return evaluate_main(PAPER, argv)


if __name__ == "__main__":
    main()
