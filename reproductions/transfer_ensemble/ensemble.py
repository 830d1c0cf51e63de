"""Out-of-fold maps, test-time views, ensembling and the double threshold, each switched on in turn
(sections II.B.3, II.D; Table I): ``python -m reproductions.transfer_ensemble.ensemble --dataset isic2018``.

For every lesion row with a complete group of fold runs (``--fold all``: each image of the dataset is
in exactly one run's held-out part), each fold run predicts its held-out images once, with the image
as it is and with the paper's five test-time views; the maps are kept in the run folder
(``oof_maps.npz``, float16, written atomically) and reused. Then, on the out-of-fold maps:

* per model: one view at threshold 0.5; five views at 0.5; five views with the double threshold,
  (T_H, T_L) chosen by grid search (section II.B.3's ranges) maximising thresholded Jaccard on the
  same out-of-fold maps, as the paper chose its Table I thresholds;
* the ensemble (the mean of the models' maps), the same three ways.

Scores follow the challenge (each map resized to its image's own size, thresholded Jaccard, means
over images); the grid search runs at the model's resolution. Rows whose folds are not all finished
are reported and left out, so re-running this after more runs finish picks them up. The result is
written to ``--out`` (default ``runs/transfer_ensemble/ensemble/<dataset>-<stamp>/``) as
``ensemble.json`` and ``ensemble.md``, with every run it used.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import sys
from pathlib import Path

import numpy as np

from common.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
OOF_FILE = "oof_maps.npz"
METRICS = ("thresholded_jaccard", "jaccard", "dice", "accuracy", "sensitivity", "specificity")


# -- fold groups -----------------------------------------------------------------------------------

def fold_groups(runs_root: str | Path, dataset: str, rows=None) -> tuple[dict[str, list[Path]], list[str]]:
    """Per row (default: the lesion rows), the newest complete group of fold runs on ``dataset``; and
    notes on rows left out.

    A group is the runs of one row with the same resolved config, split, seed and encoder weights; it
    is complete when it has a finished run for every fold of its ``kfold:K`` split.
    """
    from common.data.splits import fold_count
    from common.training.records import find_runs, load_json
    from reproductions.transfer_ensemble.configs import LESION_ROWS, ROWS

    wanted = list(rows) if rows else list(LESION_ROWS)
    unknown = [r for r in wanted if r not in ROWS]
    if unknown:
        raise ConfigError(f"--rows {', '.join(unknown)}: the rows are {', '.join(ROWS)}")
    groups: dict[tuple, dict[int, Path]] = {}
    for run in find_runs(runs_root, "transfer_ensemble"):
        rec = load_json(run / "config.json")
        if rec.get("row") not in wanted or rec.get("dataset") != dataset or rec.get("fold") is None:
            continue
        if (rec.get("config") or {}).get("attribute") != ROWS[rec["row"]].attribute:
            continue        # a row run for another task (--set attribute=...): not this row's experiment
        key = (rec["row"], json.dumps(rec.get("config"), sort_keys=True), rec.get("split_spec"), rec.get("seed"),
               rec.get("encoder_weights"), rec.get("limit"))
        groups.setdefault(key, {})[int(rec["fold"])] = run   # find_runs is sorted: the newest fold run wins
    chosen, notes = {}, []
    for row in wanted:
        candidates = []
        for key, folds in groups.items():
            if key[0] != row:
                continue
            spec = key[2] or ""
            k = fold_count(spec) or 0
            newest = max(p.name for p in folds.values())
            candidates.append((len(folds) == k and k > 0, newest, k, folds))
        complete = sorted([c for c in candidates if c[0]], key=lambda c: c[1])
        if complete:
            folds = complete[-1][3]
            chosen[row] = [folds[f] for f in sorted(folds)]
        elif candidates:
            best = max(candidates, key=lambda c: (len(c[3]), c[1]))
            notes.append(f"{row}: {len(best[3])} of {best[2]} folds finished; left out")
        else:
            notes.append(f"{row}: no fold run on {dataset}")
    return chosen, notes


# -- out-of-fold maps ------------------------------------------------------------------------------

def _views():
    from reproductions.transfer_ensemble.tta import FIVE_VIEWS

    return FIVE_VIEWS


def predict_views(model, cfg, images: np.ndarray, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The image as it is, and the mean over the five test-time views: two maps [N, H, W] per image."""
    from common.training.inference import to_model_input

    identity, five = [], []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size])
        total = None
        for view in _views():
            out = np.asarray(model.predict_on_batch(to_model_input(np.ascontiguousarray(view.forward(batch)), cfg)))
            out = np.asarray(view.inverse(out[..., 0]), np.float32)
            if view.name == "identity":
                identity.append(out)
            total = out if total is None else total + out
        five.append(total / np.float32(len(_views())))
    return np.concatenate(identity), np.concatenate(five)


def oof_maps(run_dir: Path, cache_dir=None, refresh: bool = False) -> dict:
    """A fold run's held-out ids with their maps (one view, five views), from ``oof_maps.npz`` or made
    and saved there (float16, atomic)."""
    from common.data import load_arrays
    from common.data.splits import load_split
    from common.training.runs import open_run, run_index
    from common.config import image_hw
    from common.training.records import atomic_write_bytes
    from reproductions.transfer_ensemble.paper import PAPER

    split = load_split(run_dir / "split.json")
    ids = list(split.get("test", []))
    if not ids:
        raise ConfigError(f"{run_dir}: its split has no held-out (test) part")
    path = run_dir / OOF_FILE
    weights = run_dir / "checkpoints" / "best.weights.h5"
    stale = weights.exists() and path.exists() and path.stat().st_mtime < weights.stat().st_mtime
    if path.exists() and not refresh and not stale:        # a resumed run's newer checkpoint predicts again
        with np.load(path) as data:
            if list(data["ids"]) == ids:
                return {"ids": ids, "identity": data["identity"].astype(np.float32),
                        "five": data["five"].astype(np.float32)}
    run = open_run(PAPER, run_dir)
    index = run_index(run)
    by_id = {s.id: s for s in index.samples}
    images, _ = load_arrays(index, [by_id[i] for i in ids], image_hw(run.cfg), cache_dir=cache_dir, progress=False)
    identity, five = (m.astype(np.float16) for m in predict_views(run.model, run.cfg, images))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, ids=np.asarray(ids), identity=identity, five=five)
    atomic_write_bytes(path, buffer.getvalue())
    # the stored float16 values, so a first pass and a later one that reads the file agree
    return {"ids": ids, "identity": identity.astype(np.float32), "five": five.astype(np.float32)}


# -- scoring ---------------------------------------------------------------------------------------

def _score(task, samples, maps, targets, post):
    scored = task.score(samples, maps, targets, native=True, post=post)
    return {k: float(scored.mean[k]) for k in METRICS if k in scored.mean}


def evaluate_maps(task, samples, targets, maps: np.ndarray) -> dict:
    """Threshold 0.5, and the double threshold with (T_H, T_L) from the grid search on these maps:
    {"threshold": scores, "double": scores, "t_high", "t_low", "grid": [[score per T_L] per T_H]}."""
    from common.postprocess import grid_search_thresholds
    from common.training.tasks import PostProcess

    plain = _score(task, samples, maps, targets, PostProcess(kind="threshold", threshold=0.5))
    found = grid_search_thresholds(list(maps), [targets[i, ..., 0] for i in range(len(maps))],
                                   largest=task.largest, metric=task.search_metric)
    tuned = PostProcess(kind="double", largest=task.largest, t_high=found.t_high, t_low=found.t_low,
                        chosen_on=f"the same out-of-fold maps ({len(samples)} images)")
    double = _score(task, samples, maps, targets, tuned)
    return {"threshold": plain, "double": double, "t_high": found.t_high, "t_low": found.t_low,
            "grid": np.round(found.grid, 6).tolist(), "th_range": list(found.th_range),
            "tl_range": list(found.tl_range), "search_metric": found.metric}


def _relative(run_dir: Path) -> str:
    """A run folder as ``transfer_ensemble/<row>/<run>`` (relative to its runs root): no machine paths."""
    parts = Path(run_dir).resolve().parts
    return "/".join(parts[parts.index("transfer_ensemble"):]) if "transfer_ensemble" in parts else Path(run_dir).name


def predictor(run_dirs: list[Path], views):
    """The first run and one predict function over the runs' models (with ``views``)."""
    from common.training.runs import ensemble_predictor, open_run
    from reproductions.transfer_ensemble.paper import PAPER

    runs = [open_run(PAPER, r) for r in run_dirs]
    return runs[0], ensemble_predictor(runs, views, runs[0].task)


def resolve_run(entry: str, ensemble_json: str | Path | None = None, runs_root: str | None = None) -> Path:
    """The folder of a run named in an ensemble output: under the runs root it recorded (local outputs
    only), beside the output, or under the default runs root (``$SLR_RUNS_DIR`` or the checkout's ``runs/``)."""
    from common.training.records import default_runs_root

    candidates = [Path(entry)] + ([Path(runs_root) / entry] if runs_root else [])
    if ensemble_json is not None and len(Path(ensemble_json).resolve().parents) > 3:
        candidates.append(Path(ensemble_json).resolve().parents[3] / entry)
    candidates.append(default_runs_root() / entry)
    for path in candidates:
        if (path / "config.json").exists():
            return path
    raise FileNotFoundError(f"run {entry} of {ensemble_json or 'the ensemble'} is not on this machine "
                            "(committed records hold no maps or weights)")


def collect_maps(groups: dict[str, list[Path]], cache_dir=None, refresh: bool = False, progress: bool = True):
    """Every group's out-of-fold maps, sorted by image id, with the samples, their targets (at the
    maps' size) and the rows' task: ``(per_model, provenance, samples, targets, task)``."""
    from common.data import load_arrays
    from common.training.runs import open_run, run_index
    from common.config import image_hw
    from common.training.records import load_json
    from reproductions.transfer_ensemble.paper import PAPER

    per_model, provenance = {}, {}
    samples = targets = task = None
    base_ids = None
    for row, runs in groups.items():
        ids, identity, five = [], [], []
        for run_dir in runs:
            if progress:
                print(f"{row}: out-of-fold maps of {run_dir.name}", file=sys.stderr)
            maps = oof_maps(run_dir, cache_dir, refresh)
            ids += maps["ids"]
            identity.append(maps["identity"])
            five.append(maps["five"])
        order = np.argsort(ids)
        ids = [ids[i] for i in order]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"{row}: the fold runs' held-out parts overlap; they are not one cross-validation")
        per_model[row] = {"ids": ids, "identity": np.concatenate(identity)[order], "five": np.concatenate(five)[order]}
        provenance[row] = [{"run": _relative(r), "commit": (load_json(r / "config.json").get("provenance", {})
                                                             .get("git", {}).get("commit"))} for r in runs]
        if samples is None:
            run = open_run(PAPER, runs[0])
            task, index = run.task, run_index(run)
            by_id = {s.id: s for s in index.samples}
            samples = [by_id[i] for i in ids]
            _, masks = load_arrays(index, samples, image_hw(run.cfg), cache_dir=cache_dir, progress=False)
            targets = task.targets(masks, samples)
            base_ids = ids
        elif ids != base_ids:
            raise ConfigError(f"{row}: its folds hold other images than {next(iter(groups))}'s; an ensemble "
                              "needs the same images")
    if samples is None:
        raise ConfigError("no complete fold group to ensemble")
    for row, maps in per_model.items():
        if maps["five"].shape[1:] != targets.shape[1:3]:
            raise ConfigError(f"{row}: maps of {maps['five'].shape[1:]} against masks of {targets.shape[1:3]}; "
                              "ensemble runs made at one image size")
    return per_model, provenance, samples, targets, task


def run_ensemble(groups: dict[str, list[Path]], cache_dir=None, refresh: bool = False, progress: bool = True) -> dict:
    """Out-of-fold maps of every group, each model and the ensemble scored with and without the views
    and the double threshold."""
    per_model, provenance, samples, targets, task = collect_maps(groups, cache_dir, refresh, progress)
    result = {"images": len(samples), "models": {}, "runs": provenance}
    for row, maps in per_model.items():
        result["models"][row] = {view: evaluate_maps(task, samples, targets, maps[view]) for view in ("identity", "five")}
    if len(per_model) > 1:
        result["ensemble"] = {view: evaluate_maps(task, samples, targets,
                                                  np.mean([m[view] for m in per_model.values()], axis=0))
                              for view in ("identity", "five")}
    return result


# -- attributes (section II.C.4, the Task 2 submissions) --------------------------------------------

ATTRIBUTE_VARIANTS = {
    "plain": "submission 2: no lesion restriction",
    "restricted": "submission 1: maps multiplied by the lesion mask",
    "lowered": "submission 3: restricted, every T_H lowered by 0.05",
}


def lesion_masks(lesion_result_maps: np.ndarray, t_high: float, t_low: float, shape) -> np.ndarray:
    """Binary lesion masks [N, *shape] from lesion probability maps: the double threshold, then a
    nearest-neighbour resize to the attribute maps' size."""
    from common.postprocess import double_threshold

    out = np.zeros((len(lesion_result_maps), *shape), np.float32)
    for i, prob in enumerate(lesion_result_maps):
        mask = double_threshold(prob, t_high, t_low, largest=True)
        rows = (np.arange(shape[0]) * mask.shape[0] // shape[0])[:, None]
        cols = (np.arange(shape[1]) * mask.shape[1] // shape[1])[None, :]
        out[i] = mask[rows, cols]
    return out


def score_attribute(task, samples, targets, maps: np.ndarray, lesion: np.ndarray | None) -> dict:
    """Section II.C.4 on one attribute's maps: (T_H, T_L) by grid search (no largest-object step,
    Jaccard over all pixels), without the lesion restriction and, when lesion masks are given, with
    it and with every T_H lowered by 0.05 (the three Task 2 submissions). Each: Jaccard, Dice, pair."""
    from common.postprocess import grid_search_thresholds
    from common.training.tasks import PostProcess

    truths = [targets[i, ..., 0] for i in range(len(maps))]
    out = {}
    variants = [("plain", maps)] + ([("restricted", maps * lesion)] if lesion is not None else [])
    for name, m in variants:
        found = grid_search_thresholds(list(m), truths, largest=False, metric="dataset_jaccard")
        post = PostProcess(kind="double", largest=False, t_high=found.t_high, t_low=found.t_low)
        scored = task.score(samples, m, targets, native=True, post=post)
        out[name] = {"jaccard": float(scored.mean["jaccard"]), "dice": float(scored.mean["dice"]),
                     "t_high": found.t_high, "t_low": found.t_low}
        if name == "restricted":
            lowered = PostProcess(kind="double", largest=False, t_high=round(found.t_high - 0.05, 6), t_low=found.t_low)
            scored = task.score(samples, m, targets, native=True, post=lowered)
            out["lowered"] = {"jaccard": float(scored.mean["jaccard"]), "dice": float(scored.mean["dice"]),
                              "t_high": lowered.t_high, "t_low": found.t_low}
    return out


def run_attribute_ensemble(groups: dict[str, list[Path]], lesion_groups: dict[str, list[Path]] | None = None,
                           cache_dir=None, refresh: bool = False, progress: bool = True) -> dict:
    """Per attribute, each encoder's out-of-fold maps (five views) and their ensemble scored as the three
    Task 2 submissions; the lesion masks come from the lesion rows' ensemble (its double threshold
    chosen on its own out-of-fold maps) where ``lesion_groups`` are given; averages over attributes."""
    from reproductions.transfer_ensemble.configs import ROWS

    by_attribute: dict[str, dict[str, list[Path]]] = {}
    for row, runs in groups.items():
        by_attribute.setdefault(ROWS[row].attribute, {})[row] = runs
    lesion_by_id, lesion_note = None, "no lesion rows: submissions 1 and 3 not scored"
    if lesion_groups:
        per_model, _, l_samples, l_targets, l_task = collect_maps(lesion_groups, cache_dir, refresh, progress)
        mean = np.mean([m["five"] for m in per_model.values()], axis=0)
        pair = evaluate_maps(l_task, l_samples, l_targets, mean)
        lesion_by_id = {"ids": [s.id for s in l_samples], "maps": mean, "t_high": pair["t_high"], "t_low": pair["t_low"]}
        lesion_note = (f"lesion masks: the ensemble of {', '.join(per_model)} (five views), double threshold "
                       f"({pair['t_high']:g}, {pair['t_low']:g})")
    result = {"task": "attributes", "attributes": {}, "runs": {}, "lesion": lesion_note}
    for attribute, rows in sorted(by_attribute.items()):
        per_model, provenance, samples, targets, task = collect_maps(rows, cache_dir, refresh, progress)
        result["runs"].update(provenance)
        lesion = None
        if lesion_by_id is not None:
            where = {i: k for k, i in enumerate(lesion_by_id["ids"])}
            missing = [s.id for s in samples if s.id not in where]
            if missing:
                raise ConfigError(f"{attribute}: {len(missing)} images have no lesion map (e.g. {missing[0]}); "
                                  "the lesion folds must cover the attribute images")
            picked = lesion_by_id["maps"][[where[s.id] for s in samples]]
            lesion = lesion_masks(picked, lesion_by_id["t_high"], lesion_by_id["t_low"], targets.shape[1:3])
        entry = {row: score_attribute(task, samples, targets, m["five"], lesion) for row, m in per_model.items()}
        if len(per_model) > 1:
            entry["Ensemble"] = score_attribute(task, samples, targets,
                                                np.mean([m["five"] for m in per_model.values()], axis=0), lesion)
        result["attributes"][attribute] = {"images": len(samples), "scores": entry}
    averages: dict[str, dict] = {}
    names = {name for a in result["attributes"].values() for name in a["scores"]}
    for name in sorted(names):
        for variant in ATTRIBUTE_VARIANTS:
            cells = [a["scores"][name][variant] for a in result["attributes"].values()
                     if name in a["scores"] and variant in a["scores"][name]]
            if len(cells) == len(result["attributes"]) and cells:
                averages.setdefault(name, {})[variant] = {k: float(np.mean([c[k] for c in cells]))
                                                          for k in ("jaccard", "dice")}
    result["average"] = averages
    return result


def attribute_report(result: dict) -> str:
    """The attribute result as Table III: Jaccard / Dice per attribute and their average, per model
    and submission variant. Values in %."""
    attributes = list(result["attributes"])
    head = ["model", "submission"] + [f"{a} JSC / DSC" for a in attributes] + ["average JSC / DSC"]
    lines = [f"Out-of-fold predictions (five views), Jaccard and Dice over all pixels per attribute; "
             f"{result['lesion']}. Values in %.", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    names = sorted({n for a in result["attributes"].values() for n in a["scores"]}, key=lambda n: (n == "Ensemble", n))
    for name in names:
        for variant, label in ATTRIBUTE_VARIANTS.items():
            cells = []
            for a in attributes:
                c = result["attributes"][a]["scores"].get(name, {}).get(variant)
                cells.append("—" if c is None else f"{100 * c['jaccard']:.2f} / {100 * c['dice']:.2f}")
            avg = result["average"].get(name, {}).get(variant)
            if all(c == "—" for c in cells):
                continue
            cells.append("—" if avg is None else f"{100 * avg['jaccard']:.2f} / {100 * avg['dice']:.2f}")
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- Table II: other images scored with the cross-validation thresholds -----------------------------

def score_other_images(groups: dict[str, list[Path]], result: dict, data_dir: str, dataset: str = "auto",
                       cache_dir=None, progress: bool = True) -> dict:
    """Table II's protocol: every image with a lesion mask under ``data_dir`` (the 100 ISIC 2018
    validation images), predicted by every fold run of each model with the five views (25 maps per
    model), the models averaged for the ensemble, and each scored with the (T_H, T_L) that ``result``
    chose on the out-of-fold maps (never tuned on these images)."""
    from common.data import load_arrays, load_index
    from common.config import image_hw
    from common.training.tasks import PostProcess

    from reproductions.transfer_ensemble.tta import FIVE_VIEWS

    index = load_index(dataset, data_dir)
    samples = [s for s in index.samples if s.mask]
    if not samples:
        raise ConfigError(f"{data_dir}: no images with lesion masks to score")
    out = {"dataset": index.name, "images": len(samples), "models": {}}
    means, arrays = [], {}
    for row, runs in groups.items():
        first, predict = predictor(list(runs), FIVE_VIEWS)
        size = image_hw(first.cfg)
        if size not in arrays:           # decoded once per image size, whatever the number of models
            arrays[size] = load_arrays(index, samples, size, cache_dir=cache_dir, progress=progress)
        images, masks = arrays[size]
        maps = predict(images, batch_size=8, progress=progress)
        means.append(maps)
        pair = result["models"][row]["five"]
        post = PostProcess(kind="double", largest=True, t_high=pair["t_high"], t_low=pair["t_low"])
        targets = first.task.targets(masks, samples)
        out["models"][row] = {**_score(first.task, samples, maps, targets, post),
                              "t_high": pair["t_high"], "t_low": pair["t_low"]}
    if len(means) > 1:
        pair = result["ensemble"]["five"]
        post = PostProcess(kind="double", largest=True, t_high=pair["t_high"], t_low=pair["t_low"])
        out["ensemble"] = {**_score(first.task, samples, np.mean(means, axis=0), targets, post),
                           "t_high": pair["t_high"], "t_low": pair["t_low"]}
    return out


def other_images_report(scored: dict) -> str:
    lines = [f"{scored['images']} images of {scored['dataset']}, each model's five fold runs with the five views "
             "(25 maps per model), thresholds chosen on cross-validation. Values in %.", "",
             "| model | JSC_th | JSC | DSC | (T_H, T_L) |", "|---|---|---|---|---|"]
    entries = list(scored["models"].items()) + ([("Ensemble", scored["ensemble"])] if "ensemble" in scored else [])
    for name, s in entries:
        lines.append(f"| {name} | {100 * s['thresholded_jaccard']:.2f} | {100 * s['jaccard']:.2f} | "
                     f"{100 * s['dice']:.2f} | ({s['t_high']:g}, {s['t_low']:g}) |")
    return "\n".join(lines) + "\n"


def report(result: dict) -> str:
    """The result as a Markdown table: thresholded Jaccard (and Jaccard) per step."""
    lines = [f"Out-of-fold predictions of {result['images']} images. Threshold 0.5, or the double threshold "
             "with (T_H, T_L) chosen on the same out-of-fold maps (as the paper's Table I). Values in %.", "",
             "| model | views | post-processing | JSC_th | JSC | DSC | (T_H, T_L) |", "|---|---|---|---|---|---|---|"]
    entries = list(result["models"].items()) + ([("Ensemble (mean of the models)", result["ensemble"])]
                                                 if "ensemble" in result else [])
    for name, by_view in entries:
        for view, label in (("identity", "1 (the image)"), ("five", "5 (the paper's)")):
            r = by_view[view]
            for post in ("threshold", "double"):
                s = r[post]
                pair = f"({r['t_high']:g}, {r['t_low']:g})" if post == "double" else "—"
                lines.append(f"| {name} | {label} | {'threshold 0.5' if post == 'threshold' else 'double threshold'} "
                             f"| {100 * s['thresholded_jaccard']:.2f} | {100 * s['jaccard']:.2f} | "
                             f"{100 * s['dice']:.2f} | {pair} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    from common.training.records import RUNS_ROOT_HELP, default_runs_root

    parser = argparse.ArgumentParser(
        prog="python -m reproductions.transfer_ensemble.ensemble",
        description="Score each lesion model's out-of-fold maps with and without the paper's five test-time "
                    "views and double threshold, and their ensemble (Table I's protocol); the maps are saved in "
                    "each fold run (oof_maps.npz) and reused.")
    parser.add_argument("--task", choices=["lesion", "attributes"], default="lesion",
                        help="lesion rows (Table I) or attribute rows (Table III, the three Task 2 submissions)")
    parser.add_argument("--dataset", default=None,
                        help="the dataset the fold runs trained on (default isic2018; attributes: isic2018_task2)")
    parser.add_argument("--lesion-dataset", default="isic2018",
                        help="attributes: where the lesion rows' fold runs (the lesion masks) trained (default isic2018)")
    parser.add_argument("--rows", nargs="+", default=None, help="lesion rows to use (default: every one with all folds)")
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="where the run folders are (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--out", default=None, help="output folder (default runs/transfer_ensemble/ensemble/<dataset>-<stamp>)")
    parser.add_argument("--score-dir", default=None, metavar="DATA_DIR",
                        help="lesions: also score the images with masks under this folder (Table II: the ISIC 2018 "
                             "validation images) with the thresholds chosen on cross-validation")
    parser.add_argument("--score-dataset", default="auto",
                        help="the dataset name under --score-dir when several are found there (e.g. isic2018)")
    parser.add_argument("--refresh", action="store_true", help="predict again even where oof_maps.npz exists")
    parser.add_argument("--cache-dir", default=None, help="decoded-array cache folder")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    from common.quiet import import_backend

    import_backend(verbose=False)
    args.dataset = args.dataset or ("isic2018" if args.task == "lesion" else "isic2018_task2")
    try:
        if args.task == "lesion":
            groups, notes = fold_groups(args.runs_root, args.dataset, args.rows)
        else:
            from reproductions.transfer_ensemble.configs import ROWS

            rows = args.rows or [r for r, c in ROWS.items() if c.attribute is not None]
            groups, notes = fold_groups(args.runs_root, args.dataset, rows)
            notes = [n for n in notes if "no fold run" not in n]     # 15 rows: name only the partial ones
        for note in notes:
            print(note, file=sys.stderr)
        if not groups:
            raise ConfigError(f"no {args.task} row has all its fold runs on {args.dataset} under {args.runs_root}; "
                              "train them with the commands of `python -m reproductions.transfer_ensemble.plan`")
        if args.task == "lesion":
            result = run_ensemble(groups, args.cache_dir, args.refresh, progress=not args.json)
            if args.score_dir:
                result["other_images"] = score_other_images(groups, result, args.score_dir, args.score_dataset,
                                                            cache_dir=args.cache_dir, progress=not args.json)
        else:
            if args.score_dir:
                raise ConfigError("--score-dir scores lesion masks: use it with --task lesion")
            lesion_groups, _ = fold_groups(args.runs_root, args.lesion_dataset)
            result = run_attribute_ensemble(groups, lesion_groups or None, args.cache_dir, args.refresh,
                                            progress=not args.json)
    except (ConfigError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    except Exception as exc:  # noqa: BLE001 - a data folder that cannot be read: its own message
        if type(exc).__name__ != "DataError":
            raise
        parser.exit(1, f"error: {exc}\n")
    from common.training.records import atomic_write_json, atomic_write_text, provenance

    result["dataset"] = args.dataset
    result["command"] = "python -m reproductions.transfer_ensemble.ensemble " + " ".join(sys.argv[1:] if argv is None else argv)
    result["provenance"] = provenance()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    result["stamp"] = stamp
    result["runs_root"] = str(Path(args.runs_root).resolve())   # local only: the table's kept copy drops it
    out = Path(args.out) if args.out else Path(args.runs_root) / "transfer_ensemble" / "ensemble" / f"{args.dataset}-{stamp}"
    result["task"] = args.task
    atomic_write_json(out / "ensemble.json", result)
    md = report(result) if args.task == "lesion" else attribute_report(result)
    if "other_images" in result:
        md += "\n" + other_images_report(result["other_images"])
    atomic_write_text(out / "ensemble.md", md)
    if args.json:
        print(json.dumps(result, default=float))
    else:
        print(md + f"\nwritten to {out}")
    return result


if __name__ == "__main__":
    main()
