"""Write ISIC submission masks: ``python -m reproductions.transfer_ensemble.predict --run-dir R IMAGES --out DIR``.

Lesion runs write ``ISIC_xxxxxxx_segmentation.png`` (Task 1), attribute runs
``ISIC_xxxxxxx_attribute_<name>.png`` (Task 2)."""
from common.training.prediction import predict_main
from reproductions.transfer_ensemble.paper import PAPER


def main(argv=None):
    return predict_main(PAPER, argv)


if __name__ == "__main__":
    main()
