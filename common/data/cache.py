"""Decode once: `load_arrays` turns samples into resized uint8 arrays and caches them as ``.npy``.

A cache entry is a folder ``<cache dir>/<dataset>-<H>x<W>-<key>/`` holding ``images.npy``,
``masks.npy`` (when the samples have masks) and ``meta.json`` (written last: an entry without it is
incomplete). The key hashes the dataset, the image size and every sample's file paths, modification
times and sizes, so editing, replacing or touching a source file rebuilds the entry. Files are
written to a temporary name and moved into place with ``os.replace``; arrays are plain ``.npy``
(``allow_pickle=False``) read back as read-only memory maps. ``meta.json`` also stores a CRC-32
of each array file, verified every time the entry is opened (about 2 GB/s, a fraction of a second for
ISIC 2018 at 192x256): a file changed in place, even to the same size, is rebuilt with a warning that
names it, never used.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from . import decode, synthetic
from .errors import DataError
from .samples import ATTRIBUTES, DatasetIndex, Sample

CACHE_VERSION = 2  # 2: CRC-32 of every array file in meta.json
ENV_CACHE_DIR = "SLR_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$SLR_CACHE_DIR`` if set, else ``~/.cache/skin-lesion-repro``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "skin-lesion-repro"


def _size(image_size) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    h, w = (int(v) for v in image_size)
    if h <= 0 or w <= 0:
        raise ValueError(f"image_size must be positive (height, width), not {image_size}")
    return h, w


def _target_kind(index: DatasetIndex, samples: list[Sample]) -> str | None:
    """``"mask"``, ``"attributes"`` or ``None``; samples that mix them are an error."""
    if index.name == "synthetic":
        return "attributes" if index.meta.get("attributes") else "mask"
    with_attr = [s for s in samples if s.attributes]
    with_mask = [s for s in samples if s.mask]
    if with_attr:
        kind, have = "attributes", with_attr
    elif with_mask:
        kind, have = "mask", with_mask
    else:
        return None
    lacking = [s for s in samples if not (s.attributes if kind == "attributes" else s.mask)]
    if lacking:
        raise DataError(f"{lacking[0].image}: {len(lacking)} of the {len(samples)} samples have no "
                        f"{kind} (e.g. {', '.join(s.id for s in lacking[:3])}) while the others do; "
                        f"load the samples with and without ground truth separately")
    return kind


def decode_sample(index: DatasetIndex, sample: Sample, size: tuple[int, int]):
    """Decode and resize one sample.

    Returns:
        ``(image [H, W, 3] uint8, target)`` where target is the mask [H, W, 1], the attribute
        masks [H, W, 5] (ISIC 2018 Task 2) or ``None``.

    Raises:
        DataError: see `decode.read_image` and `decode.load_mask`.
    """
    if index.name == "synthetic":
        image, mask, _ = synthetic.generate_sample(synthetic.sample_index(sample.id), size,
                                                   index.meta.get("seed", 0), index.meta.get("n_classes", 3),
                                                   attributes=bool(index.meta.get("attributes")))
        return image, mask
    if sample.image is None:
        raise DataError(f"sample {sample.id!r} of {index.name} has no image path")
    image, original = decode.read_image(sample.image, size)
    if sample.attributes:
        target = np.stack([decode.load_mask(p, size, original, sample.image) for _, p in sample.attributes], -1)
    elif sample.mask:
        target = decode.load_mask(sample.mask, size, original, sample.image)[..., None]
    else:
        target = None
    return image, target


def _signature(path: str | None) -> list:
    if path is None:
        return [None]
    try:
        st = os.stat(path)
        return [os.path.abspath(path), st.st_mtime_ns, st.st_size]
    except OSError:
        return [os.path.abspath(path), None, None]


def cache_key(index: DatasetIndex, samples: list[Sample], size: tuple[int, int], skip_bad: bool) -> str:
    """Hash of (dataset, generator settings, image size, every sample's files with mtimes and sizes)."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, index.name, index.meta if index.name == "synthetic" else None,
                                   list(size), bool(skip_bad)], sort_keys=True, default=str).encode())
    for s in samples:
        files = [_signature(s.image), _signature(s.mask)] + [[a, *_signature(p)] for a, p in s.attributes]
        h.update(json.dumps([s.id, files], default=str).encode())
    return h.hexdigest()


def file_crc32(path: Path, chunk: int = 1 << 24) -> str:
    """CRC-32 of a file's bytes, as 8 hex digits."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            crc = zlib.crc32(block, crc)
    return f"{crc:08x}"


def _array_files(kind) -> list[str]:
    return ["images.npy"] + (["masks.npy"] if kind else [])


def _read_entry(entry: Path, n: int, size, kind) -> tuple | None:
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    sums = meta.get("crc32", {})
    for name in _array_files(kind):
        try:
            actual = file_crc32(entry / name)
        except OSError:
            return None
        if sums.get(name) != actual:
            if meta.get("version") == CACHE_VERSION:
                warnings.warn(f"{entry / name}: cached array does not match its checksum (the file "
                              f"changed after it was written); rebuilding the cache entry from the "
                              f"source images", stacklevel=3)
            return None
    try:
        images = np.load(entry / "images.npy", mmap_mode="r", allow_pickle=False)
        masks = np.load(entry / "masks.npy", mmap_mode="r", allow_pickle=False) if kind else None
    except (OSError, ValueError):
        return None
    kept = meta.get("kept", [])
    if (images.shape[0] != len(kept) or images.shape[1:3] != tuple(size) or meta.get("n") != n
            or (masks is not None and masks.shape[:3] != images.shape[:3])):
        return None
    return images, masks, kept, meta.get("skipped", [])


def remove_stale_temporaries(entry: Path) -> None:
    """Delete the partial arrays of builders that were killed (their process is gone); a builder
    still running (another process filling the same entry) keeps its own."""
    for tmp in entry.glob("*.tmp-*"):
        pid = tmp.name.rsplit(".tmp-", 1)[-1].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True                   # exists, owned by another user
    return True


def reserve(path: Path) -> None:
    """Allocate a sparse file's blocks now, so that a full disk is an ``OSError`` (ENOSPC) here
    instead of a SIGBUS when a memory-mapped page is first written. File systems without
    ``fallocate`` are left as they are."""
    import errno

    size = path.stat().st_size
    if not size or not hasattr(os, "posix_fallocate"):
        return
    with open(path, "r+b") as fh:
        try:
            os.posix_fallocate(fh.fileno(), 0, size)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return
            raise OSError(exc.errno, f"{os.strerror(exc.errno)} (the decoded-array cache needs "
                                     f"{size / 1e6:.1f} MB more)", str(path)) from None


def _replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def _build(index, samples, size, kind, entry: Path | None, skip_bad: bool, progress: bool, workers: int):
    """Decode all samples into (memory-mapped) arrays; returns (images, masks, kept, skipped)."""
    from tqdm.auto import tqdm                     # imported here: keeps `import common.data` light

    n, (h, w) = len(samples), size
    channels = 1
    if kind == "attributes":
        channels = len(ATTRIBUTES) if index.name == "synthetic" else len(samples[0].attributes)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if entry is not None:
        remove_stale_temporaries(entry)

    def alloc(name, shape):
        if entry is None:
            return np.empty(shape, np.uint8), None
        tmp = entry / f"{name}.npy.tmp-{tag}"
        arr = open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        try:
            reserve(tmp)
        except OSError:
            del arr
            tmp.unlink(missing_ok=True)
            raise
        return arr, tmp

    images, tmp_images = alloc("images", (n, h, w, 3))
    masks, tmp_masks = alloc("masks", (n, h, w, channels)) if kind else (None, None)
    temps = [t for t in (tmp_images, tmp_masks) if t is not None]

    def work(i):
        try:
            image, target = decode_sample(index, samples[i], size)
        except DataError as exc:
            return exc
        images[i] = image
        if masks is not None:
            masks[i] = target
        return None

    skipped = []
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=n, desc=f"decoding {index.name} at {h}x{w}", unit="img", disable=not progress) as bar:
            for i, err in enumerate(pool.map(work, range(n))):
                bar.update(1)
                if err is None:
                    continue
                if not skip_bad:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise err
                warnings.warn(f"skipped sample {samples[i].id}: {err}", stacklevel=3)
                skipped.append({"id": samples[i].id, "error": str(err)})
        bad_ids = {s["id"] for s in skipped}
        kept_rows = [i for i in range(n) if samples[i].id not in bad_ids]
        if skipped:
            if len(kept_rows) == 0:
                raise DataError(f"all {n} samples of {index.name} were skipped as bad, e.g. {skipped[0]['error']}")
            images, masks = _compact(images, kept_rows, alloc, "images"), \
                (_compact(masks, kept_rows, alloc, "masks") if masks is not None else None)
            temps = [Path(a.filename) for a in (images, masks) if isinstance(a, np.memmap)] or temps
        if entry is None:
            return images, masks, [samples[i].id for i in kept_rows], skipped
        for arr in (images, masks):
            if isinstance(arr, np.memmap):
                arr.flush()
        del images, masks
        _replace(temps[0], entry / "images.npy")
        if kind:
            _replace(temps[1], entry / "masks.npy")
        meta = {"version": CACHE_VERSION, "dataset": index.name, "image_size": [h, w], "n": n,
                "target": kind, "kept": [samples[i].id for i in kept_rows], "skipped": skipped,
                "crc32": {name: file_crc32(entry / name) for name in _array_files(kind)}}
        tmp_meta = entry / f"meta.json.tmp-{tag}"
        tmp_meta.write_text(json.dumps(meta))
        _replace(tmp_meta, entry / "meta.json")
    finally:
        for t in entry.glob(f"*.tmp-{tag}") if entry is not None else []:
            t.unlink(missing_ok=True)
    return None


def _compact(arr, rows, alloc, name):
    out, _ = alloc(name + "-kept", (len(rows),) + arr.shape[1:])
    for j, i in enumerate(rows):
        out[j] = arr[i]
    if isinstance(arr, np.memmap):
        path = Path(arr.filename)
        del arr
        path.unlink(missing_ok=True)
    return out


def load_arrays(index: DatasetIndex, samples=None, image_size=(128, 128), *, cache_dir=None,
                skip_bad: bool = False, progress: bool = True, workers: int | None = None,
                return_samples: bool = False, skipped_out: list | None = None):
    """Decode, resize and cache samples as uint8 arrays (decoded once, then memory-mapped).

    Args:
        index: the dataset the samples belong to.
        samples: the samples to load, in order (``None``: all of ``index``).
        image_size: ``(height, width)`` (or one int for a square). Images are resized with
            antialiased bilinear filtering; masks are resized and thresholded, staying {0, 1}.
        cache_dir: cache folder; ``None`` uses `default_cache_dir`, ``False`` disables the cache.
        skip_bad: warn about and leave out samples whose files are missing, corrupt or inconsistent
            (one warning per file and a count) instead of raising `DataError`.
        progress: show a tqdm progress bar while decoding.
        workers: decoding threads (default: ``min(8, CPU count)``).
        return_samples: also return the samples kept (useful with ``skip_bad``).
        skipped_out: a list that receives ``{"id", "error"}`` for each sample ``skip_bad`` left out.

    Returns:
        ``(images uint8 [N, H, W, 3] RGB, masks uint8 {0,1} [N, H, W, C] or None)`` — C is 1, or 5
        attribute masks (`ATTRIBUTES` order) for ISIC 2018 Task 2; masks are ``None`` for samples
        without ground truth. Cached arrays are read-only memory maps (``np.array(x)`` copies).
        With ``return_samples`` a third item, the list of samples kept.

    Raises:
        DataError: a file is missing, unreadable, corrupt, not a binary mask, or of another size
            than its image (unless ``skip_bad``); samples mix having and lacking ground truth.
    """
    samples = list(index.samples if samples is None else samples)
    if not samples:
        raise DataError(f"no samples to load from {index.name} ({index.root})")
    size = _size(image_size)
    kind = _target_kind(index, samples)
    workers = workers or min(8, os.cpu_count() or 1)
    by_id = {s.id: s for s in samples}
    if cache_dir is False:
        images, masks, kept, skipped = _build(index, samples, size, kind, None, skip_bad, progress, workers)
    else:
        key = cache_key(index, samples, size, skip_bad)
        entry = Path(cache_dir or default_cache_dir()).expanduser() / f"{index.name}-{size[0]}x{size[1]}-{key[:20]}"
        hit = _read_entry(entry, len(samples), size, kind)
        if hit is None:
            entry.mkdir(parents=True, exist_ok=True)
            _build(index, samples, size, kind, entry, skip_bad, progress, workers)
            hit = _read_entry(entry, len(samples), size, kind)
            if hit is None:
                raise DataError(f"{entry}: cache entry could not be read back after writing it; "
                                f"check the disk or pass cache_dir=False")
        images, masks, kept, skipped = hit
    if skipped_out is not None:
        skipped_out.extend(skipped)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} of {len(samples)} samples of {index.name} as bad "
                      f"(e.g. {skipped[0]['error']})", stacklevel=2)
    if return_samples:
        return images, masks, [by_id[i] for i in kept]
    return images, masks
