"""Score a trained AER-Net run with the ISIC challenge metrics: ``python -m reproductions.aernet.evaluate --run-dir R``."""
from common.training.evaluation import evaluate_main
from reproductions.aernet.paper import PAPER


def main(argv=None):
    return evaluate_main(PAPER, argv)


if __name__ == "__main__":
    main()
