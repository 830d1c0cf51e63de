"""Write lesion masks with a trained AER-Net: ``python -m reproductions.aernet.predict --run-dir R IMAGES --out DIR``."""
from common.training.prediction import predict_main
from reproductions.aernet.paper import PAPER


def main(argv=None):
    return predict_main(PAPER, argv)


if __name__ == "__main__":
    main()
