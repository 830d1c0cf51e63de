"""Seconds per training step: the suite's ResNet34 U-Net against segmentation-models' ``Unet("resnet34")``.

Ours is ASNet's ``Baseline`` row (ResNet34 U-Net) through the runner's compiled step
(:class:`common.training.steps.SupervisedStep`), theirs is ``segmentation_models.Unet("resnet34")``
through Keras's ``train_on_batch``, with the same batch, loss (ASNet's Dice + cross-entropy, eq. 3)
and optimizer (ASNet's SGD with the poly schedule), both from random weights. The two alternate in
rounds in one process, so a machine's load drifts over both alike; the median over rounds of the
seconds per step is printed for each, and their ratio (ours / theirs: below 1 means ours is faster).

segmentation-models needs TensorFlow (``SM_FRAMEWORK=tf.keras``). On JAX the reference is the same
network through Keras's own ``train_on_batch`` (the stock Keras trainer), so the figure is the
runner's step against Keras's.

    python benchmarks/train_step.py [--batch 4] [--size 192x256] [--rounds 7] [--steps 3]
                                    [--precision float32|mixed|mixed_bfloat16|mixed_float16] [--jit]
    KERAS_BACKEND=jax python benchmarks/train_step.py

No timing is asserted anywhere; this prints figures for the README.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("SM_FRAMEWORK", "tf.keras")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w or h)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4, help="batch size (default 4)")
    parser.add_argument("--size", type=_size, default=(192, 256), help="HxW (default 192x256, ASNet's)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    parser.add_argument("--steps", type=int, default=3, help="steps per round and model (default 3)")
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "mixed", "mixed_bfloat16", "mixed_float16"))
    parser.add_argument("--jit", action="store_true", help="XLA on TensorFlow (both models)")
    args = parser.parse_args(argv)

    from common.quiet import import_backend

    keras = import_backend()        # as the runner starts it (TensorFlow's determinism settings too)
    from common.losses import dice_ce_loss
    from common.training import scale
    from reproductions.asnet import configs
    from reproductions.asnet.optimizer import make_optimizer
    from reproductions.asnet.paper import build_training

    backend = keras.backend.backend()
    chosen = scale.configure(1, args.precision, args.jit)
    cfg = configs.ROWS["Baseline"]
    cfg = type(cfg)(**{**cfg.__dict__, "image_size": args.size, "batch_size": args.batch})
    steps_per_epoch = 100
    ours = build_training(type(cfg)(**{**cfg.__dict__, "encoder_weights": None}), steps_per_epoch=steps_per_epoch)

    if backend == "tensorflow":
        import segmentation_models as sm

        theirs = sm.Unet("resnet34", encoder_weights=None, input_shape=(*args.size, 3), classes=1,
                         activation="sigmoid")
        reference = "segmentation_models.Unet('resnet34') + train_on_batch"
    else:
        from reproductions.asnet.paper import build_network

        theirs = build_network(cfg, None)
        reference = "the same ResNet34 U-Net + Keras's train_on_batch"
    scale.prepare_model(theirs)
    theirs.compile(optimizer=make_optimizer(cfg, steps_per_epoch), loss=dice_ce_loss,
                   jit_compile=bool(args.jit) if backend == "tensorflow" else "auto")
    if args.jit and backend == "tensorflow" and not getattr(theirs, "jit_compile", False):
        print("note: Keras declined jit_compile for the segmentation-models model; theirs runs without XLA")

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (args.batch, *args.size, 3)).astype("float32")
    y = (rng.uniform(0, 1, (args.batch, *args.size, 1)) > 0.5).astype("float32")

    def run_ours():
        logs = ours.step(x, y)
        float(np.asarray(logs["loss"]))          # wait for the device

    def run_theirs():
        theirs.train_on_batch(x, y)

    for fn in (run_ours, run_theirs):           # compile / trace outside the timing
        fn()
        fn()
    times = {"ours": [], "theirs": []}
    for _ in range(args.rounds):
        for name, fn in (("ours", run_ours), ("theirs", run_theirs)):
            start = time.perf_counter()
            for _ in range(args.steps):
                fn()
            times[name].append((time.perf_counter() - start) / args.steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"backend {backend}, {scale.describe(chosen)}, batch {args.batch}, {args.size[0]}x{args.size[1]}, "
          f"{args.rounds} rounds x {args.steps} steps, {_machine()}")
    print(f"  ours   (ASNet Baseline, runner step): {med['ours']:.3f} s/step  "
          f"[{min(times['ours']):.3f} .. {max(times['ours']):.3f}]")
    print(f"  theirs ({reference}): {med['theirs']:.3f} s/step  "
          f"[{min(times['theirs']):.3f} .. {max(times['theirs']):.3f}]")
    print(f"  ratio ours/theirs: {med['ours'] / med['theirs']:.2f}")
    return 0


def _machine() -> str:
    from common.training.records import provenance

    return provenance().get("hardware", "unknown hardware")


if __name__ == "__main__":
    sys.exit(main())
