"""Regenerate ``results/asnet/`` from the run records: ``python -m reproductions.asnet.table``.

Table 2 puts the paper's Jaccard, Dice and accuracy (mean ± std over 5 folds of ISIC 2018 Task 1's
2594 training images) beside ours: for each row, the mean ± std over the newest complete group of
fold runs on ISIC 2018 (``--fold all``), each fold run scoring its own held-out fold. MultiResU-Net
is a number the paper cites (Ibtehaz & Rahman 2020): it is labelled a literature row. Runs on other
data (PH2) are listed apart, also as mean ± std over their folds; synthetic smoke runs are never
shown. ``table_2_params`` gives every row's parameter count (and MACs) measured on the models built
at the paper's 192x256, so Baseline_Wide's "similar complexity" to ASNet can be checked; the paper
gives no such numbers.
"""
from __future__ import annotations

from pathlib import Path

from common.results import TableSpec, atomic_write_text, write_csv
from common.tables import PaperTables, table_main
from reproductions.asnet.configs import BASE, CITED_ONLY, ROWS
from reproductions.asnet.paper import PAPER

REPO = Path(__file__).resolve().parents[2]

SPECS = {
    "Table 2": TableSpec("comparison and ablation, 5-fold cross-validation (mean ± std over folds)", "isic2018",
                         "ISIC 2018 Task 1's 2594 training images, 5-fold cross-validation, mean ± standard "
                         "deviation over the folds; ours: each fold run scores its held-out fold, then mean ± "
                         "sample std over the folds",
                         metrics=("jaccard", "dice", "accuracy"), score_split="test"),
}

PREFACE = (
    "ASNet (Zhu, Feng, Zhu & Chen, Proc. SPIE 11317, Medical Imaging 2020, 113170W). "
    "Literature rows of Table 2 that no configuration here reproduces: "
    + "; ".join(f"{name}: {source}" for name, source in CITED_ONLY.items()) + ".")


def params_table(results_dir: Path, image_size=BASE.image_size, macs: bool = True) -> str:
    """Parameters (and MACs) of every row, measured on the model built at ``image_size`` (H, W)."""
    from common.profiling_cli import profile_row
    from reproductions.asnet.profile import build, input_shape

    height, width = image_size
    asnet = None
    results = []
    for row, cfg in ROWS.items():
        res = profile_row(row, cfg, build, input_shape, image_size=(height, width), runs=1, warmup=0,
                          measure_latency=False)
        if "error" in res:
            raise RuntimeError(f"could not build {row!r}: {res['error']}")
        if not macs:
            res["macs"] = None
        results.append(res)
        if row == "ASNet":
            asnet = res["params"]
    lines = [f"## Table 2 rows: model size at {height}x{width}", "",
             "Measured on the models as built here (the paper reports no parameter counts). `params` counts "
             "every weight, batch-norm moving statistics included (Keras `count_params`); `trainable` is "
             "what PyTorch's `sum(p.numel() for p in model.parameters())` counts. MACs: one forward pass "
             "of one image (convolutions and the ASM's shared dilated convolution, once per branch). "
             "Baseline_Wide is our design for the paper's \"similar complexity to our model\"; the last "
             "column compares every row with ASNet.", "",
             "| Row | params | trainable | MACs (G) | params vs ASNet |", "|---|---|---|---|---|"]
    csv_rows = []
    for res in results:
        diff = (res["params"] - asnet) / asnet * 100 if asnet else float("nan")
        mac_text = "—" if res["macs"] is None else f"{res['macs'] / 1e9:.2f}"
        lines.append(f"| {res['row']} | {res['params']:,} | {res['trainable_params']:,} | {mac_text} "
                     f"| {diff:+.2f} % |")
        csv_rows.append({"row": res["row"], "image_size": f"{height}x{width}", "params": res["params"],
                         "trainable_params": res["trainable_params"], "macs": res["macs"],
                         "params_vs_asnet_percent": round(diff, 4)})
    md = "\n".join(lines) + "\n"
    atomic_write_text(results_dir / "table_2_params.md", md)
    write_csv(results_dir / "table_2_params.csv", csv_rows)
    return md


def _extra(args, results_dir: Path, written: list) -> str:
    params = results_dir / "table_2_params.md"
    if not args.skip_profile:
        params_table(results_dir, macs=not args.no_macs)
        written.append(params)
    return params.read_text() if params.exists() else ""      # --skip-profile keeps the last one


PROGRAM = PaperTables(
    SPECS, preface=PREFACE,
    description="Regenerate results/asnet/ (Table 2 as Markdown and CSV, mean ± std over the fold runs) "
                "from the run records: the paper's numbers beside ours, each of ours with its runs' "
                "dataset, split, epochs, size, backend and hardware; rows not run say so. Also the "
                "parameter count of every row at 192x256.",
    arguments=lambda p: p.add_argument("--no-macs", action="store_true", help="parameter table without the MACs column"),
    extra=_extra, profile_help="do not rebuild the parameter table (it builds every row at 192x256); an existing table_2_params.md is kept")


def main(argv=None) -> int:
    return table_main(PAPER, PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
