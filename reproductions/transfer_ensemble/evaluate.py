"""Score runs: ``python -m reproductions.transfer_ensemble.evaluate --run-dir R [--run-dir R2 ...] [--tta five] [--postprocess double]``.

Several ``--run-dir`` average their maps (the paper's five fold models, or an ensemble of models);
``--tta five`` adds the paper's five test-time views."""
from common.training.evaluation import evaluate_main
from reproductions.transfer_ensemble.paper import PAPER


def main(argv=None):
    return evaluate_main(PAPER, argv)


if __name__ == "__main__":
    main()
