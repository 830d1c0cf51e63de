"""Class probabilities for images: ``python -m reproductions.isic2019_classifiers.predict --run-dir R IMAGES --out DIR``.

A classifier writes ``predictions.csv`` in the ISIC 2019 submission format (``image`` and the nine
columns MEL ... SCC, UNK, UNK at 0); ``python -m common.metrics classification`` scores it against a
ground-truth CSV. The U-Net writes ``<image>_segmentation.png`` masks.
"""
from common.training.prediction import predict_main
from reproductions.isic2019_classifiers.paper import PAPER


def main(argv=None):
    return predict_main(PAPER, argv)


if __name__ == "__main__":
    main()
