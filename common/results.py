"""Results tables generated from run records: the paper's number beside ours, never in its place.

``write_tables`` collects the finished runs of a paper (``runs/<paper>/**/metrics.json`` plus the
records already kept under ``results/<paper>/records/``), copies the small record files of every run
it reports into ``results/<paper>/records/<run>/`` (so a fresh clone regenerates the same tables),
and writes one Markdown and one CSV file per paper table. A row that has no run on the table's
dataset says "not run"; runs on other data (PH2, synthetic smoke runs) are listed separately,
labelled with their dataset, and never placed in a column that compares with the paper.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from common.training.records import atomic_write_text, find_runs, load_json, write_csv

RECORD_FILES = ("config.json", "metrics.json", "history.csv", "split.json", "source.patch")
from common.metrics.segmentation import SEGMENTATION_KEYS as SEG_METRICS  # noqa: E402 - the one list
SHORT = {"jaccard": "JSC", "thresholded_jaccard": "JSC_th", "dice": "DSC", "accuracy": "ACC",
         "sensitivity": "SEN", "specificity": "SPE", "balanced_accuracy": "BACC"}


@dataclass
class RunResult:
    """One reported number set: a single run, or the mean ± std of k-fold runs."""

    row: str
    dataset: str
    split: str
    scores: dict[str, float]
    std: dict[str, float] = field(default_factory=dict)
    epochs: Any = None
    image_size: Any = None
    weights: str = "none"
    hardware: str = "?"
    backend: str = "?"
    commit: str = "?"
    runs: list[str] = field(default_factory=list)
    options: str = ""          # runner options that change numbers (BN recalibration, devices, precision)
    data_folder: str = ""      # the data folder's name (e.g. a 256x256 copy of ISIC 2017), when recorded

    def provenance(self) -> str:
        size = "x".join(map(str, self.image_size)) if isinstance(self.image_size, (list, tuple)) else self.image_size
        commit = self.commit or "?"
        options = f", {self.options}" if self.options else ""
        folder = f" (data folder {self.data_folder})" if self.data_folder else ""
        return (f"{self.dataset}{folder}, split {self.split}, {self.epochs} epochs, {size}, weights {self.weights}"
                f"{options}, {self.backend} on {self.hardware}, commit {commit}; run {', '.join(self.runs)}")


def data_folder(rec: dict) -> str:
    """The name of the folder a run's data came from ("" for the synthetic data): the cells say
    which copy of a dataset ran (a 256x256 copy of ISIC 2017 is not the challenge's images)."""
    folder = (rec.get("config") or {}).get("data_dir")
    if not folder:
        return ""
    n = rec.get("images")
    return Path(str(folder)).name + (f": {n:,} images in the split" if n else "")


def split_size(run_dir: Path) -> int | None:
    """How many images a run's ``split.json`` holds (every part; the balanced experiment's subset, a
    ``--limit``), or None without one."""
    path = Path(run_dir) / "split.json"
    if not path.is_file():
        return None
    split = load_json(path)
    parts = split.get("split", split) if isinstance(split, dict) else {}
    ids = {i for v in parts.values() if isinstance(v, list) for i in v if isinstance(i, str)}
    return len(ids) or None


def run_options(rec: dict) -> str:
    """The runner options of a run that change its numbers, in words ("" for none): BatchNorm
    recalibration, several devices, mixed precision, XLA, gradient accumulation."""
    cfg = rec.get("config", {})
    parts = []
    bn = int(cfg.get("bn_recalibrate") or rec.get("metrics", {}).get("bn_recalibrate") or 0)
    if bn:
        parts.append(f"BatchNorm recalibrated from {bn} batches")
    scale = cfg.get("scale") or {}
    if int(scale.get("devices", 1) or 1) > 1:
        parts.append(f"{scale['devices']} devices ({scale.get('strategy', '?')})")
    precision = cfg.get("precision") or scale.get("precision")
    if precision and precision != "float32":
        parts.append(precision)
    if scale.get("jit_requested"):
        parts.append("XLA")
    if cfg.get("exact") is False:
        parts.append("--fast (not bit-exact)")
    accumulate = int(cfg.get("accumulate") or 1)
    if accumulate > 1:
        batch = (cfg.get("config") or {}).get("batch_size")
        parts.append(f"each batch{f' of {batch}' if batch else ''} as {accumulate} accumulated micro-batches "
                     "(BatchNorm over micro-batches)")
    return ", ".join(parts)


def _record(run_dir: Path) -> dict:
    cfg = load_json(run_dir / "config.json")
    met = load_json(run_dir / "metrics.json")
    return {"dir": run_dir, "config": cfg, "metrics": met, "images": split_size(run_dir)}


def collect(paper: str, runs_root: str | Path, results_dir: str | Path) -> list[dict]:
    """Every finished run of ``paper`` in ``runs_root`` and in the kept records (deduplicated),
    the runs of the comparison suites included (``runs_root/compare/`` and their kept records in
    ``results/compare/records/``): a suite's run fills its paper's tables under the same rules."""
    kept = Path(results_dir) / "records"
    seen: dict[str, dict] = {}
    for run_dir in list(find_runs(runs_root, paper)) + sorted(p.parent for p in kept.glob("*/metrics.json")):
        name = _run_name(run_dir, paper)
        if name not in seen:
            seen[name] = _record(run_dir) | {"name": name}
    found = {_identity(r["config"]) for r in seen.values()} - {None}
    suites = [Path(runs_root) / "compare", Path(results_dir).parent / "compare" / "records"]
    for base in suites:
        for metrics_file in sorted(base.glob("*/*/metrics.json")) + sorted(base.glob("*/*/fold*/metrics.json")):
            run_dir = metrics_file.parent
            if not (run_dir / "config.json").exists():
                continue
            config = load_json(run_dir / "config.json")
            identity = _identity(config)
            if config.get("paper") != paper or (identity is not None and identity in found):
                continue                # another paper's, or a copy of a run already listed
            name = "compare__" + "__".join(run_dir.relative_to(base).parts)
            if name not in seen:
                seen[name] = _record(run_dir) | {"name": name}
                found.add(identity)
    return list(seen.values())


def _identity(config: Mapping) -> tuple | None:
    """One run however many copies of its record exist: its row, fold and the moment it was created."""
    created = (config.get("provenance") or {}).get("created")
    return (config.get("row"), config.get("fold"), created) if created else None


def _run_name(run_dir: Path, paper: str) -> str:
    parts = run_dir.parts
    if "records" in parts:
        return run_dir.name
    try:
        i = len(parts) - 1 - parts[::-1].index(paper)
        return "__".join(parts[i + 1:])
    except ValueError:
        return run_dir.name


#: What a table names in a run's cell, so a run may differ from its row there and still fill it.
CELL_FIELDS = ("epochs", "image_size", "split", "dataset", "encoder_weights")
_MISSING = "(not recorded)"


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def config_differences(record: Mapping, row_config: Any) -> dict[str, tuple]:
    """``field -> (row's value, run's value)`` for every field where a run's resolved config differs
    from a paper row's, apart from :data:`CELL_FIELDS` and the fields the run did not read
    (``unused_fields`` of its config.json: they took no effect)."""
    ran = dict(_plain(getattr(type(row_config), "RECORD_DEFAULTS", {})))   # what older records ran with
    ran.update(record.get("config", {}) or {})
    if record.get("batch_size_ran") is not None:        # the row's batch did not fit the data: what ran
        ran["batch_size"] = record["batch_size_ran"]
    unused = set(record.get("unused_fields") or ())
    want = _plain(dataclasses.asdict(row_config))
    return {k: (v, ran.get(k, _MISSING)) for k, v in want.items()
            if k not in CELL_FIELDS and k not in unused and ran.get(k, _MISSING) != v}


def describe_differences(diffs: Mapping[str, tuple]) -> str:
    return "; ".join(f"{k} {_show(a)} → {_show(b)}" for k, (a, b) in diffs.items())


def _show(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "()"
    return str(value)


def _settings(rec: dict) -> tuple[Any, Any, str]:
    """(epochs planned, image size [H, W], encoder weights) from the run's config.json, the one record
    of what was set (metrics.json only for records written before config.json held them all)."""
    cfg, met = rec["config"], rec["metrics"]
    ran = cfg.get("config") or {}
    size = ran.get("image_size", met.get("image_size"))
    if isinstance(size, int):
        size = [size, size]
    return (ran.get("epochs", met.get("epochs")), size,
            cfg.get("encoder_weights") or met.get("encoder_weights") or "none")


def _epochs(rec: dict):
    planned, done = _settings(rec)[0], rec["metrics"].get("epochs_done")
    if done is None:
        return planned
    return done if planned in (None, done) else f"{done} of {planned} planned"


def _fills(rec: dict, row_config: Any) -> bool:
    return not config_differences(rec["config"], row_config)


def rows_filled(rec: dict, row_configs: Mapping[str, Any]) -> list[str]:
    """The paper rows a run fills: those whose config equals the run's apart from the cell fields,
    and of those the ones closest to it in the cell fields (a 64x64 run fills "SLSNet 64", not
    "SLSNet 128"; rows that are the same experiment fill together)."""
    ran = rec["config"].get("config", {}) or {}
    matching = [row for row, cfg in row_configs.items() if _fills(rec, cfg)]
    if not matching:
        return []

    def distance(row):
        want = _plain(dataclasses.asdict(row_configs[row]))
        return sum(1 for k in CELL_FIELDS if k in want and ran.get(k, _MISSING) != want[k])

    best = min(distance(row) for row in matching)
    return [row for row in matching if distance(row) == best]


def _scores(rec: dict, split: str, checkpoint: str | None = None) -> dict | None:
    """A run's mean scores on ``split``: of its main checkpoint, or of ``checkpoint`` (a classifier
    keeps three: ``loss``, ``accuracy``, ``balanced_accuracy``) when the run kept that one."""
    if checkpoint is not None:
        kept = (rec["metrics"].get("checkpoints") or {}).get(checkpoint)
        if kept is not None:
            return (kept.get("scores") or {}).get(split)
        if rec["metrics"].get("checkpoint") not in (None, checkpoint):
            return None
    scores = rec["metrics"].get("scores", {})
    if split in scores:
        return scores[split]
    return None


def summarise(records: Sequence[dict], row: str, dataset: str, score_split: str = "test",
              row_configs: Mapping[str, Any] | None = None, checkpoint: str | None = None) -> RunResult | None:
    """The newest run (or the newest complete k-fold group) of ``row`` on ``dataset``.

    With ``row_configs`` (every row of the paper), the runs are those that fill ``row`` by
    :func:`rows_filled`, whichever row name they were started under: rows that are the same
    experiment share their runs, and a run with any difference outside the cell fills no row (it
    is a variant). Without it, runs are matched by row name."""
    if row_configs is not None:
        mine = [r for r in records if r["metrics"].get("dataset") == dataset and row in rows_filled(r, row_configs)]
    else:
        mine = [r for r in records if r["metrics"].get("row") == row and r["metrics"].get("dataset") == dataset]
    mine = [r for r in mine if _scores(r, score_split, checkpoint) or _scores(r, "val", checkpoint)]
    if not mine:
        return None
    mine.sort(key=lambda r: r["config"].get("provenance", {}).get("created", ""))
    newest = mine[-1]
    folds = [r for r in mine if r["metrics"].get("fold") is not None
             and _group_key(r) == _group_key(newest)]
    group = _latest_per_fold(folds) if newest["metrics"].get("fold") is not None else [newest]
    per_run = [(_scores(r, score_split, checkpoint) or _scores(r, "val", checkpoint)) for r in group]
    keys = sorted(set().union(*per_run))
    mean = {k: statistics.fmean(s[k] for s in per_run if k in s) for k in keys}
    std = {k: statistics.stdev([s[k] for s in per_run if k in s]) for k in keys} if len(group) > 1 else {}
    met, prov = newest["metrics"], newest["config"].get("provenance", {})
    used = score_split if _scores(newest, score_split, checkpoint) else "val"
    split_desc = met.get("split_spec") or "?"
    if len(group) > 1:
        split_desc = f"{split_desc}, {len(group)} folds (mean ± std)"
    split_desc += f", scored on {used} ({met.get('split', {}).get(used, '?')} images)"
    if used == "val":
        split_desc += ", the images that also chose the checkpoint"
    _, size, weights = _settings(newest)
    return RunResult(row=row, dataset=dataset, split=split_desc, scores=mean, std=std,
                     epochs=_epochs(newest), image_size=size,
                     weights=weights, hardware=prov.get("hardware", "?"),
                     backend=prov.get("backend", "?"), commit=_commits(group),
                     runs=[r["name"] for r in group], options=run_options(newest),
                     data_folder=data_folder(newest))


def _commit(prov: Mapping) -> str:
    """The run's git commit, marked when the working tree had uncommitted changes (and whether the
    run folder holds them as ``source.patch``)."""
    git = prov.get("git", {}) or {}
    commit = (git.get("commit") or "?")[:10]
    if not git.get("dirty"):
        return commit
    return commit + ("+patch (source.patch in the run folder)" if git.get("patch") else "+uncommitted (not stored)")


def _commits(group: Sequence[dict]) -> str:
    """Each commit of a group of runs (fold runs made at several commits list every one)."""
    return ", ".join(dict.fromkeys(_commit(r["config"].get("provenance", {})) for r in group))


def _group_key(rec: dict) -> tuple:
    m = rec["metrics"]
    return (m.get("row"), m.get("dataset"), m.get("split_spec"), m.get("epochs"), str(m.get("image_size")),
            m.get("encoder_weights"), m.get("seed"), run_options(rec))


def _latest_per_fold(records: Sequence[dict]) -> list[dict]:
    best: dict[int, dict] = {}
    for r in records:
        best[r["metrics"]["fold"]] = r
    return [best[k] for k in sorted(best)]


#: metrics that are not fractions: printed as they are (3 decimals), not in %
RAW_METRICS = ("loss",)


def cell(metric: str, value: float | None, std: float | None = None) -> str:
    """A table cell of ``metric``: in % for fractions, as it is for a loss."""
    if metric in RAW_METRICS:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value:.3f}" + (f" ± {std:.3f}" if std is not None else "")
    return fmt(value, std)


def fmt(value: float | None, std: float | None = None, percent: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    scale = 100.0 if percent else 1.0
    text = f"{value * scale:.2f}"
    if std is not None:
        text += f" ± {std * scale:.2f}"
    return text


def scrub_paths(record: dict) -> dict:
    """A run record fit to commit: the data folder named by its last part (``DATA/ph2-dev``), not by
    where it sat on the machine that ran it, in ``data_dir`` and in the recorded command; in the
    command also the runs root (``RUNS``), the cache folder (``CACHE``) and a run folder (its name)."""
    out = dict(record)
    data_dir = out.get("data_dir")
    if data_dir:
        out["data_dir"] = f"DATA/{Path(data_dir).name}"
    command = out.get("command")
    if isinstance(command, str):
        out["command"] = re.sub(r"(--data-dir[ =])(\S+)", lambda m: m.group(1) + f"DATA/{Path(m.group(2)).name}",
                                command)
        for flag, name in (("--runs-root", "RUNS"), ("--cache-dir", "CACHE")):
            out["command"] = re.sub(rf"({flag}[ =])(\S+)", lambda m, n=name: m.group(1) + n, out["command"])
        out["command"] = re.sub(r"(--run-dir[ =])(\S+)", lambda m: m.group(1) + Path(m.group(2)).name,
                                out["command"])
    return out


def keep_record(run_dir: str | Path, target: str | Path, extra: Sequence[str] = ()) -> Path:
    """Copy one run's record files (and the files matching the ``extra`` patterns) into ``target``,
    the machine's paths scrubbed from ``config.json`` (:func:`scrub_paths`) and only the code part of
    ``source.patch`` kept."""
    run_dir, target = Path(run_dir), Path(target)
    if target.resolve() != run_dir.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for fname in RECORD_FILES:
            src = run_dir / fname
            if src.exists():
                shutil.copyfile(src, target / fname)
        # the evaluate commands' scores (other views, post-processing) and a paper's probes of the
        # run (e.g. SLSNet's discriminator), each with its provenance
        for pattern in ("evaluate_*.json", "probe_*.json", *extra):
            for src in sorted(run_dir.glob(pattern)):
                shutil.copyfile(src, target / src.name)
    patch = target / "source.patch"
    if patch.exists():
        from common.training.records import atomic_write_bytes, code_part

        code = code_part(patch.read_bytes())
        if code != patch.read_bytes():
            atomic_write_bytes(patch, code)
    config = load_json(target / "config.json")
    clean = scrub_paths(config)
    if clean != config:
        atomic_write_text(target / "config.json", json.dumps(clean, indent=2) + "\n")
    return target


def keep_records(results: Iterable[RunResult], records: Sequence[dict], results_dir: str | Path) -> None:
    """Copy the record files of each reported run into ``results/<paper>/records/<run>/``
    (:func:`keep_record`)."""
    by_name = {r["name"]: r for r in records}
    target_root = Path(results_dir) / "records"
    for res in results:
        for name in res.runs:
            keep_record(by_name[name]["dir"], target_root / name)


def comparison_table(title: str, rows: Sequence[str], paper_numbers: Mapping[str, Mapping[str, float]],
                     ours: Mapping[str, RunResult | None], metrics: Sequence[str], dataset_label: str,
                     our_rows: Sequence[str], derived: Mapping[str, str] | None = None) -> tuple[str, list[dict]]:
    """Markdown and CSV rows: for each metric the paper's value and ours side by side.

    ``derived``: rows of the paper that this suite makes from other runs rather than trains (an
    ensemble), with what to show while none is made (e.g. the command that makes it)."""
    derived = dict(derived or {})
    head = ["Method"] + [f"{SHORT.get(m, m)} paper" for m in metrics] + [f"{SHORT.get(m, m)} ours" for m in metrics] + ["our run"]
    lines = [f"## {title}", "", f"Paper numbers are the paper's own, on {dataset_label}. Ours are from the runs "
             "named in the last column; a row of this suite without such a run says \"not run\". Values in %"
             + (" (a loss as it is)." if any(m in RAW_METRICS for m in metrics) else "."),
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    csv_rows = []
    names = list(rows) + [r for r in paper_numbers if r not in rows]
    for name in names:
        paper_vals = paper_numbers.get(name, {})
        res = ours.get(name)
        in_suite = name in our_rows or name in derived
        cells = [name] + [cell(m, paper_vals.get(m), paper_vals.get(f"{m}_std")) for m in metrics]
        if res is None:
            status = ("not run" + (f" ({derived[name]})" if derived.get(name) else "")) if in_suite \
                else "literature row (not part of this suite)"
            cells += ["—"] * len(metrics) + [status]
        else:
            cells += [cell(m, res.scores.get(m), res.std.get(m) if res.std else None) for m in metrics]
            cells += [res.provenance()]
        lines.append("| " + " | ".join(cells) + " |")
        csv_rows.append({"method": name, **{f"{m}_paper": paper_vals.get(m) for m in metrics},
                         **{f"{m}_paper_std": paper_vals[f"{m}_std"] for m in metrics if f"{m}_std" in paper_vals},
                         **{f"{m}_ours": (res.scores.get(m) if res else None) for m in metrics},
                         **({f"{m}_ours_std": res.std.get(m) for m in metrics} if res and res.std else {}),
                         "ours_status": "run" if res else ("not run" if in_suite else "literature"),
                         "ours_provenance": res.provenance() if res else ""})
    return "\n".join(lines) + "\n", csv_rows


def variants_table(records: Sequence[dict], row_configs: Mapping[str, Any], metrics: Sequence[str],
                   checkpoint: str | None = None) -> tuple[str, list[dict], list[RunResult]]:
    """Runs started from a paper row but with other settings (an architecture ``--set``, another batch
    size): listed apart, each with what it changed, never in the paper's rows. ``checkpoint``: the
    kept checkpoint to report (the one the paper's tables report), where a run kept several."""
    head = ["Run", "started as row", "differs from it in", "Dataset"] + [SHORT.get(m, m) for m in metrics] + ["run"]
    lines = ["## Variants: runs that differ from their paper row", "",
             "Each run here was started from the row named but changed settings that the tables do not "
             "show in a cell (anything but epochs, image size, split, data and encoder weights); it "
             "fills no paper row. Values in %"
             + (f"; runs that kept several checkpoints are reported at `{checkpoint}`, as the tables." if checkpoint
                else "."), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    csv_rows, results = [], []
    groups: dict[tuple, list[dict]] = {}
    for rec in sorted(records, key=lambda r: r["name"]):
        row = rec["metrics"].get("row")
        if row not in row_configs:
            continue
        diffs = config_differences(rec["config"], row_configs[row])
        if diffs:   # fold runs of one variant are one entry: mean ± std over the folds
            groups.setdefault((describe_differences(diffs), *_group_key(rec)), []).append(rec)
    for (what, row, dataset, *_), group in groups.items():
        res = summarise(group, row, dataset, checkpoint=checkpoint) if len(group) > 1 else \
            _single(group[0], row, checkpoint)
        results.append(res)
        std = res.std or {}
        lines.append("| " + " | ".join([", ".join(res.runs), row, what, dataset]
                                       + [cell(m, res.scores.get(m), std.get(m)) for m in metrics]
                                       + [res.provenance()]) + " |")
        csv_rows.append({"run": ", ".join(res.runs), "row": row, "differences": what, "dataset": dataset,
                         **{m: res.scores.get(m) for m in metrics},
                         **({f"{m}_std": std.get(m) for m in metrics} if std else {}),
                         "provenance": res.provenance()})
    if not csv_rows:
        lines.append("| (none) |" + " |" * (len(head) - 1))
    return "\n".join(lines) + "\n", csv_rows, results


def _single(rec: dict, row: str, checkpoint: str | None = None) -> RunResult:
    met, prov = rec["metrics"], rec["config"].get("provenance", {})
    if checkpoint is not None and not _scores(rec, "test", checkpoint) and not _scores(rec, "val", checkpoint):
        checkpoint = None                   # the run did not keep that one: its main checkpoint
    used = "test" if _scores(rec, "test", checkpoint) else "val"
    split = f"{met.get('split_spec') or '?'}, scored on {used} ({met.get('split', {}).get(used, '?')} images)"
    if used == "val":
        split += ", the images that also chose the checkpoint"
    return RunResult(row=row, dataset=met.get("dataset", "?"), split=split,
                     scores=_scores(rec, used, checkpoint) or {}, epochs=_epochs(rec),
                     image_size=_settings(rec)[1], weights=_settings(rec)[2],
                     hardware=prov.get("hardware", "?"), backend=prov.get("backend", "?"), commit=_commit(prov),
                     runs=[rec["name"]], options=run_options(rec), data_folder=data_folder(rec))


def other_runs_table(records: Sequence[dict], exclude_datasets: Sequence[str], metrics: Sequence[str],
                     rows_order: Sequence[str], row_configs: Mapping[str, Any] | None = None
                     ) -> tuple[str, list[dict]]:
    """Runs on data the paper did not use (PH2, synthetic): shown apart, labelled with their dataset."""
    results = []
    if row_configs is not None:   # variants are listed apart
        records = [r for r in records if r["metrics"].get("row") not in row_configs
                   or _fills(r, row_configs[r["metrics"]["row"]])]
    combos = sorted({(r["metrics"].get("row"), r["metrics"].get("dataset")) for r in records
                     if r["metrics"].get("dataset") not in exclude_datasets},
                    key=lambda t: (rows_order.index(t[0]) if t[0] in rows_order else 99, t[1]))
    for row, dataset in combos:
        res = summarise([r for r in records if r["metrics"].get("row") == row], row, dataset)
        if res is not None:
            results.append(res)
    head = ["Row", "Dataset"] + [SHORT.get(m, m) for m in metrics] + ["run"]
    lines = ["## Our runs on other data", "",
             "These runs used data the paper did not report on; they show that the models learn, and are "
             "not comparable with the paper's columns. Values in %.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    csv_rows = []
    for res in results:
        lines.append("| " + " | ".join([res.row, res.dataset] + [cell(m, res.scores.get(m), res.std.get(m) if res.std else None)
                                                                  for m in metrics] + [res.provenance()]) + " |")
        csv_rows.append({"row": res.row, "dataset": res.dataset, **{m: res.scores.get(m) for m in metrics},
                         **({f"{m}_std": res.std.get(m) for m in metrics} if res.std else {}),
                         "provenance": res.provenance()})
    if not results:
        lines.append("| (none) |" + " |" * (len(head) - 1))
    return "\n".join(lines) + "\n", csv_rows, results


def write_table(results_dir: str | Path, stem: str, markdown: str, csv_rows: list[dict]) -> None:
    results_dir = Path(results_dir)
    atomic_write_text(results_dir / f"{stem}.md", markdown)
    write_csv(results_dir / f"{stem}.csv", csv_rows)


@dataclass
class TableSpec:
    """How one paper table is compared: on which dataset, which metrics, which score split."""

    title: str
    dataset: str                      # our runs must be on this dataset to sit beside the paper's
    dataset_label: str                # how the paper describes its evaluation data
    metrics: Sequence[str] = SEG_METRICS[:1] + SEG_METRICS[2:]
    score_split: str = "test"
    checkpoint: str | None = None      # which kept checkpoint the table reports (None: the run's main one)


def write_paper_tables(paper: str, rows: Sequence[str] | Mapping[str, Any], tables: Mapping[str, Sequence[str]],
                       paper_numbers: Mapping[str, Mapping[str, Mapping[str, float]]],
                       specs: Mapping[str, TableSpec], runs_root: str | Path, results_dir: str | Path,
                       preface: str = "", other_metrics: Sequence[str] = SEG_METRICS,
                       derived: Mapping[str, str] | None = None, variants_checkpoint: str | None = None
                       ) -> list[Path]:
    """Regenerate ``results/<paper>/``: one Markdown + CSV per table, the other-data runs, an index.
    ``derived``: see :func:`comparison_table`; ``variants_checkpoint``: see :func:`variants_table`."""
    results_dir = Path(results_dir)
    row_configs = dict(rows) if isinstance(rows, Mapping) else None
    rows = list(rows)
    records = collect(paper, runs_root, results_dir)
    reported: list[RunResult] = []
    written = []
    index_lines = [f"# {paper} results", "", preface, "",
                   "Generated by `python -m reproductions.%s.table` from run records; do not edit by hand." % paper, ""]
    for table, spec in specs.items():
        ours = {}
        for row in tables[table]:
            res = summarise(records, row, spec.dataset, spec.score_split, row_configs=row_configs,
                            checkpoint=spec.checkpoint)
            ours[row] = res
            if res:
                reported.append(res)
        md, csv_rows = comparison_table(f"{table}: {spec.title}", tables[table], paper_numbers.get(table, {}),
                                        ours, spec.metrics, spec.dataset_label, our_rows=list(rows),
                                        derived=derived)
        stem = table.lower().replace(" ", "_")
        write_table(results_dir, stem, md, csv_rows)
        written.append(results_dir / f"{stem}.md")
        index_lines.append(md)
    real = [r for r in records if r["metrics"].get("dataset") != "synthetic"]
    md, csv_rows, others = other_runs_table(real, [s.dataset for s in specs.values()], other_metrics, list(rows),
                                            row_configs=row_configs)
    reported.extend(others)
    write_table(results_dir, "other_data", md, csv_rows)
    index_lines.append(md)
    if row_configs is not None:
        md, csv_rows, variants = variants_table(real, row_configs, other_metrics, checkpoint=variants_checkpoint)
        reported.extend(variants)
        write_table(results_dir, "variants", md, csv_rows)
        written.append(results_dir / "variants.md")
        index_lines.append(md)
    keep_records(reported, records, results_dir)
    atomic_write_text(results_dir / "README.md", "\n".join(index_lines))
    written.append(results_dir / "README.md")
    return written
