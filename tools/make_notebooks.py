"""Write the comparison notebooks (``notebooks/<paper>.ipynb``) from one template.

The notebooks are thin: every figure and table comes from tested code in ``common/viz.py`` and the
generated ``results/<paper>/``. ``python tools/make_notebooks.py --execute`` regenerates them as they
are committed: written from the template and executed, outputs included.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]



def _registry():
    import sys

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from reproductions import registry

    return registry


def _papers() -> dict[str, str]:
    """Every registered paper's notebook title: its title up to the citation ("SLSNet (Sarker et al. 2021)")."""
    registry = _registry()
    return {name: registry.load(name).short_title for name in registry.PAPERS}


def _classifiers() -> set[str]:
    """Papers whose default row is a classifier: class counts and confusion matrices, not mask overlays."""
    registry = _registry()
    out = set()
    for name in registry.PAPERS:
        paper = registry.load(name)
        if not paper.task_for(paper.rows[paper.default_row]).spatial:
            out.add(name)
    return out


PAPERS = _papers()
CLASSIFIERS = _classifiers()


def notebook(paper: str, title: str):
    cells = [
        new_markdown_cell(
            f"# {title}: our runs beside the paper\n\n"
            f"The results tables of `results/{paper}/` (the paper's numbers beside ours), the run records "
            f"they came from (`results/{paper}/records/`) with their training curves, and predictions of a "
            "trained run with the ground-truth contour (green) and the predicted one (red), as in the "
            "paper's figures.\n\n"
            "`NOTEBOOK_RUN_DIR` picks the run whose curves and predictions are shown; by default the curves "
            "are those of the first committed record and the predictions those of the newest local run "
            f"under `runs/{paper}/` (train one with `python -m reproductions.{paper}.train`)."),
        new_code_cell(
            "import os\n"
            "from pathlib import Path\n"
            "import matplotlib.pyplot as plt\n"
            "from common import viz\n"
            "viz.notebook_setup()\n"
            f"from reproductions.{paper}.paper import PAPER\n"
            "\n"
            f"RECORDS = viz.committed_runs('{paper}')\n"
            f"LOCAL = viz.local_runs('{paper}')\n"
            "viz.list_runs(PAPER.name, runs=RECORDS + LOCAL)"),
        new_markdown_cell("## Results tables\n\nGenerated from the run records by "
                          f"`python -m reproductions.{paper}.table`; the paper's numbers are never shown as ours."),
        new_code_cell(
            f"results = viz.REPO / 'results' / '{paper}' / 'README.md'\n"
            "viz.show_table(results) if results.exists() else print('no results generated yet')"),
        new_markdown_cell("## Training curves of one run"),
        new_code_cell(
            "CURVES = os.environ.get('NOTEBOOK_RUN_DIR') or (RECORDS[0] if RECORDS else (LOCAL[-1] if LOCAL else None))\n"
            "print('run:', viz.shown_path(CURVES) if CURVES else None)\n"
            "if CURVES:\n"
            "    viz.plot_history(CURVES)\n"
            "    plt.show()"),
        new_markdown_cell("## Predictions of a trained run\n\nThe committed records hold no weights; "
                          "these come from a run on this machine."),
        new_code_cell(
            "RUN_DIR = os.environ.get('NOTEBOOK_RUN_DIR') or (LOCAL[-1] if LOCAL else None)\n"
            "if RUN_DIR:\n"
            "    print('run:', viz.shown_path(RUN_DIR))\n"
            "    viz.show_predictions(PAPER, RUN_DIR, n=4)\n"
            "    plt.show()\n"
            "else:\n"
            f"    print('no trained run under runs/{paper}/: python -m reproductions.{paper}.train makes one')"),
    ]
    if paper in CLASSIFIERS:
        cells[-2:] = [
            new_markdown_cell("## Classes (Table 5.1)\n\nCounted from the ground-truth CSV by "
                              f"`python -m reproductions.{paper}.table --labels-csv ...`, beside the thesis's counts."),
            new_code_cell(
                "import csv\n"
                f"counts_csv = viz.REPO / 'results' / '{paper}' / 'table_5.1.csv'\n"
                "if counts_csv.exists():\n"
                "    rows = list(csv.DictReader(counts_csv.open()))\n"
                "    viz.plot_class_counts({r['class']: int(r['ours']) for r in rows},\n"
                "                          {r['class']: int(r['thesis']) for r in rows}, title='ISIC 2019 (Table 5.1)')\n"
                "    plt.show()\n"
                "else:\n"
                "    print('no Table 5.1 yet: run the table command with --labels-csv')"),
            new_markdown_cell("## Which classes the models confuse, on real ISIC 2019 images\n\n"
                              "Every committed run on ISIC 2019 (the HAM10000 images; see the package README), its "
                              "test part at the checkpoint with the highest validation balanced accuracy (the one "
                              "Tables 6.1, 6.2 and 6.4 report; fold 0 of a cross-validation): the confusion matrix "
                              "(rows: truth) and the recall per class, whose mean is the balanced accuracy. `NOTEBOOK_RUN_DIR` shows another run."),
            new_code_cell(
                "import json\n"
                "def on_isic2019(r):   # one fold of a cross-validation stands for its five\n"
                "    m = json.loads((Path(r) / 'metrics.json').read_text())\n"
                "    return m.get('dataset') == 'isic2019' and m.get('fold') in (None, 0)\n"
                "SHOWN = [os.environ['NOTEBOOK_RUN_DIR']] if os.environ.get('NOTEBOOK_RUN_DIR') else \\\n"
                "    [r for r in RECORDS if on_isic2019(r)] or [r for r in LOCAL if on_isic2019(r)][-1:]\n"
                "for run in SHOWN:\n"
                "    print('run:', viz.shown_path(run))\n"
                "    split = 'test' if (Path(run) / 'per_image_test.csv').exists() else 'val'\n"
                "    viz.plot_confusion(run, split=split, checkpoint='balanced_accuracy')\n"
                "    plt.show()\n"
                "if not SHOWN:\n"
                f"    print('no run on ISIC 2019 yet: python -m reproductions.{paper}.train --data-dir ISIC2019_ROOT')"),
            new_markdown_cell("## The U-Net: its best and worst predictions (as Figs. 6.1 and 6.2)\n\n"
                              "The newest local run of the `U-Net` row, every test image ranked by Jaccard."),
            new_code_cell(
                "import json\n"
                "UNET = [r for r in LOCAL if json.loads((Path(r) / 'config.json').read_text()).get('row') == 'U-Net']\n"
                "if UNET:\n"
                "    print('run:', viz.shown_path(UNET[-1]))\n"
                "    fig, ranking = viz.best_and_worst(PAPER, UNET[-1], n=3)\n"
                "    plt.show()\n"
                "else:\n"
                f"    print('no U-Net run under runs/{paper}/: python -m reproductions.{paper}.train --row U-Net makes one')"),
        ]
    if paper == "slsnet":
        cells += [
            new_markdown_cell("## Is D overpowering G? The gradient balance of the GAN runs\n\n"
                              "Every GAN run's `history.csv` records, on two training batches per epoch, the norm "
                              "of each weighted loss term's gradient on G's weights. Left: the adversarial "
                              "term's over the supervised terms' (above 1, D's signal dominates G's update). "
                              "Right: the cosine between the two (at or below 0, the adversarial gradient does not "
                              "point where the ground truth does)."),
            new_code_cell(
                "has_balance = lambda r: 'grad_adv_over_sup' in (Path(r) / 'history.csv').read_text().split('\\n', 1)[0]\n"
                "# the committed records (local runs only where none is committed)\n"
                "GAN = [r for r in RECORDS if has_balance(r)] or [r for r in LOCAL if has_balance(r)]\n"
                "viz.plot_gradient_balance(GAN, labels=[Path(r).name for r in GAN])\n"
                "plt.show()"),
        ]
    if paper == "transfer_ensemble":
        cells += [
            new_markdown_cell("## Out-of-fold maps, test-time views and the ensemble (Fig. 2)\n\n"
                              "From the newest output of `python -m reproductions.transfer_ensemble.ensemble` "
                              "(which needs every fold of at least one model): each model's out-of-fold map "
                              "beside the ensemble's, then the (T_H, T_L) grid of the double threshold."),
            new_code_cell(
                "from reproductions.transfer_ensemble import figures\n"
                "ENSEMBLES = sorted(viz.runs_root().glob('transfer_ensemble/ensemble/*/ensemble.json'))\n"
                "if ENSEMBLES:\n"
                "    print('ensemble:', viz.shown_path(ENSEMBLES[-1]))\n"
                "    print((ENSEMBLES[-1].parent / 'ensemble.md').read_text())\n"
                "    figures.show_oof_maps(ENSEMBLES[-1], n=4)\n"
                "    plt.show()\n"
                "    figures.plot_threshold_grid(ENSEMBLES[-1], 'ensemble')\n"
                "    plt.show()\n"
                "else:\n"
                "    print('no ensemble output yet: train every fold of a model (--fold all), then run '\n"
                "          'python -m reproductions.transfer_ensemble.ensemble --dataset <its dataset>')"),
            new_markdown_cell("## Attributes (Fig. 3)\n\nThe newest local attribute run: ground truth green, "
                              "prediction red, their intersection orange."),
            new_code_cell(
                "ATTR = [r for r in LOCAL if json.loads((Path(r) / 'config.json').read_text()).get('row', '').endswith(')')]\n"
                "if ATTR:\n"
                "    print('run:', viz.shown_path(ATTR[-1]))\n"
                "    viz.show_attribute_predictions(PAPER, ATTR[-1], n=4)\n"
                "    plt.show()\n"
                "else:\n"
                "    print('no attribute run: python -m reproductions.transfer_ensemble.train --row \"DenseNet169 (globules)\" makes one')"),
        ]
        cells[1]["source"] = "import json\n" + cells[1]["source"]
    for i, cell in enumerate(cells):
        cell["id"] = f"{paper}-{i}"  # fixed ids: regenerating changes nothing that did not change
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def overview():
    """``notebooks/overview.ipynb``: the suites' leaderboards, their figures, and the same test images
    predicted by every entry of the ISIC 2017 suite."""
    cells = [
        new_markdown_cell(
            "# Every paper on the same images\n\n"
            "The leaderboards of `python -m reproductions.compare` (`results/compare/`): each suite trains every "
            "entry on one dataset, one split and one budget, then scores all of them on the same test images "
            "with the challenge's metrics (95 % bootstrap intervals, a paired test against the best entry). "
            "Then the same ISIC 2017 test images predicted by every entry, side by side.\n\n"
            "The predictions need the suite's trained runs (`runs/compare/<suite>/`, which the committed "
            "records do not include) and its data folder (the one the runs recorded, or `COMPARE_DATA_DIR`)."),
        new_code_cell(
            "import os\n"
            "import matplotlib.pyplot as plt\n"
            "from IPython.display import Image, display\n"
            "from common import viz\n"
            "viz.notebook_setup()\n"
            "LEADERBOARDS = sorted((viz.REPO / 'results' / 'compare').glob('*.md'))\n"
            "print('suites with a leaderboard:', ', '.join(p.stem for p in LEADERBOARDS) or 'none yet')"),
        new_markdown_cell("## The leaderboards\n\nGenerated by `python -m reproductions.compare SUITE`; each cell "
                          "links the run record it came from."),
        new_code_cell(
            "for board in LEADERBOARDS:\n"
            "    viz.show_table(board)\n"
            "    figure = board.with_suffix('.png')\n"
            "    if figure.exists():\n"
            "        display(Image(filename=str(figure)))"),
        new_markdown_cell(
            "## The same ISIC 2017 test images, every entry\n\n"
            "Each network entry predicts with its own run (its kept checkpoint, its image size, its row's "
            "threshold and cleaning), resized to the image's own size; Otsu's baseline needs no run. The "
            "images are spread over the first entry's ranking by Jaccard, best to worst."),
        new_code_cell(
            "from reproductions.compare.figures import side_by_side\n"
            "fig = side_by_side('isic2017-cpu', viz.runs_root(), data_dir=os.environ.get('COMPARE_DATA_DIR'), n=4)\n"
            "if fig is not None:\n"
            "    plt.show()"),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"overview-{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, paper: str, timeout: int = 1200):
    """Run every cell (in the repository folder) and keep the outputs in ``nb``."""
    import nbclient

    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    if errors:
        raise RuntimeError(f"notebooks/{paper}.ipynb: a cell failed: {errors[0].get('ename')}: "
                           f"{errors[0].get('evalue')}")
    return nb


def _ensure_local_run(paper: str) -> None:
    """The predictions cell needs a trained run: train the quick default once if there is none."""
    import subprocess
    import sys

    sys.path.insert(0, str(REPO))
    from common import viz

    if viz.local_runs(paper):
        return
    print(f"training the quick default of {paper} for the predictions cell ...")
    subprocess.run([sys.executable, "-m", f"reproductions.{paper}.train", "--quiet"], cwd=REPO, check=True)


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python tools/make_notebooks.py",
        description="Write notebooks/<paper>.ipynb from the template; with --execute, also run them and "
                    "keep their outputs (training the quick default of a paper first when runs/ holds "
                    "no trained run of it), as they are committed.")
    parser.add_argument("--execute", action="store_true", help="run every cell and save the outputs")
    parser.add_argument("papers", nargs="*", help="only these papers, or overview (default: all, and the overview)")
    args = parser.parse_args(argv)
    out = REPO / "notebooks"
    out.mkdir(exist_ok=True)
    if not args.papers or "overview" in args.papers:
        nb = overview()
        if args.execute:
            execute(nb, "overview")
        nbformat.write(nb, out / "overview.ipynb")
        print("wrote notebooks/overview.ipynb" + (" (executed)" if args.execute else ""))
    for paper, title in PAPERS.items():
        if args.papers and paper not in args.papers:
            continue
        if not (REPO / "reproductions" / paper / "paper.py").exists():
            continue
        nb = notebook(paper, title)
        if args.execute:
            _ensure_local_run(paper)
            execute(nb, paper)
        nbformat.write(nb, out / f"{paper}.ipynb")
        print(f"wrote notebooks/{paper}.ipynb" + (" (executed)" if args.execute else ""))


if __name__ == "__main__":
    main()
