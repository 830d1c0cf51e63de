"""``predict``: write predictions in the challenge's submission format for any image, from one run or
an ensemble, refusing before any work what would lose data (clashing outputs, files already there)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from common.config import ConfigError, image_hw
from common.training.paper import Paper
from common.training.records import os_error_message
from common.training.evaluation import post_options, postprocess_of, run_options, tta_views_of, tune_on_validation
from common.training.runs import collect_images, ensemble_predictor, evaluation_samples, open_run, run_classes

# -- predict -------------------------------------------------------------------------------------

def predict_main(paper: Paper, argv: Sequence[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{paper.name}.predict",
        description="Write predictions in the challenge's submission format for every image given: "
                    "lesion masks as ISIC_xxxxxxx_segmentation.png, attribute masks as "
                    "ISIC_xxxxxxx_attribute_<name>.png (PNG, 0/255, at each input's own size), classes "
                    "as predictions.csv (image, then a probability per class; ISIC 2019's columns "
                    "MEL..UNK). Several --run-dir make an ensemble; --tta adds test-time views.")
    run_options(parser, many=True)
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="images or folders of images")
    parser.add_argument("--out", required=True, help="output folder (files already there are not replaced "
                                                      "unless --overwrite is given)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace prediction files of the same names already in --out")
    args = parser.parse_args(argv)
    from common.quiet import import_backend

    import_backend(verbose=args.verbose)
    from common.data.errors import DataError

    try:
        return _predict(paper, args)
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    except DataError as exc:
        parser.exit(1, f"error: {exc} (nothing was written)\n")
    except OSError as exc:
        parser.exit(1, f"error: {os_error_message(exc)}\n")


def _predict(paper, args) -> list[Path]:
    from common.data.decode import read_image

    views = tta_views_of(args)
    files = collect_images(args.inputs)
    runs = [open_run(paper, r, args.checkpoint) for r in args.run_dir]
    out_dir = Path(args.out)
    _check_outputs(runs, files, out_dir, args.overwrite)
    written = []
    groups: dict[str, list] = {}
    for r in runs:
        groups.setdefault(r.task.group, []).append(r)
    from tqdm.auto import tqdm

    for group in groups.values():
        first = group[0]
        task, cfg = first.task, first.cfg
        predict = ensemble_predictor(group, views, task)
        post = postprocess_of(task, cfg, **post_options(args))
        if not post.tuned:
            if first.record.get("dataset") is None:
                raise ConfigError("double-threshold post-processing needs the run's validation images")
            index, _, _, split_ids = evaluation_samples(first, "val")
            post = tune_on_validation(first, task, post, predict, index, split_ids)
        items, outputs = [], []
        for path in tqdm(files, desc="predict", file=sys.stderr, disable=len(files) < 4):
            # the same decode and resize as training (common.data.decode.read_image)
            small, (width, height) = read_image(str(path), image_hw(cfg))
            outputs.append(predict(small[None], batch_size=1)[0])
            items.append((path, (height, width)))
        classes = run_classes(first)
        written += task.write(out_dir, items, np.stack(outputs), post, classes=classes)
    what = runs[0].task.output_words
    one_file = runs[0].task.one_output_file       # a CSV of every image's row (classes)
    print(f"wrote {len(written)} {'file' if one_file else what} to {out_dir}"
          + (f" ({len(files)} images' {what})" if one_file else ""))
    return written


def _check_outputs(runs, files: Sequence[Path], out_dir: Path, overwrite: bool) -> None:
    """Refuse, before any prediction, what would lose data: two inputs writing one output (the same
    ISIC id or stem in two folders, ``X.jpg`` beside ``X_downsampled.jpg``), files already in the
    output folder (unless ``--overwrite``), and an output folder that cannot be written."""
    import os

    names: list[str] = []
    for run in runs:
        task = run.task
        seen: dict[str, Path] = {}
        clashes = []
        for path in files:
            key = task.output_key(path)
            if key in seen:
                clashes.append(f"{seen[key]} and {path} (both {key})")
            seen[key] = path
        if clashes:
            raise ConfigError(f"{len(clashes)} inputs would overwrite each other's prediction: "
                              + "; ".join(clashes[:5]) + ("; ..." if len(clashes) > 5 else "")
                              + ". Predict them into separate --out folders")
        names += [n for n in task.output_files(files) if n not in names]
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file, not a folder: name a folder")
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not overwrite:
        raise ConfigError(f"--out {out_dir} already holds {len(existing)} of the files this would write ("
                          + ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
                          + "): choose an empty folder, or give --overwrite to replace them")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise ConfigError(f"--out {out_dir}: the folder is not writable; choose another")
