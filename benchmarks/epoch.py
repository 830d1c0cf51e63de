"""One training epoch of each paper's main row on the synthetic data, split into input, step and validation.

Each paper's default row is trained by its own runner (``python -m reproductions.<paper>.train``
with the quick synthetic settings) for two epochs; the second epoch is reported (the first
includes compilation). The runner prepares batches in a pool of worker threads while the step runs, so

- ``input wait``: seconds the loop waited for a batch that was not ready (0 when the input
  pipeline keeps up),
- ``steps``: the rest of the training part of the epoch (the compiled updates),
- ``validation``: the end-of-epoch validation (with BatchNorm recalibration when asked).

    python benchmarks/epoch.py [--papers slsnet,aernet,asnet,transfer_ensemble,isic2019_classifiers]
                               [--devices N] [--precision mixed] [--jit] [-- EXTRA RUNNER OPTIONS]

No timing is asserted anywhere; this prints figures for the README.
"""
from __future__ import annotations

import argparse
import importlib
import io
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPERS = ("slsnet", "aernet", "asnet", "transfer_ensemble", "isic2019_classifiers")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", default=",".join(PAPERS), help="comma-separated paper packages")
    parser.add_argument("--devices", default=None)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--jit", action="store_true")
    parser.add_argument("extra", nargs="*", help="more runner options, after --")
    args = parser.parse_args(argv)

    from common.quiet import import_backend

    keras = import_backend()
    from common.training import loop
    from common.training.records import provenance

    papers = [p.strip() for p in args.papers.split(",") if p.strip()]
    unknown = [p for p in papers if p not in PAPERS]
    if unknown:
        parser.error(f"unknown paper(s) {unknown}; choose from {', '.join(PAPERS)}")
    options = ["--epochs", "2", "--quiet", *args.extra]
    if args.devices:
        options += ["--devices", str(args.devices)]
    if args.precision:
        options += ["--precision", args.precision]
    if args.jit:
        options.append("--jit")
    print(f"backend {keras.backend.backend()}, {provenance().get('hardware')}, runner options {' '.join(options)}")
    print(f"{'paper (default row)':<34}{'steps':>6}{'input wait s':>14}{'steps s':>10}{'validation s':>14}"
          f"{'epoch s':>10}{'step share':>12}")
    with tempfile.TemporaryDirectory() as root:
        for name in papers:
            train = importlib.import_module(f"reproductions.{name}.train")
            paper = importlib.import_module(f"reproductions.{name}.paper").PAPER
            log = io.StringIO()
            with redirect_stdout(log), redirect_stderr(log):     # the runner's own lines
                train.main([*options, "--runs-root", root])
            t = loop.last_timings[-1]
            print(f"{name + ' (' + paper.default_row + ')':<34}{t['steps']:>6}{t['input_wait']:>14.2f}{t['step']:>10.2f}"
                  f"{t['validation']:>14.2f}{t['total']:>10.2f}{t['step'] / t['total']:>12.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
