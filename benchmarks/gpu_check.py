"""The first hour on a GPU in one script: does every main row fit, run, and give the same numbers twice?

For each backend installed (TensorFlow, JAX), in a fresh process each:

- ``dry run``: ``train --dry-run`` of every main row at its paper size and batch (one update; the
  peak memory of that update as the allocator counts it, the time of a second update, and the
  largest batch for an 11 GB and a 16 GB card);
- ``same numbers``: each paper's tiny run (``Paper.tiny``) trained twice with one seed: are the
  histories and the metrics identical?
- ``mixed`` and ``jit``: the tiny run once with ``--precision mixed`` (float16 on a GPU) and once
  with ``--jit`` (TensorFlow; JAX always compiles): does it train, and to finite losses?

It prints one table (row, backend, check, peak memory, step time, result). On a machine without a
GPU it runs too: ``--small`` replaces the paper sizes by the tiny runs' (the slow test runs it so).

    python benchmarks/gpu_check.py                       # on the GPU machine: about 10 minutes
    python benchmarks/gpu_check.py --small --papers asnet --backends tensorflow

No number is asserted here; the table says what happened.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: the rows a user trains first, per paper, and the rows whose memory the GPU issue named
MAIN_ROWS = {
    "slsnet": ("SLSNet", "SLSNet 128", "SLSNet 256"),
    "aernet": ("AER-Net",),
    "asnet": ("ASNet",),
    "transfer_ensemble": ("DenseNet169", "Xception", "ResNet152 (globules)"),
    "isic2019_classifiers": ("Wide ResNet", "Residual net", "U-Net"),
}


def backends_installed() -> list[str]:
    out = []
    for name, module in (("tensorflow", "tensorflow"), ("jax", "jax")):
        try:
            __import__(module)
            out.append(name)
        except ImportError:
            pass
    return out


def _run(paper: str, argv: list[str], backend: str, timeout: int) -> tuple[int, str, float]:
    env = {**os.environ, "KERAS_BACKEND": backend}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", f"reproductions.{paper}.train", *argv], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr, time.perf_counter() - start
    except subprocess.TimeoutExpired as exc:
        return 124, f"timed out after {timeout} s\n{exc.stdout or ''}{exc.stderr or ''}", float(timeout)


def _last_error(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith(("I0000", "W0000"))]
    errors = [ln for ln in lines if ln.lower().startswith(("error", "out of memory")) or "Error" in ln]
    return (errors or lines or ["(no output)"])[-1][:160]


def dry_run(paper: str, row: str, backend: str, small: bool, timeout: int) -> dict:
    from reproductions import registry

    argv = ["--row", row, "--dry-run", "--quiet", "--encoder-weights", "none"]
    if small:
        tiny = registry.load(paper).tiny
        argv += ["--image-size", str(tiny.get("image_size", 32)), "--synthetic-size", "8", "--batch-size", "2"]
        if row == tiny.get("row", row):
            for item in tiny.get("sets", ()):
                argv += ["--set", item]
    rc, text, _ = _run(paper, argv, backend, timeout)
    peak = re.search(r"peak memory of the update: ([\d.]+) GB at batch (\d+)", text)
    step = re.search(r"time of one update after compilation: ([\d.]+) s", text)
    fits = re.search(r"largest batch that fits, extrapolated linearly: (.*)", text)
    return {"row": f"{paper}: {row}", "backend": backend, "check": "dry run",
            "peak": f"{peak.group(1)} GB at batch {peak.group(2)}" if peak else "—",
            "step": f"{float(step.group(1)):.3f} s" if step else "—",
            "result": ("ok" + (f"; fits {fits.group(1)}" if fits else "")) if rc == 0 else
                      f"failed ({_last_error(text)})"}


def _tiny_argv(paper: str, run_dir: Path, extra: list[str]) -> list[str]:
    from reproductions import registry

    p = registry.load(paper)
    return [*p.tiny_argv(), "--epochs", "2", "--seed", "11", "--quiet", "--run-dir", str(run_dir), *extra]


def _numbers(run_dir: Path) -> tuple:
    history = (run_dir / "history.csv").read_text().splitlines()
    header = history[0].split(",")
    keep = [i for i, h in enumerate(header) if h != "seconds"]
    rows = [[line.split(",")[i] for i in keep] for line in history]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("provenance", None)
    return rows, json.dumps(metrics.get("scores"), sort_keys=True)


def same_numbers(paper: str, backend: str, timeout: int, work: Path) -> dict:
    runs = [work / f"{paper}-{backend}-{k}" for k in (1, 2)]
    seconds = []
    for run in runs:
        rc, text, took = _run(paper, _tiny_argv(paper, run, []), backend, timeout)
        seconds.append(took)
        if rc != 0:
            return {"row": f"{paper}: tiny run", "backend": backend, "check": "same numbers", "peak": "—",
                    "step": "—", "result": f"failed ({_last_error(text)})"}
    same = _numbers(runs[0]) == _numbers(runs[1])
    return {"row": f"{paper}: tiny run", "backend": backend, "check": "same numbers", "peak": "—",
            "step": f"{min(seconds):.1f} s / run", "result": "yes" if same else "NO: the two runs differ"}


def option_run(paper: str, backend: str, option: list[str], timeout: int, work: Path) -> dict:
    run = work / f"{paper}-{backend}-{'-'.join(o.strip('-') for o in option)}"
    rc, text, took = _run(paper, _tiny_argv(paper, run, option), backend, timeout)
    if rc == 0:
        rows, _ = _numbers(run)
        finite = all(v not in ("nan", "inf", "-inf") for row in rows[1:] for v in row)
        result = "ok" if finite else "trained, but a loss is not finite"
    else:
        result = f"failed ({_last_error(text)})"
    return {"row": f"{paper}: tiny run", "backend": backend, "check": " ".join(option), "peak": "—",
            "step": f"{took:.1f} s / run", "result": result}


def table(rows: list[dict]) -> str:
    head = ["row", "backend", "check", "peak", "step", "result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--papers", default=",".join(MAIN_ROWS), help="comma-separated paper packages")
    parser.add_argument("--backends", default=None, help="comma-separated (default: every one installed)")
    parser.add_argument("--small", action="store_true",
                        help="tiny sizes for the dry runs (a CPU check of the script itself)")
    parser.add_argument("--skip", default="", help="checks to leave out: dry-run,same,mixed,jit")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per command")
    parser.add_argument("--out", default=None, help="also write the table (Markdown) and rows (JSON) here")
    args = parser.parse_args(argv)
    papers = [p.strip() for p in args.papers.split(",") if p.strip()]
    unknown = [p for p in papers if p not in MAIN_ROWS]
    if unknown:
        parser.error(f"unknown paper(s) {unknown}; choose from {', '.join(MAIN_ROWS)}")
    backends = args.backends.split(",") if args.backends else backends_installed()
    skip = set(filter(None, args.skip.split(",")))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for backend in backends:
            for paper in papers:
                if "dry-run" not in skip:
                    for row in MAIN_ROWS[paper]:
                        rows.append(dry_run(paper, row, backend, args.small, args.timeout))
                        print(table(rows[-1:]).splitlines()[-1], flush=True)
                checks = []
                if "same" not in skip:
                    checks.append(lambda: same_numbers(paper, backend, args.timeout, work))
                if "mixed" not in skip:
                    checks.append(lambda: option_run(paper, backend, ["--precision", "mixed"], args.timeout, work))
                if "jit" not in skip and backend == "tensorflow":
                    checks.append(lambda: option_run(paper, backend, ["--jit"], args.timeout, work))
                for check in checks:
                    rows.append(check())
                    print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    print("\n" + text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_check.md").write_text(text + "\n")
        (out / "gpu_check.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(not str(r["result"]).startswith(("failed", "NO")) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
