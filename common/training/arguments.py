"""The options every paper's ``train`` command shares, declared once (``--row``, ``--data-dir``,
``--dataset``, ``--split``, ``--fold``, ``--epochs``, ``--batch-size``, ``--image-size``,
``--encoder-weights``, ``--run-dir``, ``--resume``, ``--seed``, ``--set key=value``, ...)."""
from __future__ import annotations

import argparse
from typing import Any, Mapping

from common.training.records import RUNS_ROOT_HELP, default_runs_root


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (epochs, batch size, limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range: it must be at least 1")
    return value


def add_common_train_arguments(parser: argparse.ArgumentParser, *, default_row: str,
                               rows: Mapping[str, Any], weights_choices: str = "imagenet | none | PATH",
                               ) -> None:
    """Declare the options every paper's train command shares.

    Defaults that come from the row (epochs, batch size, image size, split, weights) are ``None``
    here, so the runner can tell an option given on the command line from one left out (``--resume``
    takes what was left out from the run's record).
    """
    parser.add_argument("--row", default=None,
                        help=f'table row to train (default: "{default_row}"); the rows are listed below')
    parser.add_argument("--data-dir", default=None,
                        help="dataset root as downloaded (the folder holding the official ISIC/PH2 "
                             "folders); omitted: the embedded synthetic data")
    parser.add_argument("--dataset", default=None,
                        help="synthetic | isic2016 | isic2017 | isic2018 | isic2018_task2 | isic2019 | "
                             "ph2 | auto (default: auto with --data-dir, synthetic without)")
    parser.add_argument("--split", default=None,
                        help="official | holdout:TRAIN,VAL[,TEST] fractions (e.g. holdout:0.8,0.2) | "
                             "count:N[,V] (N shuffled images train, V of them validate) | kfold:K[,VAL_SHARE] "
                             "(default: the row's)")
    parser.add_argument("--fold", default=None,
                        help="fold index (0-based) for k-fold splits, or 'all' to run every fold in turn "
                             "(default: 0)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="number of epochs (default: the row's)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the row's)")
    parser.add_argument("--image-size", default=None, help="N or HxW, e.g. 128 or 192x256 (default: the row's)")
    parser.add_argument("--encoder-weights", default=None,
                        help=f"encoder weights: {weights_choices} (default: the row's)")
    parser.add_argument("--run-dir", default=None,
                        help="run folder to write (default: runs/<paper>/<row>/<dataset>-<stamp>); "
                             "with --resume, the run to continue")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir (or the newest run of this row and dataset) "
                             "from its last finished epoch, with the options recorded in its config.json; "
                             "options given anyway must agree with the record")
    parser.add_argument("--finish", action="store_true",
                        help="with --resume: stop the run at its last finished epoch, score its best "
                             "checkpoint and write metrics.json (the record says how many epochs ran)")
    parser.add_argument("--dry-run", action="store_true",
                        help="set the run up (data, model, optimizer, step), make one update on the first "
                             "batch, print what would run and which config fields the row reads, and "
                             "keep nothing; a --set field the row does not read is refused, as in a run")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, type-checked (repeatable), e.g. --set dropout=0.3")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="use only the first N samples of each split (quick checks)")
    parser.add_argument("--synthetic-size", type=positive_int, default=None,
                        help="number of synthetic images when --dataset synthetic (default: the quick setting)")
    parser.add_argument("--bn-recalibrate", type=int, default=None, metavar="N",
                        help="before each validation (and the final scoring), recompute every BatchNorm "
                             "layer's statistics from N training batches with the current weights "
                             "(default 0: off). Short runs lose much of their score to lagging moving "
                             "averages; recorded in the run's config.json")
    scale = parser.add_argument_group(
        "devices and speed", "data-parallel training over several local devices, mixed precision, XLA "
        "(recorded in the run's config.json; see common/training/scale.py)")
    scale.add_argument("--devices", default=None, metavar="N|all",
                       help="train data-parallel over N local devices (GPUs, or CPU devices), or all of "
                            "them; the batch size is the global batch, split evenly (default 1). JAX: "
                            "keras.distribution.DataParallel; TensorFlow: tf.distribute.MirroredStrategy")
    scale.add_argument("--precision", default=None, choices=("float32", "mixed", "mixed_float16", "mixed_bfloat16"),
                       help="float32 (default) or mixed: float16 compute on GPUs, bfloat16 on CPUs/TPUs; "
                            "the output heads and the losses stay float32")
    scale.add_argument("--accumulate", type=positive_int, default=None, metavar="N",
                       help="split each of the row's batches into N micro-batches and average their gradients "
                            "into one update: the paper's batch on a card too small for it (BatchNorm then "
                            "sees micro-batches of batch/N; recorded, and the tables say so). Default: what "
                            "the row needs to fit an 11 GB card (SLSNet 256: 4, the ensemble's attribute rows: "
                            "4, the thesis's U-Net: 32, every other row: 1); the run says so")
    scale.add_argument("--fast", action="store_true",
                       help="speed over exact reruns: TensorFlow without its deterministic kernels (on a GPU "
                            "cuDNN then picks its fastest algorithms) and with its graph rewrites; JAX without "
                            "XLA's GPU determinism flag. Recorded; without it two runs of one command give the "
                            "same numbers")
    scale.add_argument("--jit", action="store_true",
                       help="XLA-compile the training step on TensorFlow (JAX always compiles). It switches "
                            "TensorFlow's deterministic kernels off (XLA lacks some), so reruns may differ "
                            "in the last digits; on a 2-core CPU it made a ResNet34 U-Net step slower")
    scale.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="multi-process JAX run: the address of process 0 (with --num-processes and "
                            "--process-id on every process)")
    scale.add_argument("--num-processes", type=positive_int, default=None, help="multi-process JAX run: how many")
    scale.add_argument("--process-id", type=int, default=None, help="multi-process JAX run: this process's index")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out samples whose files are missing, corrupt or of the wrong size "
                             "(each skipped file is listed in the run's config.json) instead of stopping")
    parser.add_argument("--cache-dir", default=None,
                        help="where decoded arrays are cached (default: $SLR_CACHE_DIR or "
                             "~/.cache/skin-lesion-repro)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="root folder of run folders (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (one line per epoch is still printed)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and Keras's own start-up and warning messages")
