"""Write lesion masks with a trained SLSNet: ``python -m reproductions.slsnet.predict --run-dir R IMAGES --out DIR``."""
from common.training.prediction import predict_main
from reproductions.slsnet.paper import PAPER


def main(argv=None):
    return predict_main(PAPER, argv)


if __name__ == "__main__":
    main()
