"""Score a trained SLSNet run with the ISIC challenge metrics: ``python -m reproductions.slsnet.evaluate --run-dir R``."""
from common.training.evaluation import evaluate_main
from reproductions.slsnet.paper import PAPER


def main(argv=None):
    return evaluate_main(PAPER, argv)


if __name__ == "__main__":
    main()
