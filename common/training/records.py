"""Run folders, atomic writes and provenance.

A run writes ``runs/<paper>/<row-slug>/<dataset>-<stamp>/`` holding ``config.json`` (the resolved
config with git commit, package versions, backend and device), ``split.json``, ``history.csv``,
``checkpoints/``, ``tensorboard/`` and ``metrics.json``. Every file is written to a temporary name
and moved into place, so a crash never leaves a half-written record.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

from common.config import slugify


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files: give the file the mode a plain open() would (readable by the
        # lab, as the user's umask allows)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_free_space(folder: str | os.PathLike, needed: int, what: str) -> None:
    """Refuse (``OSError`` ENOSPC, naming ``folder``) to start writing ``needed`` bytes where they do
    not fit: some writers (HDF5) crash on a full disk instead of raising."""
    import errno
    import shutil

    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({what} needs {needed / 1e6:.1f} MB, "
                                    f"{free / 1e6:.1f} MB free)", str(folder))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        from common.training.fields import field_values

        return {name: jsonable(value) for name, value in field_values(obj).items()}   # recording is no use
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        try:
            return obj.item()
        except (TypeError, ValueError):
            pass
    return obj


#: the source checkout this code runs from (when it is one)
CHECKOUT = Path(__file__).resolve().parents[2]
RUNS_ROOT_HELP = "default: runs/ of this checkout (./runs for an installed copy), or $SLR_RUNS_DIR"


def default_runs_root() -> Path:
    """Where every command writes and reads run folders unless told otherwise: ``$SLR_RUNS_DIR``,
    else the ``runs/`` of the source checkout this code runs from (so training from another folder
    writes where the tables, plans, notebooks and the ensemble look), else ``./runs``."""
    env = os.environ.get("SLR_RUNS_DIR")
    if env:
        return Path(env)
    if (CHECKOUT / "setup.cfg").is_file() and (CHECKOUT / "reproductions").is_dir():
        return CHECKOUT / "runs"
    return Path("runs")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(jsonable(obj), indent=2, sort_keys=False) + "\n")


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write a list of dicts as CSV atomically (columns in first-seen order)."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: jsonable(v) for k, v in row.items()})
    return atomic_write_text(path, buf.getvalue())


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a CSV written by :func:`write_csv`, converting numeric fields to float/int."""
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            conv = {}
            for k, v in row.items():
                try:
                    conv[k] = int(v)
                except (TypeError, ValueError):
                    try:
                        conv[k] = float(v)
                    except (TypeError, ValueError):
                        conv[k] = v
            out.append(conv)
    return out


#: the tree as this process first saw it, per repository: the code that runs is what was imported
#: at start, so every run of one process (the folds of --fold all) records that, not later edits
_AT_START: dict[str, dict[str, Any]] = {}


def git_info(repo: str | os.PathLike | None = None, *, fresh: bool = False) -> dict[str, Any]:
    """The git commit of the code that ran, and whether the tree had uncommitted changes: as this
    process first saw them (``fresh=True`` looks again)."""
    key = str(Path(repo) if repo else Path(__file__).resolve().parents[2])
    if not fresh and key in _AT_START and "git" in _AT_START[key]:
        return dict(_AT_START[key]["git"])
    info = _git_info(Path(key))
    _AT_START.setdefault(key, {})["git"] = info
    return dict(info)


def _git_info(repo: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"commit": None, "dirty": None}
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                        text=True, timeout=10, check=True).stdout.strip()
        # untracked files count too: a new module that is not committed yet changes what ran
        status = subprocess.run(["git", "status", "--porcelain"], cwd=repo,
                                capture_output=True, text=True, timeout=10, check=True).stdout
        info["dirty"] = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


#: untracked files larger than this are not put into a run's patch (data, weights); the record names them
PATCH_FILE_LIMIT = 1_000_000
PATCH_NAME = "source.patch"
#: folders whose changes do not change what a run runs (generated tables, kept records): not patched
NOT_CODE = ("results/",)


def code_part(patch: bytes) -> bytes:
    """A patch without its sections for :data:`NOT_CODE` folders (what a kept record carries)."""
    sections = patch.split(b"diff --git a/")
    kept = [sections[0]] + [sec for sec in sections[1:] if not sec.startswith(tuple(d.encode() for d in NOT_CODE))]
    return b"diff --git a/".join(kept)


def save_patch(run_dir: str | os.PathLike, repo: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """Write what the working tree had beyond its commit into ``run_dir/source.patch``: the changes
    to tracked files and the untracked (not ignored) files, as one binary git diff that
    ``git apply`` applies to a clean checkout of the recorded commit. The real index is not touched
    (a temporary one is used). Returns ``{"file", "sha256", "files", "left_out"}``, or None when the
    tree is clean or git is unavailable."""
    import hashlib
    import tempfile

    repo = Path(repo) if repo else Path(__file__).resolve().parents[2]
    cached = _AT_START.get(str(repo), {})
    if "patch" in cached:                       # later runs of this process: the tree it started from
        info = cached["patch"]
        if info is not None:
            atomic_write_bytes(Path(run_dir) / PATCH_NAME, info["bytes"])
            return {k: v for k, v in info.items() if k != "bytes"}
        return None
    try:
        def git(*cmd, env=None, text=True):
            return subprocess.run(["git", *cmd], cwd=repo, capture_output=True, text=text, timeout=60,
                                  check=True, env=env).stdout

        if not git("status", "--porcelain").strip():
            _AT_START.setdefault(str(repo), {})["patch"] = None
            return None
        untracked = [f for f in git("ls-files", "--others", "--exclude-standard", "-z").split("\0")
                     if f and not f.startswith(NOT_CODE)]
        kept = [f for f in untracked if (repo / f).is_file() and (repo / f).stat().st_size <= PATCH_FILE_LIMIT]
        left_out = sorted(set(untracked) - set(kept))
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            git("read-tree", "HEAD", env=env)
            git("add", "-u", "--", ".", *(f":(exclude){d}" for d in NOT_CODE), env=env)
            if kept:
                git("add", "--", *kept, env=env)
            patch = git("diff", "--cached", "--binary", "HEAD", env=env, text=False)
            files = [f for f in git("diff", "--cached", "--name-only", "HEAD", env=env).splitlines() if f]
    except (OSError, subprocess.SubprocessError):
        return None
    atomic_write_bytes(Path(run_dir) / PATCH_NAME, patch)
    info = {"file": PATCH_NAME, "sha256": hashlib.sha256(patch).hexdigest(), "files": files, "left_out": left_out}
    _AT_START.setdefault(str(repo), {})["patch"] = {**info, "bytes": patch}
    return info


def device_info() -> dict[str, Any]:
    """Backend and the devices it runs on (CPU model when no accelerator is visible)."""
    import keras

    backend = keras.backend.backend()
    devices: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            devices = [d.name for d in gpus]
            if gpus:
                try:
                    details = tf.config.experimental.get_device_details(gpus[0])
                    devices = [details.get("device_name", d) for d in devices]
                except Exception:  # noqa: BLE001 - details are optional
                    pass
        elif backend == "jax":
            import jax

            devices = [f"{d.platform}:{getattr(d, 'device_kind', d)}" for d in jax.devices()]
            devices = [d for d in devices if not d.startswith("cpu")]
    except Exception:  # noqa: BLE001 - never fail a run for want of device details
        devices = []
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "backend": backend,
        "accelerators": devices,
        "hardware": ", ".join(devices) if devices else f"CPU ({cpu}, {os.cpu_count()} cores)",
    }


def nvidia_driver_present() -> bool:
    """An NVIDIA kernel driver is loaded (or its tools are installed) on this machine."""
    import shutil

    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def gpu_install_hint(info: dict, driver: bool | None = None) -> str | None:
    """A warning when the machine has an NVIDIA driver but the backend sees no GPU (a CPU-only
    install trains for hours on the CPU without a word otherwise), naming the install fix."""
    if info.get("accelerators"):
        return None
    if not (nvidia_driver_present() if driver is None else driver):
        return None
    if info.get("backend") == "jax":
        fix = ("pip install -U 'jax[cuda12]' (or the suite's extra: pip install -e '.[jax-gpu]'); "
               "check with: python -c \"import jax; print(jax.devices())\"")
    else:
        fix = ("pip install 'tensorflow[and-cuda]' (or the suite's extra: pip install -e '.[gpu]'); "
               "check with: python -c \"import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))\"")
    return (f"this machine has an NVIDIA driver but {info.get('backend')} sees no GPU, so this run trains on "
            f"the CPU. The usual cause is a CPU-only install: {fix}. See the README's GPU section")


def package_versions() -> dict[str, str]:
    from importlib import metadata

    names = ["keras", "tensorflow", "jax", "jaxlib", "numpy", "scikit-image", "albumentations",
             "segmentation-models"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _op_determinism() -> bool:
    """TensorFlow's deterministic kernels: on, unless --jit switched them off (JAX: deterministic)."""
    from common.training import scale

    current = scale.current()
    return not (current.jit and current.backend == "tensorflow")


def provenance() -> dict[str, Any]:
    """Everything a results table needs to say where a number came from."""
    return {
        "git": git_info(),
        "versions": package_versions(),
        **device_info(),
        "platform": platform.platform(),
        # the settings that decide whether a rerun on this machine repeats the numbers bit for bit
        "determinism": {"TF_NUM_INTEROP_THREADS": os.environ.get("TF_NUM_INTEROP_THREADS"),
                        "op_determinism": _op_determinism(), "grappler_arithmetic_optimization": False},
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
    }


def new_run_dir(root: str | os.PathLike, paper: str, row: str, dataset: str) -> Path:
    """A fresh ``<root>/<paper>/<row-slug>/<dataset>-<stamp>`` folder (never reuses one)."""
    base = Path(root) / paper / slugify(row)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = base / f"{slugify(dataset)}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = base / f"{slugify(dataset)}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def latest_run_dir(root: str | os.PathLike, paper: str, row: str, dataset: str) -> Path | None:
    """The newest run folder of a row and dataset, for ``--resume`` without ``--run-dir``."""
    base = Path(root) / paper / slugify(row)
    if not base.is_dir():
        return None
    runs = sorted((p for p in base.iterdir() if p.is_dir() and p.name.startswith(slugify(dataset) + "-")
                   and (p / "config.json").exists()), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else None


def find_runs(root: str | os.PathLike, paper: str) -> list[Path]:
    """Every finished run of a paper (a folder holding ``config.json`` and ``metrics.json``)."""
    base = Path(root) / paper
    if not base.is_dir():
        return []
    return sorted(p.parent for p in base.glob("**/metrics.json") if (p.parent / "config.json").exists())


def load_json(path: str | os.PathLike) -> Any:
    """A JSON record; a damaged one is a ``DataError`` naming the file."""
    from common.data.errors import DataError

    try:
        with open(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); the record is damaged "
                        "(a copy cut short?): restore it from a backup, or start a new run") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file; the record is damaged: restore it, or start a new run") from None


def os_error_message(exc: OSError) -> str:
    """One line for an OS error while reading or writing a file: what, which file, and the fix."""
    import errno

    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    if exc.errno == errno.ENOSPC:
        return (f"{where}no space left on the device; nothing half-written was kept. Free some space "
                "(or point --runs-root / --cache-dir / --out elsewhere) and run again (--resume continues a run)")
    if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return (f"{where}not allowed to write here ({exc.strerror}); choose a writable folder "
                "(--runs-root, --cache-dir or --out)")
    return f"{where}{exc.strerror or exc}"
