"""Write the comparison notebooks (``notebooks/<paper>.ipynb``) from one template.

The notebooks are thin: every figure and table comes from tested code in ``common/viz.py`` and the
generated ``results/<paper>/``. Run ``python tools/make_notebooks.py`` after changing the template.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]

PAPERS = {
    "slsnet": "SLSNet (Sarker et al. 2021)",
    "aernet": "AER-Net (Lima & Braz 2021)",
    "asnet": "ASNet (Zhu et al. 2020)",
}


def notebook(paper: str, title: str):
    cells = [
        new_markdown_cell(
            f"# {title}: our runs beside the paper\n\n"
            f"Loads the run records under `runs/{paper}/` (or `$SLR_RUNS_DIR`), shows the generated results "
            f"tables of `results/{paper}/`, the training curves of one run, and a few validation images with "
            "the ground-truth contour (green) and the predicted one (red), as in the paper's figures.\n\n"
            f"Set `RUN_DIR` below (or the environment variable `NOTEBOOK_RUN_DIR`) to pick a run; "
            "by default the newest one is shown."),
        new_code_cell(
            "import os\n"
            "from pathlib import Path\n"
            "import matplotlib.pyplot as plt\n"
            "from common import viz\n"
            f"from reproductions.{paper}.paper import PAPER\n"
            "\n"
            f"RUNS = viz.list_runs('{paper}')\n"
            "RUNS"),
        new_markdown_cell("## Results tables\n\nGenerated from the run records by "
                          f"`python -m reproductions.{paper}.table`; the paper's numbers are never shown as ours."),
        new_code_cell(
            f"results = viz.REPO / 'results' / '{paper}' / 'README.md'\n"
            "viz.show_table(results) if results.exists() else print('no results generated yet')"),
        new_markdown_cell("## One run: training curves and predictions"),
        new_code_cell(
            "RUN_DIR = os.environ.get('NOTEBOOK_RUN_DIR') or (RUNS.sort_values('run_dir').run_dir.iloc[-1] if len(RUNS) else None)\n"
            "print('run:', RUN_DIR)\n"
            "if RUN_DIR:\n"
            "    viz.plot_history(RUN_DIR)\n"
            "    plt.show()"),
        new_code_cell(
            "if RUN_DIR:\n"
            "    viz.show_predictions(PAPER, RUN_DIR, n=4)\n"
            "    plt.show()"),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"{paper}-{i}"  # fixed ids: regenerating changes nothing that did not change
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def main() -> None:
    out = REPO / "notebooks"
    out.mkdir(exist_ok=True)
    for paper, title in PAPERS.items():
        if (REPO / "reproductions" / paper / "paper.py").exists():
            nbformat.write(notebook(paper, title), out / f"{paper}.ipynb")
            print(f"wrote notebooks/{paper}.ipynb")


if __name__ == "__main__":
    main()
