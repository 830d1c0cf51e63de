"""Peak device memory of a training step, as the backend's allocator counts it.

TensorFlow counts every device's allocations, the CPU's included (``get_memory_info``), so the
peak of one update is measured on a machine without a GPU too; JAX reports it where its device
does (GPUs; not its CPU client). :func:`measure` wraps one update; :func:`largest_batch` turns a
measured peak into the largest batch that fits a card, assuming memory grows linearly with the
batch above what the weights and optimizer state hold.
"""
from __future__ import annotations

from typing import Callable

#: the cards the papers and their users train on: GTX 1080 Ti (the papers'), T4 (the common cloud card)
CARDS_GB = {"GTX 1080 Ti": 11, "T4": 16}
#: share of a card's memory a run can count on (the framework and the CUDA context take the rest)
USABLE = 0.9


def _tf_device() -> str:
    import tensorflow as tf

    return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"


def current_and_reset() -> int | None:
    """Bytes in use now, after resetting the peak counter (None where the backend cannot tell)."""
    import keras

    try:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            device = _tf_device()
            tf.config.experimental.reset_memory_stats(device)
            return int(tf.config.experimental.get_memory_info(device)["current"])
        import jax

        stats = jax.devices()[0].memory_stats()
        return int(stats["bytes_in_use"]) if stats else None
    except Exception:  # noqa: BLE001 - a report, never a reason to fail
        return None


def peak() -> int | None:
    """Peak bytes since :func:`current_and_reset` (None where the backend cannot tell)."""
    import keras

    try:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return int(tf.config.experimental.get_memory_info(_tf_device())["peak"])
        import jax

        stats = jax.devices()[0].memory_stats()
        return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None
    except Exception:  # noqa: BLE001
        return None


def measure(update: Callable[[], object]) -> tuple[object, int | None, int | None]:
    """Run ``update()``; returns (its result, bytes in use before it, peak bytes during it)."""
    before = current_and_reset()
    result = update()
    return result, before, peak()


#: what one update of a row may take by default (GB): an 11 GB card, less the CUDA context and the
#: framework's own share, with room for the weights and optimizer state held beside the update
BUDGET_GB = 8.0


def default_accumulation(batch: int, micro: int | None, devices: int = 1) -> int:
    """Micro-batches per update a row takes when ``--accumulate`` is not given: the fewest that
    split ``batch`` evenly over ``devices`` with at most ``micro`` images per device (``micro``:
    the row's :attr:`~common.training.paper.Paper.micro_batch`; None: no limit)."""
    if micro is None or batch < 1:
        return 1
    for parts in range(1, batch + 1):
        share, left = divmod(batch, parts * max(devices, 1))
        if not left and share <= max(int(micro), 1):
            return parts
        if share == 0:
            break
    return 1                       # the batch does not split over the devices: the scale check refuses it


def per_pixel_micro_batch(height: int, width: int, bytes_per_pixel: float, budget_gb: float = BUDGET_GB) -> int:
    """Images per update that fit ``budget_gb`` for a network whose training step takes about
    ``bytes_per_pixel`` bytes per input pixel (measured with ``--dry-run``)."""
    return max(1, int(budget_gb * 1e9 // (bytes_per_pixel * height * width)))


def largest_batch(batch: int, before: int, peak_bytes: int, card_gb: float) -> int:
    """The largest batch whose update fits ``card_gb`` GB, from one update's peak at ``batch``."""
    per_image = max(peak_bytes - before, 1) / max(batch, 1)
    room = card_gb * 1e9 * USABLE - before
    return max(int(room // per_image), 0)


def report(batch: int, before: int | None, peak_bytes: int | None) -> list[str]:
    """Lines for ``--dry-run``: the peak of the update and the largest batch per card."""
    if peak_bytes is None or before is None:
        return ["  peak memory of the update: not reported by this backend on this device"]
    lines = [f"  peak memory of the update: {peak_bytes / 1e9:.2f} GB at batch {batch} "
             f"({before / 1e9:.2f} GB held before it: weights, optimizer state, data)"]
    fits = ", ".join(f"{name} ({gb} GB): {largest_batch(batch, before, peak_bytes, gb)}"
                     for name, gb in CARDS_GB.items())
    lines.append(f"  largest batch that fits, extrapolated linearly: {fits}")
    return lines


def is_out_of_memory(exc: BaseException) -> bool:
    """An allocator's out-of-memory error, on TensorFlow or JAX."""
    name = type(exc).__name__
    return name == "ResourceExhaustedError" or "RESOURCE_EXHAUSTED" in str(exc)[:2000]


def dry_run_report(paper, row: str, cfg, data, batches, parts, step, accumulate: int = 1) -> None:
    """``--dry-run``: one update on the first batch to check that the run is set up, then a summary
    (data, schedule, weights, memory, the compiled update's time, the config fields read)."""
    import time

    import numpy as np

    from common.training import fields
    from common.config import image_hw

    x, y = batches[0]
    logs, before, peak_bytes = measure(lambda: step(x, y))
    start = time.perf_counter()             # a second update, compiled by now: the step's time
    step(x, y)
    step.sync()
    seconds = time.perf_counter() - start
    params = sum(int(np.prod(w.shape)) for w in parts.network.weights)
    h, w = image_hw(cfg)
    print(f"dry run of {paper.name} row {row!r}: one update on a batch of {len(x)} went through "
          f"({', '.join(f'{k} {float(v):.4f}' for k, v in logs.items())})")
    print(f"  data: {data.index.name}, split {data.spec}: "
          + ", ".join(f"{k} {len(v)}" for k, v in data.split.items()))
    what = (f"{len(batches)} batches of {cfg.batch_size}" if accumulate == 1 else
            f"{len(batches)} micro-batches of {cfg.batch_size // accumulate} ({accumulate} to an update of "
            f"{cfg.batch_size}; the memory figures are a micro-batch's)")
    print(f"  {cfg.epochs} epochs of {what} at {h}x{w}; network {params:,} weights")
    for line in report(len(x), before, peak_bytes):
        print(line)
    print(f"  time of one update after compilation: {seconds:.3f} s ({len(x) / seconds:.1f} images/s)")
    print("  fields read: " + ", ".join(sorted(fields.reads(cfg))))
    unused = fields.unused(cfg)
    print("  fields this row does not use: " + (", ".join(unused) if unused else "(none)"))
