"""The epoch loop every paper's training shares.

``train_loop`` runs epochs of a compiled :class:`~common.training.steps.Step` over a batch sequence
whose order is a pure function of (seed, epoch), validates after each epoch, and writes into the run
folder: ``history.csv`` (rewritten atomically each epoch), ``checkpoints/last.npz`` (the whole
training state), ``checkpoints/best.weights.h5`` (the weights that scored best on validation) and
``state.json``. Killed at any point, the run resumes from the last finished epoch and ends where an
uninterrupted run ends. A non-finite loss stops the run, naming the epoch and batch.

Batches are prepared (read, augmented, converted) by a small pool of threads while the step runs
(:class:`Prefetcher`, up to four workers and two batches ahead), which on a single GPU also copy
each batch to it; each batch's content depends only on (seed, epoch, position), so the workers
change no number. How an epoch's time splits into waiting for input,
training steps and validation is kept in :data:`last_timings` (one dict per epoch of the latest
``train_loop`` call; ``benchmarks/epoch.py`` prints it).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from common.training.records import atomic_write_json, read_csv, write_csv
from common.training.state import load_state, save_state, save_weights_atomic


#: per epoch of the latest train_loop call: {"epoch", "steps", "input_wait", "step", "validation", "total"}
#: (the last four in seconds)
last_timings: list[dict] = []


def default_workers() -> int:
    """Threads preparing batches: up to four, no more than the machine's cores."""
    import os

    return max(1, min(4, os.cpu_count() or 1))


class Prefetcher:
    """Iterate ``batches[0..n-1]`` in order, prepared ahead by a small pool of worker threads.

    Batch ``i`` is ``batches[i]``, a pure function of (seed, epoch, position), so the workers change
    no number and the consumer gets the batches in order. Up to ``depth`` batches beyond those the
    ``workers`` are preparing wait ready. ``wait`` accumulates the seconds the consumer spent
    waiting for a batch that was not ready. An exception raised while preparing a batch is raised
    again in the consumer, at that batch. Closing early (``close()``) cancels the batches not yet
    started and lets the workers finish the ones they are preparing.
    """

    def __init__(self, batches, n: int | None = None, depth: int = 2, workers: int | None = None,
                 transfer=None):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.batches, self.n = batches, len(batches) if n is None else int(n)
        self.transfer = transfer          # batch -> batch on the device, run by the worker (transfer.to_device)
        self.wait = 0.0
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self._limit = self.workers + max(0, int(depth)) - 1 if depth else self.workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="batch-prefetch")
        self._ahead: deque = deque()
        self._next = 0
        self._closed = False
        self._fill()

    def _fill(self):
        while not self._closed and self._next < self.n and len(self._ahead) < max(self._limit, 1):
            self._ahead.append(self._pool.submit(self._prepare, self._next))
            self._next += 1

    def _prepare(self, i: int):
        batch = self.batches[i]
        return batch if self.transfer is None else self.transfer(batch)

    def __iter__(self):
        try:
            while self._ahead:
                future = self._ahead.popleft()
                start = time.perf_counter()
                try:
                    item = future.result()
                finally:
                    self.wait += time.perf_counter() - start
                self._fill()
                yield item
        except BaseException:
            self.close()
            raise
        self.close()

    def close(self):
        self._closed = True
        for future in self._ahead:
            future.cancel()
        self._ahead.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def _float(value) -> float:
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return float("nan")


class _TensorBoard:
    """Epoch scalars to ``tensorboard/`` when TensorFlow is importable (it is not on a JAX-only host)."""

    def __init__(self, log_dir: Path):
        self.writer = None
        try:
            import keras
            import tensorflow as tf  # noqa: F401 - optional on JAX-only machines

            from tensorboard.summary.v2 import scalar  # noqa: F401 - tf.summary needs it

            if keras.backend.backend() != "tensorflow":
                # only the summary writer uses TensorFlow here: keep it off the GPU JAX trains on
                try:
                    tf.config.set_visible_devices([], "GPU")
                except RuntimeError:
                    pass                     # TensorFlow was already initialised by someone else

            self._tf = tf
            self.writer = tf.summary.create_file_writer(str(log_dir))
        except Exception:  # noqa: BLE001 - no TensorFlow or no TensorBoard: history.csv still has it all
            self.writer = None

    def write(self, epoch: int, logs: Mapping[str, float]) -> None:
        if self.writer is None:
            return
        with self.writer.as_default():
            for key, value in logs.items():
                if isinstance(value, (int, float)) and key != "epoch" and math.isfinite(value):
                    self._tf.summary.scalar(key, value, step=epoch)
        self.writer.flush()


def train_loop(run_dir: str | Path, *, step, train_batches, epochs: int,
               validate: Callable[[], dict] | None, models: Mapping, optimizers: Mapping,
               best_model, monitors: Sequence, resume: bool = False,
               progress: bool = True, on_epoch_end: Callable[[int, dict], None] | None = None,
               finish: bool = False) -> list[dict]:
    """Train for ``epochs`` epochs (continuing from the last checkpoint when ``resume``).

    Args:
        run_dir: the run folder.
        step: the compiled step; ``step(x, y)`` returns a dict of scalar losses. A step with a
            ``diagnostics(batches)`` method adds what it returns (a dict of floats, measured
            without changing any state) to each epoch's history row.
        train_batches: a sequence of ``(x, y)`` batches with ``set_epoch(e)`` and ``len()``.
        epochs: total number of epochs of the run (not of this call).
        validate: returns the validation metrics (keys prefixed ``val_``), or None for none.
        models / optimizers: name -> object, everything the checkpoint holds.
        best_model: the model whose weights are kept as ``best.weights.h5``.
        monitors: :class:`~common.training.tasks.Monitor` s, one checkpoint each: the first is
            ``best.weights.h5``, the others ``best_<name>.weights.h5``; history marks each in
            ``best`` / ``best_<name>``, and ``state.json`` names each by its monitor. Without a
            validation part (``validate`` None) every checkpoint holds the newest weights.
        resume: continue from ``checkpoints/last.npz``.
        finish: with ``resume``, train no further: return the history of the finished epochs.
    Returns:
        the history, one dict per epoch.
    """
    from common.training.tasks import checkpoint_file, history_column

    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    monitors = list(monitors)
    if not monitors:
        raise ValueError("train_loop needs at least one monitor (the checkpoint to keep)")
    last_path = ckpt_dir / "last.npz"
    paths = {m.name: ckpt_dir / checkpoint_file(monitors, m.name) for m in monitors}
    columns = {m.name: history_column(monitors, m.name) for m in monitors}
    for folder in (run_dir, ckpt_dir):       # partial files of a save that was killed (kill -9)
        for tmp in [*folder.glob(".tmp-*"), *folder.glob(".*.tmp")] if folder.is_dir() else []:
            tmp.unlink(missing_ok=True)
    history: list[dict] = []
    start_epoch = 0
    bests = {m.name: m.worst for m in monitors}
    if resume and last_path.exists():
        meta = load_state(last_path, models, optimizers)
        step.refresh()
        start_epoch = int(meta["epoch"])
        for i, m in enumerate(monitors):
            bests[m.name] = float(meta.get("best" if i == 0 else f"best_{i}", bests[m.name]))
        if (run_dir / "history.csv").exists():
            history = [r for r in read_csv(run_dir / "history.csv") if int(r["epoch"]) <= start_epoch]
        print(f"Resuming {run_dir} after epoch {start_epoch} of {epochs}.", file=sys.stderr)
    elif resume:
        print(f"No checkpoint in {run_dir}; starting from epoch 1.", file=sys.stderr)

    if finish:
        if not history:
            from common.config import ConfigError

            raise ConfigError(f"--finish: {run_dir} has no finished epoch to stop at; continue it with "
                              "--resume alone")
        print(f"Stopping {run_dir} at epoch {start_epoch} of {epochs} (--finish).", file=sys.stderr)
        return history
    tensorboard = _TensorBoard(run_dir / "tensorboard")
    from common.training.transfer import to_device     # a GPU: each batch copied there by its worker

    last_timings.clear()
    for epoch in range(start_epoch, epochs):
        train_batches.set_epoch(epoch)
        sums: dict[str, float] = {}
        count = 0
        start = time.time()
        bar = _progress(len(train_batches), f"epoch {epoch + 1}/{epochs}", progress)
        prefetch = Prefetcher(train_batches, transfer=to_device)
        try:
            for index, (x, y) in enumerate(prefetch):
                logs = step(x, y)
                values = {k: _float(v) for k, v in logs.items()}
                bad = [k for k, v in values.items() if not math.isfinite(v)]
                if bad:
                    bar.close()
                    kept = (f"The run folder {run_dir} keeps the checkpoint of epoch {epoch} (--resume "
                            "continues from it)" if epoch and last_path.exists() else
                            f"No epoch finished, so {run_dir} keeps no checkpoint")
                    raise TrainingDiverged(
                        f"{bad[0]} became {values[bad[0]]} at epoch {epoch + 1}, batch {index + 1} of "
                        f"{len(train_batches)}. {kept}; lower the learning rate (--set learning_rate=...) "
                        "or check the data.")
                count += 1
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.set_postfix({k: f"{s / count:.4f}" for k, s in sums.items()}, refresh=False)
                bar.update(1)
        finally:
            prefetch.close()
        bar.close()
        step.sync()
        trained = time.time()
        row = {"epoch": epoch + 1, **{k: s / max(count, 1) for k, s in sums.items()}}
        diagnostics = getattr(step, "diagnostics", None)
        if diagnostics is not None:       # e.g. a GAN's gradient balance; changes no state
            row.update(diagnostics(train_batches))
        if validate is not None:
            row.update(validate())
        row["seconds"] = round(time.time() - start, 3)
        last_timings.append({"epoch": epoch + 1, "steps": count, "input_wait": prefetch.wait,
                             "step": trained - start - prefetch.wait, "validation": time.time() - trained,
                             "total": time.time() - start})
        history.append(row)
        for m in monitors:
            score = row.get(m.metric)
            improved = m.better(score, bests[m.name])
            # Without a validation split (e.g. AER-Net's 2094/500) the newest weights are the best.
            if improved or score is None or not paths[m.name].exists():
                if improved:
                    bests[m.name] = score
                save_weights_atomic(best_model, paths[m.name])
                row[columns[m.name]] = 1
            else:
                row[columns[m.name]] = 0
        write_csv(run_dir / "history.csv", history)
        extra = {f"best_{i}": bests[m.name] for i, m in enumerate(monitors) if i}
        save_state(last_path, models, optimizers, epoch=epoch + 1, best=bests[monitors[0].name], **extra)
        atomic_write_json(run_dir / "state.json", {
            "epochs_done": epoch + 1, "epochs": epochs, "monitor": monitors[0].metric,
            "best": bests[monitors[0].name],
            "checkpoints": {m.name: {"file": paths[m.name].name, "metric": m.metric, "mode": m.mode,
                                     "best": bests[m.name]} for m in monitors}})
        tensorboard.write(epoch + 1, row)
        # One line per epoch, with or without bars: log files, pipes and --quiet keep it.
        shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items()
                          if k != "epoch" and not k.startswith("best") and isinstance(v, float))
        print(f"epoch {epoch + 1}/{epochs}: {shown}", file=sys.stderr)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return history


class _NoBar:
    def set_postfix(self, *a, **k):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)
