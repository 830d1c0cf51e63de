"""Saving and restoring the whole training state: model variables (seed-generator states included)
and optimizer slots, in one ``.npz`` written atomically, on every Keras backend."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import keras
import numpy as np

from common.training.records import atomic_write_bytes


def _to_numpy(variable) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable.value if hasattr(variable, "value") else variable))


def build_optimizer(optimizer: keras.optimizers.Optimizer, variables: Sequence) -> None:
    """Create the optimizer's slots now (restoring needs them; fit would create them lazily)."""
    if not optimizer.built:
        optimizer.build(list(variables))


def collect(models: Mapping[str, keras.Model], optimizers: Mapping[str, keras.optimizers.Optimizer]):
    """Name -> variable for every model variable and optimizer variable to save."""
    out = {}
    for name, model in models.items():
        for i, v in enumerate(model.variables):
            out[f"model/{name}/{i:05d}"] = v
    for name, opt in optimizers.items():
        for i, v in enumerate(opt.variables):
            out[f"optimizer/{name}/{i:05d}"] = v
    return out


def save_state(path: str | Path, models, optimizers, **meta) -> Path:
    """Write every variable plus ``meta`` (epoch, best score, ...) to ``path`` atomically."""
    arrays = {key: _to_numpy(v) for key, v in collect(models, optimizers).items()}
    for key, value in meta.items():
        arrays[f"meta/{key}"] = np.asarray(value)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path, models, optimizers) -> dict:
    """Assign the saved variables back; returns the ``meta`` entries. Shapes must match exactly."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        from common.data.errors import DataError

        raise DataError(f"{path}: the training checkpoint cannot be read ({exc}); it is damaged (a copy cut "
                        "short?). Restore it, or delete it to start the run again from epoch 1") from None
    targets = collect(models, optimizers)
    missing = [k for k in targets if k not in saved]
    if missing:
        raise ValueError(f"checkpoint {path} does not match this model: {len(missing)} variables missing "
                         f"(first: {missing[0]}). Was it written by another row or config?")
    for key, var in targets.items():
        value = saved[key]
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(f"checkpoint {path}: {key} ({getattr(var, 'path', '')}) has shape "
                             f"{value.shape}, the model expects {tuple(var.shape)}")
        var.assign(value)
    return {k[len("meta/"):]: saved[k].item() if saved[k].ndim == 0 else saved[k]
            for k in saved if k.startswith("meta/")}


def save_weights_atomic(model: keras.Model, path: str | Path) -> Path:
    """``model.save_weights`` through a temporary file, so a crash never leaves half a file."""
    from common.training.records import check_free_space

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    # HDF5 crashes on a full disk (an h5py error, then a segfault): refuse before it starts
    size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    check_free_space(path.parent, int(size * 1.1) + (1 << 20), f"saving {path.name}")
    try:
        model.save_weights(str(tmp))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
