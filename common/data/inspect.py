"""What is in a data folder: datasets, counts per split and class, image sizes, problems.

Image sizes come from file headers (PIL opens lazily), so a folder of 25,000 JPEGs is inspected in
seconds; ``deep=True`` also decodes every image and mask (truncated files, non-binary masks).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import decode
from .discovery import no_layout_error, discover, load_index
from .errors import DataError
from .samples import DatasetIndex, Sample


def _check_sample(sample: Sample, deep: bool) -> tuple[tuple[int, int] | None, list[str]]:
    problems, size = [], None
    if sample.image is None:
        return None, problems
    try:
        size = decode.read_image(sample.image)[1] if deep else decode.read_size(sample.image)
    except DataError as exc:
        if os.path.exists(sample.image):          # a missing image is already listed by the reader
            problems.append(f"unreadable image: {exc}")
        return None, problems
    masks = ([sample.mask] if sample.mask else []) + [p for _, p in sample.attributes]
    for m in masks:
        if not os.path.exists(m):
            continue                              # missing masks are listed by the reader
        try:
            if deep:
                decode.load_mask(m, None, size, sample.image)
            else:
                wh = decode.read_size(m, "mask")
                if wh != size:
                    problems.append(f"{m}: mask is {wh[0]}x{wh[1]} but its image {sample.image} is "
                                    f"{size[0]}x{size[1]}")
        except DataError as exc:
            problems.append(str(exc))
    return size, problems


def inspect_index(index: DatasetIndex, *, deep: bool = False, workers: int | None = None,
                  synthetic_size: tuple[int, int] = (128, 128)) -> dict:
    """A JSON-ready report on one dataset.

    Args:
        index: the dataset.
        deep: decode every file (slow) instead of reading headers only.
        workers: threads for reading files.
        synthetic_size: the size reported for synthetic data (rendered at any size).

    Returns:
        ``{"dataset", "root", "samples", "splits", "classes", "sizes", "with_masks",
        "with_attributes", "problems"}``; sizes are ``{"min": [w, h], "max": [w, h], "distinct": n}``.
    """
    if index.name == "synthetic":
        sizes = {"min": [synthetic_size[1], synthetic_size[0]], "max": [synthetic_size[1], synthetic_size[0]],
                 "distinct": 1, "note": "rendered at any requested size"}
        results = []
    else:
        with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
            results = list(pool.map(lambda s: _check_sample(s, deep), index.samples))
        wh = [r[0] for r in results if r[0] is not None]
        sizes = {"min": [min(w for w, _ in wh), min(h for _, h in wh)] if wh else None,
                 "max": [max(w for w, _ in wh), max(h for _, h in wh)] if wh else None,
                 "distinct": len(set(wh))}
    problems = list(index.problems) + [p for r in results for p in r[1]]
    synthetic = index.name == "synthetic"
    # Count what is on disk: a sample a label file lists whose image is missing, or a mask path
    # whose file is missing, is a problem (listed above), not a sample or a mask.
    present = [s for s in index.samples if synthetic or (s.image is not None and os.path.isfile(s.image))]
    return {
        "dataset": index.name,
        "root": index.root,
        "samples": len(present),
        "listed_without_image": len(index.samples) - len(present),
        "deep": bool(deep),
        "splits": index.split_counts(),
        "classes": index.class_counts() if index.classes else None,
        "class_names": index.classes,
        "sizes": sizes,
        "with_masks": len(index) if synthetic else sum(1 for s in present if s.mask and os.path.isfile(s.mask)),
        "with_attributes": sum(1 for s in present if s.attributes
                               and all(os.path.isfile(p) for _, p in s.attributes)),
        "problems": problems,
    }


def inspect_dir(data_dir=None, *, dataset: str = "auto", deep: bool = False, synthetic_size: int = 200,
                seed: int = 0) -> dict:
    """Inspect every dataset found in ``data_dir`` (the synthetic dataset when ``None``).

    Returns:
        ``{"dataset": names joined by "+", "samples": total, "splits", "classes", "sizes",
        "problems", "datasets": [per-dataset reports]}``.

    Raises:
        DataError: the folder is missing, empty or holds no known layout (the message lists them).
    """
    if data_dir is None or dataset == "synthetic":
        indices = [load_index("synthetic", synthetic_size=synthetic_size, seed=seed)]
    else:
        found = discover(data_dir)
        if not found:
            raise no_layout_error(Path(data_dir).expanduser())
        indices = [i for i in found if dataset in ("auto", i.name)]
        if not indices:
            raise DataError(f"{data_dir}: no {dataset} layout found (found "
                            f"{', '.join(f'{i.name} in {i.root}' for i in found)})")
    reports = [inspect_index(i, deep=deep) for i in indices]
    if len(reports) == 1:
        return {**reports[0], "datasets": reports}
    merged = lambda key: {f"{r['dataset']}:{k}": v for r in reports for k, v in (r[key] or {}).items()}
    return {"dataset": "+".join(r["dataset"] for r in reports), "root": str(data_dir),
            "samples": sum(r["samples"] for r in reports), "splits": merged("splits"),
            "classes": merged("classes"), "sizes": {r["dataset"]: r["sizes"] for r in reports},
            "problems": [p for r in reports for p in r["problems"]], "datasets": reports}


def format_report(report: dict, max_problems: int = 20) -> str:
    """Human-readable text of an `inspect_dir` report."""
    lines = []
    for r in report["datasets"]:
        missing = r.get("listed_without_image", 0)
        lines.append(f"{r['dataset']}: {r['samples']} samples" + (f" in {r['root']}" if r["root"] else "")
                     + (f" (and {missing} listed whose image file is missing)" if missing else ""))
        lines.append("  splits:  " + ", ".join(f"{k} {v}" for k, v in r["splits"].items()))
        if r["classes"]:
            lines.append("  classes: " + ", ".join(f"{k} {v}" for k, v in r["classes"].items()))
        else:
            lines.append("  classes: (no labels)")
        sz = r["sizes"]
        if sz.get("min"):
            span = f"{sz['min'][0]}x{sz['min'][1]} .. {sz['max'][0]}x{sz['max'][1]}"
            lines.append(f"  image sizes (width x height): {span}, {sz['distinct']} distinct"
                         + (f" ({sz['note']})" if sz.get("note") else ""))
        lines.append(f"  masks: {r['with_masks']}" + (f", attribute sets: {r['with_attributes']}"
                                                      if r["with_attributes"] else ""))
        probs = r["problems"]
        if r["dataset"] != "synthetic":
            lines.append("  checked: " + (
                "every image and mask decoded (truncated or corrupt files, non-binary masks, sizes)"
                if r.get("deep") else
                "files present, image headers readable, mask sizes against their images; "
                "--deep also decodes every file (truncated JPEGs, grey-level or soft masks)"))
        lines.append(f"  problems: {len(probs) or 'none'}")
        lines += [f"    - {p}" for p in probs[:max_problems]]
        if len(probs) > max_problems:
            lines.append(f"    … {len(probs) - max_problems} more (use --json for all)")
    return "\n".join(lines)
