"""Several devices, mixed precision and XLA (``--devices``, ``--precision``, ``--jit``).

The two-device runs are subprocesses: JAX needs ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
before it starts, TensorFlow needs its CPU split into two logical devices before it starts. Each
subprocess trains the same narrowed row on one device and then on two at the same global batch;
the loss history and the validation scores must agree within float tolerance.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from common.training.records import read_csv

REPO = Path(__file__).resolve().parents[3]

# narrowed rows: SLSNet's pix2pix step (two optimizers, BN in PAM/CAM, dropout off: TensorFlow's
# replicas draw their own dropout masks) and ASNet's supervised step (BN, Dice + CE)
ROWS = {
    "slsnet": ["--set", "dropout=0", "--set", "multiscale_width=4", "--set", "widths=4,8,16",
               "--set", "num_fams=1,1", "--set", "fam_dilations=1", "--set", "decoder_widths=8,4",
               "--set", "decoder_fams=1", "--set", "disc_widths=4,8,16", "--synthetic-size", "16",
               "--image-size", "32", "--batch-size", "4"],
    "asnet": ["--row", "U-Net", "--set", "unet_filters=4,8,16", "--synthetic-size", "20",
              "--image-size", "32x32", "--batch-size", "4", "--split", "kfold:2"],
}

PROBE = textwrap.dedent("""
    import importlib, json, os, sys
    backend, paper, argv, root = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    if backend == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    train = importlib.import_module(f"reproductions.{paper}.train")
    for devices in ("1", "2"):
        train.main(argv + ["--devices", devices, "--run-dir", os.path.join(root, "devices" + devices)])
""")


def _run(backend, paper, tmp_path, extra=()):
    argv = [*ROWS[paper], "--epochs", "1", "--quiet", "--seed", "3", *extra]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "SLR_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", PROBE, backend, paper, json.dumps(argv), str(tmp_path)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return [tmp_path / "devices1", tmp_path / "devices2"]


def _numbers(run_dir):
    rows = read_csv(run_dir / "history.csv")
    return {k: float(v) for row in rows for k, v in row.items()
            if k not in ("epoch", "seconds") and not k.startswith("best")}


@pytest.mark.parametrize("backend, paper", [
    ("jax", "asnet"), ("tensorflow", "asnet"), ("tensorflow", "slsnet"),
    # the pix2pix step on JAX is one global program, as the supervised one: 3 minutes on 2 cores
    pytest.param("jax", "slsnet", marks=pytest.mark.slow),
])
def test_two_devices_match_one_at_the_same_global_batch(backend, paper, tmp_path):
    one, two = _run(backend, paper, tmp_path)
    a, b = _numbers(one), _numbers(two)
    assert a.keys() == b.keys()
    losses = [k for k in a if not k.startswith(("val_", "grad_"))]
    assert losses, a
    for key in losses:
        assert np.isclose(a[key], b[key], rtol=2e-3, atol=1e-4), (key, a[key], b[key])
    # the GAN's gradient balance is measured on the whole batch with the weights as they are: close
    # (BatchNorm statistics and the summed replica updates differ in the last digits)
    for key in (k for k in a if k.startswith("grad_")):
        assert np.isclose(a[key], b[key], rtol=5e-2, atol=5e-2), (key, a[key], b[key])
    for key in (k for k in a if k.startswith("val_")):
        assert abs(a[key] - b[key]) < 1e-2, (key, a[key], b[key])
    record = json.loads((two / "config.json").read_text())
    strategy = "jax DataParallel" if backend == "jax" else "tf MirroredStrategy"
    assert record["scale"]["devices"] == 2 and record["scale"]["strategy"] == strategy
    assert json.loads((one / "config.json").read_text())["scale"]["devices"] == 1
    assert json.loads((two / "metrics.json").read_text())["scale"]["strategy"] == strategy


def test_halves_per_replica_keeps_real_and_generated_sets():
    from reproductions.slsnet.gan import halves_per_replica

    order = halves_per_replica(8, 2)
    assert order.tolist() == [0, 1, 4, 5, 2, 3, 6, 7]
    for replicas in (1, 2, 4):
        order = halves_per_replica(8, replicas)
        shares = np.split(order, replicas)
        real = np.concatenate([s[: len(s) // 2] for s in shares])
        assert sorted(real.tolist()) == [0, 1, 2, 3]
        assert sorted(order.tolist()) == list(range(8))


def test_device_requests_out_of_range_are_refused_with_the_fix():
    from common.training import scale

    with pytest.raises(scale.ScaleError, match="at least 1"):
        scale.parse_devices("0")
    with pytest.raises(scale.ScaleError, match="'all'"):
        scale.parse_devices("two")
    assert scale.parse_devices("ALL") == "all"
    try:
        with pytest.raises(scale.ScaleError, match="sees 1 device"):
            scale.configure(64)
        with pytest.raises(scale.ScaleError, match="--precision 'half'"):
            scale.configure(1, "half")
    finally:
        scale.reset()


def test_batch_that_does_not_split_evenly_is_refused(tmp_path, monkeypatch):
    from common.training import scale

    monkeypatch.setattr(scale, "_devices", lambda backend: [("gpu", "gpu:0"), ("gpu", "gpu:1"), ("gpu", "gpu:2")])
    try:
        with pytest.raises(scale.ScaleError, match="--batch-size 6 or 9"):
            scale.configure(3, batch_size=8)
    finally:
        scale.reset()


def test_mixed_precision_keeps_heads_and_losses_float32(tmp_path):
    """bfloat16 on CPU: the run trains, its record says so, and the saved model's output layer
    computes in float32 while the body computes in bfloat16."""
    import keras

    from reproductions.asnet import train

    run = tmp_path / "mixed"
    try:
        train.main([*ROWS["asnet"], "--epochs", "1", "--quiet", "--precision", "mixed", "--run-dir", str(run)])
        from common.training import scale

        assert scale.current().precision == "mixed_bfloat16"
    finally:
        from common.training import scale

        scale.reset()
    record = json.loads((run / "config.json").read_text())
    assert record["precision"] == "mixed_bfloat16" and record["scale"]["precision"] == "mixed_bfloat16"
    history = read_csv(run / "history.csv")
    assert np.isfinite(float(history[0]["loss"]))
    assert keras.config.dtype_policy().name == "float32"      # reset for the rest of the process


def test_float32_heads_under_a_mixed_policy():
    import keras

    from common.training import scale

    try:
        scale.configure(1, "mixed_bfloat16")
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
        out = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
        model = keras.Model(inputs, out)
        scale.prepare_model(model)
        y = model(np.zeros((1, 8, 8, 3), "float32"))
        assert model.layers[1].compute_dtype == "bfloat16"
        assert model.layers[-1].compute_dtype == "float32" and keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        scale.reset()


def test_resume_refuses_another_precision(tmp_path, capsys):
    from reproductions.asnet import train

    run = tmp_path / "run"
    argv = [*ROWS["asnet"], "--epochs", "1", "--quiet", "--run-dir", str(run)]
    train.main(argv)
    try:
        with pytest.raises(SystemExit):
            train.main(["--resume", "--run-dir", str(run), "--precision", "mixed_bfloat16", "--quiet"])
        assert "precision='float32', not 'mixed_bfloat16'" in capsys.readouterr().err
    finally:
        from common.training import scale

        scale.reset()


def test_prefetcher_keeps_order_and_raises_where_the_batch_failed():
    from common.training.loop import Prefetcher

    class Batches:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            if i == 3:
                raise OSError("corrupt image in batch 3")
            return i, -i

    seen = []
    with pytest.raises(OSError, match="batch 3"):
        for x, _ in Prefetcher(Batches()):
            seen.append(x)
    assert seen == [0, 1, 2]
    prefetch = Prefetcher(Batches(), n=2)
    assert [x for x, _ in prefetch] == [0, 1]
    prefetch.close()


def test_a_pool_of_workers_gives_the_same_batches_in_the_same_order():
    import time

    from common.data.batches import SegmentationBatches
    from common.training.loop import Prefetcher

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (23, 8, 8, 3), dtype=np.uint8)
    masks = (rng.random((23, 8, 8)) > 0.5).astype(np.uint8)

    def jitter(image, mask, r):       # random work and a random delay: later batches may finish first
        time.sleep(float(r.random()) * 0.01)
        return np.clip(image.astype(int) + int(r.integers(-20, 20)), 0, 255).astype(np.uint8), mask[:, ::-1]

    batches = SegmentationBatches(images, masks, 4, shuffle=True, seed=3, augment=jitter)
    batches.set_epoch(2)
    one = [(x.copy(), y.copy()) for x, y in Prefetcher(batches, workers=1)]
    four = Prefetcher(batches, workers=4, depth=3)
    assert four.workers == 4
    pooled = list(four)
    assert len(one) == len(pooled) == len(batches) == 6
    for (a, b), (c, d) in zip(one, pooled):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.slow
def test_two_processes_on_localhost_match_one_process_on_two_devices(tmp_path):
    """jax.distributed over two local processes (gloo on CPU): the same loss as one process with
    two devices; process 0 keeps the run folder, process 1 writes RUN-process1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "reproductions.asnet.train", *ROWS["asnet"], "--epochs", "1", "--quiet",
            "--seed", "3", "--devices", "all", "--coordinator", f"localhost:{port}", "--num-processes", "2"]
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "SLR_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("XLA_FLAGS", None)
    procs = [subprocess.Popen(argv + ["--process-id", str(i), "--run-dir", str(tmp_path / "run")], env=env,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    (tmp_path / "single").mkdir()
    (one, two) = _run("jax", "asnet", tmp_path / "single")
    multi = _numbers(tmp_path / "run")
    assert np.isclose(multi["loss"], _numbers(two)["loss"], rtol=1e-4)
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["scale"]["processes"] == 2 and record["scale"]["devices"] == 2
    assert (tmp_path / "run-process1" / "history.csv").exists()


def test_jit_on_tensorflow_trains_and_records_that_determinism_is_off(tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("--jit compiles the TensorFlow step; JAX always compiles")
    from common.training import scale
    from reproductions.asnet import train
    from tensorflow.python.framework import config as tf_config

    run = tmp_path / "jit"
    try:
        train.main([*ROWS["asnet"], "--epochs", "1", "--quiet", "--jit", "--run-dir", str(run)])
    finally:
        scale.reset()
    record = json.loads((run / "config.json").read_text())
    assert record["scale"]["jit_requested"] and record["scale"]["op_determinism"] is False
    assert record["provenance"]["determinism"]["op_determinism"] is False
    assert tf_config.is_op_determinism_enabled()          # back on for the next run of the process


def test_the_device_copy_runs_in_the_workers_and_is_a_no_op_on_the_cpu():
    import threading

    from common.training.loop import Prefetcher
    from common.training.transfer import to_device

    batch = (np.zeros((2, 4, 4, 3), "float32"), np.ones((2, 4, 4, 1), "float32"))
    assert to_device(batch) is batch          # no accelerator here: unchanged

    class Batches:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return np.full((1,), i), np.full((1,), -i)

    threads = []

    def transfer(b):
        threads.append(threading.current_thread().name)
        return tuple(a * 10 for a in b)

    out = [int(x[0]) for x, _ in Prefetcher(Batches(), workers=2, transfer=transfer)]
    assert out == [0, 10, 20, 30, 40, 50]
    assert len(threads) == 6 and all(name.startswith("batch-prefetch") for name in threads)
