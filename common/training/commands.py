"""``train``, ``evaluate`` and ``predict`` for any segmentation paper package.

Each paper's ``train.py`` / ``evaluate.py`` / ``predict.py`` calls these with its
:class:`~common.training.experiment.SegmentationPaper`, so every paper behaves the same way.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import ConfigError, add_common_train_arguments, row_name
from common.training import experiment as ex
from common.training import records


# -- train ---------------------------------------------------------------------------------------

def _weights(paper: ex.SegmentationPaper, value: str | None, cfg) -> str | None:
    if value is None:
        value = getattr(cfg, "encoder_weights", None) or "none"
    if value.lower() == "none":
        return None
    if "imagenet" not in paper.weights_choices and "PATH" not in paper.weights_choices:
        raise ConfigError(f"{paper.name} trains every layer from scratch: --encoder-weights accepts only none")
    if value.lower() == "imagenet":
        return "imagenet"
    if not Path(value).exists():
        raise ConfigError(f"--encoder-weights {value}: no such file (use imagenet, none or a weights file)")
    return value


def _seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend; TensorFlow's graphs compute the same way each run."""
    from common.training.determinism import seed_everything

    seed_everything(seed)


def _rows_epilog(paper: ex.SegmentationPaper) -> str:
    """The rows with what each trains by default, and the quick settings of the synthetic data."""
    lines = ["rows (epochs, batch size, image size HxW and split each row uses on real data):"]
    for name, cfg in paper.rows.items():
        h, w = ex.image_hw(cfg)
        mark = " (default)" if name == paper.default_row else ""
        lines.append(f'  "{name}"{mark}: {cfg.epochs} epochs, batch {cfg.batch_size}, {h}x{w}, '
                     f"split {getattr(cfg, 'split', '-')}")
    if paper.synthetic_defaults:
        quick = ", ".join(f"{k} {v}" for k, v in paper.synthetic_defaults.items())
        lines += ["", f"without --data-dir (the embedded synthetic data) the quick settings apply: {quick};",
                  "options given on the command line still win."]
    lines += ["", "examples:",
              f"  python -m reproductions.{paper.name}.train",
              f'  python -m reproductions.{paper.name}.train --data-dir ~/data/isic2018 --row "{paper.default_row}"',
              f"  python -m reproductions.{paper.name}.train --resume --run-dir runs/{paper.name}/<row>/<run>"]
    return "\n".join(lines)


def train_parser(paper: ex.SegmentationPaper) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{paper.name}.train",
        description=f"Train one table row of {paper.title}. Without arguments it trains the default row "
                    f"on the embedded synthetic data and prints the metrics and the run folder.",
        epilog=_rows_epilog(paper), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_train_arguments(parser, default_row=paper.default_row, rows=paper.rows,
                               weights_choices=" | ".join(paper.weights_choices))
    return parser


class _Progress:
    """Where the run stands, for the message printed when the user interrupts it."""

    run_dir: Path | None = None


def train_main(paper: ex.SegmentationPaper, argv: Sequence[str] | None = None) -> list[Path]:
    """Parse the command line and train; returns the run folder(s)."""
    parser = train_parser(paper)
    args = parser.parse_args(argv)
    from common.quiet import import_backend

    import_backend(verbose=args.verbose)
    where = _Progress()
    try:
        return _train(paper, args, where)
    except KeyboardInterrupt:
        parser.exit(130, _interrupted_message(paper, where.run_dir))
    except (ConfigError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    except Exception as exc:  # noqa: BLE001 - data errors and divergence get a clean message
        from common.training.loop import TrainingDiverged

        name = type(exc).__name__
        if name == "DataError" or isinstance(exc, TrainingDiverged):
            parser.exit(1, f"error: {exc}\n")
        raise


def _interrupted_message(paper, run_dir: Path | None) -> str:
    if run_dir is None or not (run_dir / "config.json").exists():
        return "\ninterrupted before training started; nothing to resume.\n"
    state = records.load_json(run_dir / "state.json") if (run_dir / "state.json").exists() else {}
    done, total = state.get("epochs_done", 0), state.get("epochs", "?")
    return (f"\ninterrupted after epoch {done} of {total}; {run_dir} is kept. Continue it with:\n"
            f"  python -m reproductions.{paper.name}.train --resume --run-dir {run_dir}\n")


def _folds(args, cfg) -> list[int | None]:
    spec = getattr(cfg, "split", "")
    if not spec.startswith("kfold"):
        if args.fold not in (None, "0"):
            raise ConfigError(f"--fold applies to k-fold splits; this row's split is {spec!r}")
        return [None]
    k = int(spec.split(":")[1].split(",")[0]) if ":" in spec else 5
    if args.fold in (None, "all"):
        return list(range(k)) if args.fold == "all" else [0]
    try:
        fold = int(args.fold)
    except ValueError:
        raise ConfigError(f"--fold {args.fold}: choose 0..{k - 1} or all") from None
    if not 0 <= fold < k:
        raise ConfigError(f"--fold {fold}: choose 0..{k - 1} or all")
    return [fold]


#: Options ``--resume --run-dir RUN`` takes from RUN's config.json when they are not given.
_RECORDED_OPTIONS = ("row", "data_dir", "dataset", "seed", "limit", "synthetic_size", "encoder_weights",
                     "bn_recalibrate")


#: What a record written before an option existed means by leaving it out.
_RECORD_DEFAULTS = {"bn_recalibrate": 0}


def _from_record(paper, args):
    """With ``--resume --run-dir RUN``: the run's recorded config, and the options it was started
    with filled into ``args`` where the command line left them out."""
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").exists():
        raise ConfigError(f"--resume: {run_dir} holds no run (config.json missing)")
    saved = records.load_json(run_dir / "config.json")
    if saved.get("paper") not in (None, paper.name):
        raise ConfigError(f"--resume: {run_dir} is a {saved['paper']} run, not {paper.name}")
    for option in _RECORDED_OPTIONS:
        if getattr(args, option) is None and saved.get(option) is not None:
            setattr(args, option, saved[option])
    if args.fold is None and saved.get("fold") is not None:
        args.fold = str(saved["fold"])
    if args.skip_bad is False and saved.get("skip_bad"):
        args.skip_bad = True
    row = row_name(paper.rows, args.row)
    cfg_class = type(paper.rows[row])
    try:
        recorded = ex.config_from_dict(cfg_class, saved["config"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--resume: {run_dir}/config.json does not hold a {cfg_class.__name__} ({exc})") from exc
    return row, recorded


def _train(paper, args, where: _Progress | None = None) -> list[Path]:
    where = where or _Progress()
    if args.finish and not args.resume:
        raise ConfigError("--finish stops an existing run: use it with --resume")
    from_record = bool(args.resume and args.run_dir)
    if from_record:
        row, base = _from_record(paper, args)       # the recorded config, quick settings included
    else:
        row = row_name(paper.rows, args.row or paper.default_row)
        base = paper.rows[row]
    if args.seed is None:
        args.seed = 0
    if args.bn_recalibrate is None:
        args.bn_recalibrate = 0
    if args.bn_recalibrate < 0:
        raise ConfigError(f"--bn-recalibrate {args.bn_recalibrate}: give a number of batches >= 1, or 0 for off")
    dataset = args.dataset or ("auto" if args.data_dir else "synthetic")
    if not from_record and dataset == "synthetic" and paper.synthetic_defaults:
        # A quick schedule on the embedded data; explicit options and --set still win.
        quick = {k: v for k, v in paper.synthetic_defaults.items() if k in {f.name for f in dataclasses.fields(base)}}
        base = dataclasses.replace(base, **quick)
        if args.synthetic_size is None:
            args.synthetic_size = paper.synthetic_defaults.get("synthetic_size")
        print(f"synthetic data: quick defaults {quick} (override with --epochs/--set)", file=sys.stderr)
    cfg = ex.resolve_config(base, args)
    _check_image_size(paper, cfg)
    weights = _weights(paper, args.encoder_weights, cfg)
    folds = _folds(args, cfg)
    if args.run_dir and len(folds) > 1:
        raise ConfigError("--run-dir names one run; with --fold all each fold gets its own folder")
    out = []
    for fold in folds:
        out.append(_train_one(paper, args, row, cfg, weights, dataset, fold, where))
    if len(out) > 1:
        print("fold runs:\n" + "\n".join(str(p) for p in out))
    return out


def _check_image_size(paper, cfg) -> None:
    multiple = paper.size_multiple(cfg) if callable(paper.size_multiple) else int(paper.size_multiple)
    h, w = ex.image_hw(cfg)
    if h % multiple or w % multiple:
        def near(v):
            low = max(multiple, v - v % multiple)
            return f"{low} or {low + multiple}" if v % multiple else str(v)

        raise ConfigError(f"image size {h}x{w}: both sides must be multiples of {multiple} for this "
                          f"row (its network halves the resolution {multiple.bit_length() - 1} times); "
                          f"e.g. {near(h)} for {h}" + (f", {near(w)} for {w}" if w != h else ""))


def _train_one(paper, args, row, cfg, weights, dataset, fold, where: _Progress) -> Path:
    _seed_everything(args.seed)
    if dataset == "auto":
        # name run folders after the dataset found, not "auto"
        from common.data import load_index

        dataset = load_index("auto", args.data_dir).name
        args.dataset = dataset
    tag = dataset if fold is None else f"{dataset}-fold{fold}"
    resume = args.resume
    if args.run_dir:
        run_dir = Path(args.run_dir)
        if resume and not (run_dir / "config.json").exists():
            raise ConfigError(f"--resume: {run_dir} holds no run (config.json missing)")
        if not resume and run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"{run_dir} already holds files; use --resume to continue it or another --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
    elif resume:
        run_dir = records.latest_run_dir(args.runs_root, paper.name, row, tag)
        if run_dir is None:
            print(f"--resume: no earlier run of {row!r} on {tag}; starting a new one.", file=sys.stderr)
            run_dir, resume = records.new_run_dir(args.runs_root, paper.name, row, tag), False
    else:
        run_dir = records.new_run_dir(args.runs_root, paper.name, row, tag)
    where.run_dir = run_dir

    record = {
        "paper": paper.name, "row": row, "config": cfg, "config_class": type(cfg).__name__,
        "dataset": dataset, "data_dir": os.path.abspath(args.data_dir) if args.data_dir else None,
        "split_spec": getattr(cfg, "split", None), "fold": fold, "seed": args.seed,
        "encoder_weights": weights or "none", "limit": args.limit, "synthetic_size": args.synthetic_size,
        "skip_bad": bool(args.skip_bad), "bn_recalibrate": int(args.bn_recalibrate),
        "command": "python -m reproductions.%s.train %s" % (paper.name, " ".join(sys.argv[1:])),
    }
    if resume:
        saved = records.load_json(run_dir / "config.json")
        mine = json.loads(json.dumps(records._jsonable(record)))
        for key in ("row", "config", "dataset", "fold", "seed", "split_spec", "encoder_weights", "limit",
                    "bn_recalibrate"):
            if saved.get(key, _RECORD_DEFAULTS.get(key)) != mine.get(key):
                raise ConfigError(f"--resume: {run_dir} was started with {key}={_describe(saved.get(key), mine.get(key))}; "
                                  f"leave the option out (resume takes the recorded value) or give the same one")
        record = saved
    else:
        record["provenance"] = records.provenance()
        records.atomic_write_json(run_dir / "config.json", record)

    try:
        return _fit_and_score(paper, args, row, cfg, weights, fold, run_dir, record, resume)
    except BaseException:
        # A new run that failed before its first epoch leaves no folder behind.
        if not resume and not (run_dir / "checkpoints").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            where.run_dir = None
        raise


def _describe(saved, mine) -> str:
    """``{'epochs': 8} ... not {'epochs': 7}`` shortened to the fields that differ."""
    if isinstance(saved, dict) and isinstance(mine, dict):
        keys = [k for k in sorted(set(saved) | set(mine)) if saved.get(k) != mine.get(k)]
        return (", ".join(f"{k}={saved.get(k)!r}" for k in keys) + ", not "
                + ", ".join(f"{k}={mine.get(k)!r}" for k in keys))
    return f"{saved!r}, not {mine!r}"


def _fit_and_score(paper, args, row, cfg, weights, fold, run_dir, record, resume) -> Path:
    from common.data import SegmentationBatches
    from common.data.splits import save_split
    from common.training.loop import train_loop

    data = ex.prepare_data(args, cfg, seed=args.seed, fold=fold, fallback=paper.fallback_split)
    record["dataset"] = data.index.name
    if data.skipped and record.get("skipped") != data.skipped:
        record["skipped"] = data.skipped          # --skip-bad: which files were left out, and why
        records.atomic_write_json(run_dir / "config.json", record)
    save_split(run_dir / "split.json", data.split)
    x_train, y_train = data.arrays["train"]
    if paper.offline_expand is not None and getattr(cfg, "augmentation", "") == "offline":
        x_train, y_train = paper.offline_expand(cfg, x_train, y_train, args.seed)
    augment = paper.augment(cfg) if paper.augment is not None else None
    batches = SegmentationBatches(
        x_train, y_train, cfg.batch_size, shuffle=True, seed=args.seed, augment=augment,
        colour_space=getattr(cfg, "colour_space", "rgb"), preprocess=_preprocess_fn(cfg),
        drop_remainder=len(x_train) >= cfg.batch_size)
    parts = _build_training(paper, cfg, weights, steps_per_epoch=len(batches))

    val = data.arrays.get("val")
    bn_batches = int(record.get("bn_recalibrate") or 0)

    def recalibrate():
        if bn_batches:
            from common.training.bn import recalibrate_batchnorm

            recalibrate_batchnorm(parts.predictor, batches, bn_batches)
            parts.step.refresh()        # JAX: the step carries the recomputed statistics on

    def validate():
        if val is None:
            return {}
        recalibrate()
        probs = ex.predict_probabilities(parts.predictor, val[0], cfg, batch_size=max(cfg.batch_size, 8))
        scores = ex.score_predictions(data.samples["val"], probs, val[1], native=False)["mean"]
        return {f"val_{k}": float(v) for k, v in scores.items()}

    print(f"Training {paper.name} row {row!r} on {data.index.name} "
          f"({', '.join(f'{k} {len(v)}' for k, v in data.split.items())}) for {cfg.epochs} epochs at "
          f"{ex.image_hw(cfg)[0]}x{ex.image_hw(cfg)[1]}; run folder {run_dir}", file=sys.stderr)
    history = train_loop(run_dir, step=parts.step, train_batches=batches, epochs=cfg.epochs,
                         validate=validate if val is not None else None, models=parts.models,
                         optimizers=parts.optimizers, best_model=parts.predictor,
                         monitor=paper.monitor if val is not None else "none", resume=resume,
                         progress=ex.show_bars(args), finish=args.finish)

    parts.predictor.load_weights(str(run_dir / "checkpoints" / "best.weights.h5"))
    if val is None:
        recalibrate()                   # with validation, the best weights were kept recalibrated
    scores = {}
    for split_name in ("val", "test"):
        if split_name not in data.arrays or data.arrays[split_name][1] is None:
            continue
        images, masks = data.arrays[split_name]
        probs = ex.predict_probabilities(parts.predictor, images, cfg, batch_size=max(cfg.batch_size, 8))
        result = ex.score_predictions(data.samples[split_name], probs, masks, native=True)
        scores[split_name] = result["mean"]
        records.write_csv(run_dir / f"per_image_{split_name}.csv", result["per_image"])
    metrics = {
        "paper": paper.name, "row": row, "dataset": data.index.name, "fold": fold,
        "split": {k: len(v) for k, v in data.split.items()}, "split_spec": data.spec,
        "epochs": cfg.epochs, "epochs_done": len(history), "stopped_early": len(history) < cfg.epochs,
        "image_size": list(ex.image_hw(cfg)),
        "encoder_weights": weights or "none", "seed": args.seed, "bn_recalibrate": bn_batches,
        "scores": scores,
        "provenance": record.get("provenance", {}),
        "scored_at": "native image size" if data.index.name != "synthetic" else "generated size",
    }
    records.atomic_write_json(run_dir / "metrics.json", metrics)
    _print_scores(scores, run_dir)
    return run_dir


def _build_training(paper, cfg, weights, **context):
    """``paper.build_training(cfg, weights)``, plus those of ``context`` (``steps_per_epoch``: the
    number of optimizer updates per epoch, e.g. for a schedule over the run) it declares."""
    import inspect

    params = inspect.signature(paper.build_training).parameters
    wanted = {k: v for k, v in context.items() if k in params}
    return paper.build_training(cfg, weights, **wanted)


def _preprocess_fn(cfg):
    mode = getattr(cfg, "preprocess", "none")
    if not mode or mode == "none":
        return None
    from common.data import imagenet_preprocess

    return lambda x: imagenet_preprocess(x, mode)


def _print_scores(scores: dict, run_dir: Path) -> None:
    keys = ["jaccard", "thresholded_jaccard", "dice", "accuracy", "sensitivity", "specificity"]
    widths = [max(len(k), 6) + 2 for k in keys]
    print(f"{'split':<6}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths)))
    for split, mean in scores.items():
        print(f"{split:<6}" + "".join(f"{mean.get(k, float('nan')):>{w}.4f}" for k, w in zip(keys, widths)))
    print(f"run folder: {run_dir}")


# -- loading a finished run ---------------------------------------------------------------------

def load_run(paper: ex.SegmentationPaper, run_dir: str | Path):
    """Config, record and the predictor with its best weights, from a run folder."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    weights = run_dir / "checkpoints" / "best.weights.h5"
    if not cfg_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json)")
    if not weights.exists():
        raise ConfigError(f"{run_dir} has no checkpoints/best.weights.h5 yet: train (or --resume) it first")
    record = records.load_json(cfg_path)
    row_cfg = paper.rows.get(record["row"])
    if row_cfg is None:
        raise ConfigError(f"{run_dir}: row {record['row']!r} is not a row of {paper.name}")
    cfg = ex.config_from_dict(type(row_cfg), record["config"])
    model = paper.build_predictor(cfg)
    model.load_weights(str(weights))
    return cfg, record, model


# -- evaluate ------------------------------------------------------------------------------------

def evaluate_main(paper: ex.SegmentationPaper, argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{paper.name}.evaluate",
        description="Score a trained run with the ISIC challenge metrics (ACC, DSC, JSC, SEN, SPE, "
                    "thresholded JSC), each prediction resized to its image's own size. Writes a "
                    "per-image CSV into the run folder.")
    parser.add_argument("--run-dir", required=True, help="the run folder written by train")
    parser.add_argument("--data-dir", default=None,
                        help="dataset root (default: the run's own); another dataset is scored whole")
    parser.add_argument("--dataset", default=None, help="dataset name when --data-dir is given (default auto)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                        help="which part of the run's split to score (falls back to val when the split "
                             "has no test part)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--cache-dir", default=None, help="decoded-array cache folder")
    parser.add_argument("--verbose", action="store_true", help="show the backend's start-up messages")
    args = parser.parse_args(argv)
    from common.quiet import import_backend

    import_backend(verbose=args.verbose)
    try:
        result = _evaluate(paper, args)
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.json:
        print(json.dumps(result))
    else:
        mean = result["mean"]
        print(f"{result['n']} images ({result['dataset']}, {result['split']}):")
        for k, v in mean.items():
            print(f"  {k:<20} {v:.4f}")
        print(f"per-image scores: {result['csv']}")
    return result


def _evaluate(paper, args) -> dict:
    from common.data import load_arrays, load_index
    from common.data.splits import load_split

    cfg, record, model = load_run(paper, args.run_dir)
    run_dir = Path(args.run_dir)
    if args.data_dir:
        index = load_index(args.dataset or "auto", args.data_dir)
        samples, split = [s for s in index.samples if s.mask], "all"
    else:
        index = load_index(record["dataset"], record.get("data_dir"),
                           synthetic_size=record.get("synthetic_size") or getattr(cfg, "synthetic_size", 200),
                           seed=record.get("seed", 0))
        split_ids = load_split(run_dir / "split.json")
        split = args.split
        if split == "test" and "test" not in split_ids:
            split = "val"
        ids = [i for part in split_ids.values() for i in part] if split == "all" else split_ids.get(split, [])
        if not ids:
            raise ConfigError(f"the run's split has no {split!r} part (it has {', '.join(split_ids)})")
        by_id = {s.id: s for s in index.samples}
        samples = [by_id[i] for i in ids]
    images, masks = load_arrays(index, samples, ex.image_hw(cfg), cache_dir=args.cache_dir,
                                progress=not args.json)
    if masks is None:
        raise ConfigError("these images have no ground-truth masks to score against")
    probs = ex.predict_probabilities(model, images, cfg, batch_size=8, progress=not args.json)
    result = ex.score_predictions(samples, probs, masks, native=index.name != "synthetic")
    csv_path = run_dir / f"evaluate_{index.name}_{split}.csv"
    records.write_csv(csv_path, result["per_image"])
    return {"run_dir": str(run_dir), "dataset": index.name, "split": split, "n": len(samples),
            "csv": str(csv_path), **result}


# -- predict -------------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def _collect_images(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                                and "segmentation" not in f.stem and "superpixels" not in f.stem
                                and not f.name.startswith(".")))
        elif p.exists():
            files.append(p)
        else:
            raise ConfigError(f"{p}: no such file or folder")
    if not files:
        raise ConfigError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {', '.join(paths)}")
    return files


def mask_name(image_path: Path) -> str:
    """ISIC submission name: ``ISIC_0012345_segmentation.png`` (other names: ``<stem>_segmentation.png``)."""
    import re

    m = re.search(r"ISIC_\d{7}", image_path.stem)
    return f"{m.group(0) if m else image_path.stem}_segmentation.png"


def predict_main(paper: ex.SegmentationPaper, argv: Sequence[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(
        prog=f"python -m reproductions.{paper.name}.predict",
        description="Write a binary lesion mask (PNG, 0/255, at each input's own size, named as the ISIC "
                    "submission format expects) for every image given.")
    parser.add_argument("--run-dir", required=True, help="the run folder written by train")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="images or folders of images")
    parser.add_argument("--out", required=True, help="output folder for the masks")
    parser.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the row's)")
    parser.add_argument("--verbose", action="store_true", help="show the backend's start-up messages")
    args = parser.parse_args(argv)
    from common.quiet import import_backend

    import_backend(verbose=args.verbose)
    try:
        return _predict(paper, args)
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")


def _predict(paper, args) -> list[Path]:
    from PIL import Image

    from common.data.decode import read_image

    cfg, _, model = load_run(paper, args.run_dir)
    files = _collect_images(args.inputs)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = args.threshold if args.threshold is not None else getattr(cfg, "threshold", 0.5)
    written = []
    from tqdm.auto import tqdm

    for path in tqdm(files, desc="predict", file=sys.stderr, disable=len(files) < 4):
        # the same decode and resize as training (common.data.decode.read_image)
        small, (width, height) = read_image(str(path), ex.image_hw(cfg))
        prob = ex.predict_probabilities(model, small[None], cfg, batch_size=1)[0]
        prob = ex.resize_probability(prob, (height, width))
        mask = np.where(prob >= threshold, 255, 0).astype(np.uint8)
        target = out_dir / mask_name(path)
        buf = __import__("io").BytesIO()
        Image.fromarray(mask, mode="L").save(buf, format="PNG")
        records.atomic_write_bytes(target, buf.getvalue())
        written.append(target)
    print(f"wrote {len(written)} masks to {out_dir}")
    return written
