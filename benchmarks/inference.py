"""Images per second of ``predict`` for each paper's main row at its paper size.

Each paper's default row is built with random weights (the speed does not depend on them) and
run through the suite's predictor (input conversion, the model, the task's output), on uint8
images at the row's image size:

- batch 1: milliseconds per image and the frames per second that SLSNet's Table 5 reports
  (110 FPS at 128x128 on a GTX 1080 Ti),
- batch 8: images per second,
- the transfer ensemble: the cost per image of its test-time protocol, 5 views x 5 fold models
  (25 predictions) for one encoder, against one prediction.

    python benchmarks/inference.py [--papers slsnet,aernet,...] [--runs 10] [--precision mixed]

No timing is asserted anywhere; this prints figures for the README. GPU figures are to be
measured on a GPU.
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPERS = ("slsnet", "aernet", "asnet", "transfer_ensemble", "isic2019_classifiers")


def _timed(fn, runs: int) -> float:
    fn()                                   # compile / warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", default=",".join(PAPERS), help="comma-separated paper packages")
    parser.add_argument("--runs", type=int, default=10, help="timed calls per figure; the median is printed")
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "mixed", "mixed_bfloat16", "mixed_float16"))
    args = parser.parse_args(argv)

    from common.quiet import import_backend

    keras = import_backend()
    from common.config import image_hw
    from common.training.inference import predictor_for, to_model_input
    from common.training import scale
    from common.training.records import provenance

    chosen = scale.configure(1, args.precision)
    papers = [p.strip() for p in args.papers.split(",") if p.strip()]
    unknown = [p for p in papers if p not in PAPERS]
    if unknown:
        parser.error(f"unknown paper(s) {unknown}; choose from {', '.join(PAPERS)}")
    print(f"backend {keras.backend.backend()}, {scale.describe(chosen)}, {provenance().get('hardware')}, "
          f"median of {args.runs} calls")
    print(f"{'paper (default row)':<46}{'size':>10}{'ms/image b1':>13}{'FPS b1':>8}{'images/s b8':>13}")
    rng = np.random.default_rng(0)
    for name in papers:
        paper = importlib.import_module(f"reproductions.{name}.paper").PAPER
        cfg = paper.rows[paper.default_row]
        task = paper.task_for(cfg)
        model = paper.build_network(cfg)
        scale.prepare_model(model)
        predict = predictor_for(model, cfg, task)
        h, w = image_hw(cfg)
        one = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
        eight = rng.integers(0, 256, (8, h, w, 3), dtype=np.uint8)
        t1 = _timed(lambda: predict(one, batch_size=1), args.runs)
        t8 = _timed(lambda: predict(eight, batch_size=8), max(2, args.runs // 3))
        label = f"{name} ({paper.default_row})"
        print(f"{label:<46}{f'{h}x{w}':>10}{1000 * t1:>13.1f}{1 / t1:>8.1f}{8 / t8:>13.1f}")
        if name == "transfer_ensemble":
            from common.training.tasks import Member, Predictor
            from reproductions.transfer_ensemble.tta import FIVE_VIEWS

            member = Member(model, lambda x: to_model_input(x, cfg), "fold")
            full = Predictor([member] * 5, task.output, views=FIVE_VIEWS, spatial=task.spatial)
            t25 = _timed(lambda: full(one, batch_size=1), max(2, args.runs // 3))
            print(f"{'  25 predictions (5 views x 5 folds), 1 image':<46}{f'{h}x{w}':>10}{1000 * t25:>13.1f}"
                  f"{1 / t25:>8.2f}{'':>13}  ({t25 / t1:.1f}x one prediction)")
        del model, predict
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
