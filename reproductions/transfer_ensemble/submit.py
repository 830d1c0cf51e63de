"""The paper's challenge submissions for a folder of images (sections II.B.3, II.C.4, II.D, IV.B.1):
``python -m reproductions.transfer_ensemble.submit --lesion L/ensemble.json [--attributes A/ensemble.json] IMAGES --out DIR``.

* Task 1 (``DIR/task1/ISIC_xxxxxxx_segmentation.png``): every fold run of every model of the lesion
  ensemble output ``L`` (``ensemble --task lesion``), each with the five test-time views (the paper's
  25 predictions per model), averaged over the models, then the double threshold with the (T_H, T_L)
  that output chose on the out-of-fold maps (the ensemble's, or the one model's).
* Task 2, with an attribute ensemble output ``A`` (``ensemble --task attributes``): per attribute the
  same averaging over its encoders' fold runs, then the three submissions of section IV.B.1, each
  with the per-attribute (T_H, T_L) chosen on cross-validation: ``DIR/submission1`` the maps multiplied
  by the Task 1 lesion mask, ``DIR/submission2`` without that restriction, ``DIR/submission3`` restricted
  with every T_H lowered by 0.05. Files ``ISIC_xxxxxxx_attribute_<name>.png`` (0/255).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from common.config import ConfigError
from reproductions.transfer_ensemble.ensemble import predictor

SUBMISSIONS = {"submission1": "restricted", "submission2": "plain", "submission3": "lowered"}


def _chosen(scores: dict) -> dict:
    """The ensemble's entry where there is one, else the only model's."""
    if "Ensemble" in scores:
        return scores["Ensemble"]
    if len(scores) != 1:
        raise ConfigError("the ensemble output has several models but no ensemble entry")
    return next(iter(scores.values()))


def submit(lesion_json: Path, images: list[Path], out: Path, attributes_json: Path | None = None,
           tta: str = "five") -> dict:
    """Write the Task 1 masks and, with ``attributes_json``, the three Task 2 submissions."""
    from common.data.decode import read_image
    from common.config import image_hw
    from common.training.tasks import PostProcess, tta_views
    from common.training.tasks.segmentation import resize_probability
    from reproductions.transfer_ensemble.ensemble import resolve_run

    views = tta_views(tta)
    lesion = json.loads(Path(lesion_json).read_text())
    if lesion.get("task", "lesion") != "lesion":
        raise ConfigError(f"{lesion_json} is not a lesion ensemble output (ensemble --task lesion)")
    runs = [resolve_run(e["run"], lesion_json, lesion.get("runs_root")) for rs in lesion["runs"].values() for e in rs]
    first, predict = predictor(runs, views)
    pair = (lesion["ensemble"]["five"] if "ensemble" in lesion else next(iter(lesion["models"].values()))["five"])
    post = PostProcess(kind="double", largest=True, t_high=pair["t_high"], t_low=pair["t_low"])
    written = {"task1": [], **{name: [] for name in SUBMISSIONS}}
    decoded: dict[tuple, dict] = {}

    def small_image(path, size):
        """Each image decoded and resized once per model size (the attribute models share one)."""
        cache = decoded.setdefault(tuple(size), {})
        if path not in cache:
            cache[path] = read_image(str(path), size)
        return cache[path]

    lesion_masks, items = {}, []
    for path in images:
        small, (width, height) = small_image(path, image_hw(first.cfg))
        prob = predict(small[None], batch_size=1)[0]
        items.append((path, (height, width)))
        lesion_masks[path] = post(resize_probability(prob, (height, width)))
        written["task1"] += first.task.write(out / "task1", [items[-1]], prob[None], post)
    if attributes_json is not None:
        result = json.loads(Path(attributes_json).read_text())
        if result.get("task") != "attributes":
            raise ConfigError(f"{attributes_json} is not an attribute ensemble output (ensemble --task attributes)")
        for attribute, entry in result["attributes"].items():
            rows = [r for r in entry["scores"] if r != "Ensemble"]
            run_dirs = [resolve_run(e["run"], attributes_json, result.get("runs_root"))
                        for row in rows for e in result["runs"][row]]
            a_first, a_predict = predictor(run_dirs, views)
            chosen = _chosen(entry["scores"])
            for path, (height, width) in items:
                small, _ = small_image(path, image_hw(a_first.cfg))
                prob = resize_probability(a_predict(small[None], batch_size=1)[0], (height, width))
                for folder, variant in SUBMISSIONS.items():
                    if variant not in chosen:
                        continue          # no lesion restriction was scored: only submission 2
                    cell = chosen[variant]
                    p = prob * lesion_masks[path] if variant != "plain" else prob
                    a_post = PostProcess(kind="double", largest=False, t_high=cell["t_high"], t_low=cell["t_low"])
                    written[folder] += a_first.task.write(out / folder, [(path, (height, width))], p[None], a_post)
    return {k: [str(p) for p in v] for k, v in written.items() if v}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m reproductions.transfer_ensemble.submit",
        description="Write the transfer ensemble's ISIC 2018 submissions for a folder of images: Task 1 lesion "
                    "masks and the three Task 2 attribute submissions, from the outputs of the ensemble command "
                    "(their runs, views and thresholds).")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="images or folders of images")
    parser.add_argument("--lesion", required=True, metavar="ENSEMBLE_JSON",
                        help="ensemble.json of `ensemble --task lesion` (runs and (T_H, T_L))")
    parser.add_argument("--attributes", default=None, metavar="ENSEMBLE_JSON",
                        help="ensemble.json of `ensemble --task attributes` (omit for Task 1 only)")
    parser.add_argument("--tta", default="five", help="test-time views: five (the paper's, default) or none")
    parser.add_argument("--out", required=True, help="output folder (task1/, submission1/, submission2/, submission3/)")
    args = parser.parse_args(argv)
    from common.quiet import import_backend
    from common.training.runs import collect_images

    import_backend(verbose=False)
    try:
        for given in [args.lesion] + ([args.attributes] if args.attributes else []):
            if not Path(given).is_file():
                raise ConfigError(f"{given}: no such file (an ensemble.json written by the ensemble command)")
        images = collect_images(args.inputs)
        written = submit(Path(args.lesion), images, Path(args.out),
                         Path(args.attributes) if args.attributes else None, args.tta)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    for folder, files in written.items():
        print(f"{folder}: {len(files)} files in {Path(args.out) / folder}", file=sys.stderr)
    return written


if __name__ == "__main__":
    main()
