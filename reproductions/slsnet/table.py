"""Regenerate ``results/slsnet/`` from the run records: ``python -m reproductions.slsnet.table``.

Tables 3, 4, 6, 7 and 8 put the paper's numbers beside ours; ours come only from runs on the
table's dataset (ISBI 2017 test set for Tables 3 and 6-8, the 20 % hold-out of ISIC 2018 for Table 4)
and each names its run. Table 5 (parameters, MACs, latency) is measured from the built generators
on the machine that runs this command. Runs on other data (PH2) are listed apart.
"""
from __future__ import annotations

from pathlib import Path

from common.results import TableSpec, atomic_write_text, write_csv
from common.tables import PaperTables, table_main
from common.training.records import device_info
from reproductions.slsnet.paper import PAPER

REPO = Path(__file__).resolve().parents[2]

SPECS = {
    "Table 3": TableSpec("SLSNet against the literature on the ISBI 2017 test set", "isic2017",
                         "the ISBI 2017 test set (600 images)"),
    "Table 4": TableSpec("SLSNet on ISIC 2018 (thresholded Jaccard)", "isic2018",
                         "the ISIC 2018 validation leaderboard (100 images); ours: the 20 % hold-out of "
                         "the 2594 training images, as the paper splits them (the checkpoint chosen on "
                         "a tenth of the other 80 %)",
                         metrics=("thresholded_jaccard", "jaccard")),
    "Table 6": TableSpec("ablation of PAM, CAM and the multiscale block (ISBI 2017 test set)", "isic2017",
                         "the ISBI 2017 test set"),
    "Table 7": TableSpec("input size (ISBI 2017 test set)", "isic2017", "the ISBI 2017 test set"),
    "Table 8": TableSpec("loss terms (ISBI 2017 test set)", "isic2017", "the ISBI 2017 test set"),
}


def table5(results_dir: Path, runs: int = 10) -> str:
    """Params, MACs and latency of the three input sizes, computed from the built generators."""
    from reproductions.slsnet.profile import profile_row

    hw = device_info()
    lines = ["## Table 5: computational cost by input size", "",
             f"Paper: PyTorch on an NVIDIA GTX 1080Ti. Ours: Keras ({hw['backend']}) on {hw['hardware']}, "
             "batch 1, median of timed calls. MACs are counted from the built model over its convolution "
             "layers, as the paper's counter evidently did (its Table 6 gives BL + CAM the MACs of BL GAN, "
             "and CAM has no convolutions); the attention matrix products are listed apart.", "",
             "| Row | params paper (M) | params ours (M) | MACs paper (G) | MACs ours (G) | latency paper (ms) "
             "| latency ours (ms) | FPS paper | FPS ours | attention MACs ours (G) |", "|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for row in PAPER.tables["Table 5"]:
        p = PAPER.published["Table 5"][row]
        ours = profile_row(row, runs=runs, warmup=3)
        lines.append(f"| {row} | 2.35 | {ours['params'] / 1e6:.2f} | {p['macs_g']:.2f} | {ours['macs'] / 1e9:.2f} "
                     f"| {p['latency_ms']} | {ours['latency_ms']:.1f} | {p['fps']} | {ours['fps']:.1f} "
                     f"| {ours['attention_macs'] / 1e9:.2f} |")
        rows.append({"row": row, "params_paper_m": 2.35, "params_ours": ours["params"],
                     "macs_paper_g": p["macs_g"], "macs_ours": ours["macs"], "latency_paper_ms": p["latency_ms"],
                     "latency_ours_ms": ours["latency_ms"], "attention_macs_ours": ours["attention_macs"], "fps_paper": p["fps"], "fps_ours": ours["fps"],
                     "hardware": hw["hardware"], "backend": hw["backend"]})
    lines.append("")
    lines.append("The literature rows of the paper's Table 5 (GAN-FCN, ENet) are in `table_5_paper.csv`.")
    md = "\n".join(lines) + "\n"
    atomic_write_text(results_dir / "table_5.md", md)
    write_csv(results_dir / "table_5.csv", rows)
    write_csv(results_dir / "table_5_paper.csv", [{"row": k, **v} for k, v in PAPER.published["Table 5"].items()])
    return md


def _extra(args, results_dir: Path, written: list) -> str:
    if not args.skip_profile:
        table5(results_dir, runs=args.runs)
        written.append(results_dir / "table_5.md")
    return ""


PROGRAM = PaperTables(
    SPECS, preface="SLSNet (Sarker et al., Expert Systems With Applications 183, 2021).",
    description="Regenerate results/slsnet/ (Tables 3-8 as Markdown and CSV) from the run records: "
                "the paper's numbers beside ours, each of ours with its run's dataset, split, epochs, "
                "size, backend and hardware; rows not run say so.",
    arguments=lambda p: p.add_argument("--runs", type=int, default=10, help="timed calls per row for Table 5"),
    extra=_extra, profile_help="do not rebuild Table 5 (profiling)")


def main(argv=None) -> int:
    return table_main(PAPER, PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
