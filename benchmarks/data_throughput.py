"""Throughput of the decode-once cache: first pass (decode + resize + write) vs cached pass.

Builds a temporary ISIC-2018-like folder of N large synthetic JPEGs (default 40 at 2000x1500, the
size of many ISIC 2018 images) with their PNG masks, then times `load_arrays` twice:

    python benchmarks/data_throughput.py [--n 40] [--width 2000] [--height 1500] [--size 192x256]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common.data import load_arrays, load_index, synthetic  # noqa: E402


def make_folder(root: Path, n: int, width: int, height: int, quality: int = 90) -> None:
    """Write ``n`` synthetic ``width`` x ``height`` JPEGs and their masks in the ISIC 2018 layout."""
    images = root / "ISIC2018_Task1-2_Training_Input"
    masks = root / "ISIC2018_Task1_Training_GroundTruth"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)

    def one(i):
        image, mask, _ = synthetic.generate_sample(i, (height // 4, width // 4), seed=123)
        name = f"ISIC_{i:07d}"
        Image.fromarray(image).resize((width, height), Image.BICUBIC).save(images / f"{name}.jpg", quality=quality)
        Image.fromarray(mask[..., 0] * 255).resize((width, height), Image.NEAREST).save(
            masks / f"{name}_segmentation.png")

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(one, range(n)))


def main(argv=None) -> None:
    """Build the folder, time both passes, print images per second."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="number of images (default 40)")
    parser.add_argument("--width", type=int, default=2000, help="source image width (default 2000)")
    parser.add_argument("--height", type=int, default=1500, help="source image height (default 1500)")
    parser.add_argument("--size", default="192x256", help="target HEIGHTxWIDTH (default 192x256)")
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default min(8, CPUs))")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))

    with tempfile.TemporaryDirectory(prefix="data-throughput-") as tmp:
        root, cache = Path(tmp) / "data", Path(tmp) / "cache"
        t0 = time.perf_counter()
        make_folder(root, args.n, args.width, args.height)
        mb = sum(p.stat().st_size for p in root.rglob("*.jpg")) / 1e6
        print(f"built {args.n} JPEGs of {args.width}x{args.height} ({mb:.0f} MB) + masks "
              f"in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs")
        index = load_index("isic2018", root)

        t0 = time.perf_counter()
        x, y = load_arrays(index, None, size, cache_dir=cache, progress=False, workers=args.workers)
        first = time.perf_counter() - t0

        t0 = time.perf_counter()
        x, y = load_arrays(index, None, size, cache_dir=cache, progress=False, workers=args.workers)
        opened = time.perf_counter() - t0
        t0 = time.perf_counter()
        x2, y2 = load_arrays(index, None, size, cache_dir=cache, progress=False, workers=args.workers)
        checksum = int(np.asarray(x2).sum(dtype=np.int64)) + int(np.asarray(y2).sum(dtype=np.int64))
        read = time.perf_counter() - t0

        print(f"target size {size[0]}x{size[1]} (HxW), arrays {x.shape} + masks {y.shape}")
        print(f"first pass  (decode + resize + write cache): {first:7.3f} s = {args.n / first:8.1f} images/s")
        print(f"cached pass (key check + memory-map):        {opened:7.3f} s = {args.n / opened:8.1f} images/s")
        print(f"cached pass reading every pixel:             {read:7.3f} s = {args.n / read:8.1f} images/s "
              f"(checksum {checksum})")
        print(f"speed-up of the cached pass (reading every pixel): {first / read:.0f}x")


if __name__ == "__main__":
    main()
