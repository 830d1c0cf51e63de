"""Regenerate ``results/aernet/`` from the run records: ``python -m reproductions.aernet.table``.

Tables 1-3 put the paper's numbers beside ours; ours come only from runs on ISIC 2018 (the paper's
data: 2094 of the 2594 Task 1 training images train, the other 500 are scored) and each names its
run. The colour-space comparison of section 3.1 has no numbers in the paper; ours are listed alone.
Runs on other data (PH2) are listed apart; synthetic smoke runs are never listed. A small extra table
gives each row's parameter count, computed from the model built at 256 x 256.
"""
from __future__ import annotations

from pathlib import Path

from common.results import TableSpec, atomic_write_text, write_csv
from common.tables import PaperTables, table_main
from reproductions.aernet.configs import COLOUR_TABLE, PAPER_LABELS, ROWS
from reproductions.aernet.paper import PAPER

REPO = Path(__file__).resolve().parents[2]
COLOUR_KEY = "Colour spaces"  # COLOUR_TABLE under a name that makes a plain file name
ISIC2018_TEST = ("the 500 of the 2594 ISIC 2018 Task 1 training images the paper kept out of training "
                 "(2094 train / 500 test, section 3.3)")

SPECS = {
    "Table 1": TableSpec("the five best encoders of a U-Net (backbone search, Jaccard only)", "isic2018",
                         ISIC2018_TEST, metrics=("jaccard",)),
    "Table 2": TableSpec("from U-Net to AER-Net (ablation)", "isic2018", ISIC2018_TEST,
                         metrics=("jaccard", "dice")),
    "Table 3": TableSpec("AER-Net against other methods on ISIC 2018", "isic2018",
                         ISIC2018_TEST + "; the other rows are the numbers the paper quotes",
                         metrics=("jaccard", "dice")),
    COLOUR_KEY: TableSpec("AER-Net by input colour space (section 3.1: CIELAB was chosen; the paper "
                          "gives no numbers)", "isic2018", ISIC2018_TEST, metrics=("jaccard", "dice")),
}

PREFACE = (
    "AER-Net (Lima & Braz Júnior, \"Attention Efficient Residual U-Net: uma Rede Neural para a "
    "Segmentação de Lesões de Pele\", 2021). Row names are this suite's `--row` names; under each table "
    "the paper's own spelling of every row is listed. Jaccard (JSC) is the mean per-image Jaccard "
    "index, Dice (DSC) the mean per-image Dice coefficient (the paper's eqs. 4-5). Our runs for Tables 1-3 "
    "and the colour spaces: `python -m reproductions.aernet.train --row ROW --data-dir ISIC2018_ROOT` with "
    "the rows' split `count:2094` (2094 train, 500 test, no validation part: the last epoch's weights are "
    "scored on the 500 test images, each prediction at its image's own size).")


def _arrange(declared: dict, published: dict) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """The tables as shown: the colour-space rows under their own title, Table 3 in the paper's
    order (cited rows first; they show as literature rows)."""
    tables, numbers = {}, {}
    for table in SPECS:
        source = COLOUR_TABLE if table == COLOUR_KEY else table
        rows = list(declared[source])
        tables[table] = list(published[source]) if table == "Table 3" else rows
        numbers[table] = published[source]
    return tables, numbers


def _stem(table: str) -> str:
    return table.lower().replace(" ", "_")


def labels_note(table: str) -> str:
    """The paper's spelling of each row of ``table``, as a Markdown line."""
    source = COLOUR_TABLE if table == COLOUR_KEY else table
    pairs = [f"{row} = \u201c{label}\u201d" for row, label in PAPER_LABELS[source].items()]
    return "Paper's labels: " + "; ".join(pairs) + ".\n"


def _append_note(results_dir: Path, table: str, note: str) -> None:
    """Add ``note`` under the table in its own file and in the index README."""
    path = results_dir / f"{_stem(table)}.md"
    md = path.read_text()
    atomic_write_text(path, md + "\n" + note)
    readme = results_dir / "README.md"
    text = readme.read_text()
    atomic_write_text(readme, text.replace(md, md + "\n" + note, 1))


def parameter_table(results_dir: Path, size: int = 256) -> str:
    """Parameters of every row's model built at ``size`` x ``size`` (random weights)."""
    from reproductions.aernet.profile import build
    from common.profiling_cli import profile_row

    lines = ["## Parameters per row (ours; the paper gives none)", "",
             f"Every weight of the model built at {size}x{size} with `encoder_weights=None` (batch-norm "
             "statistics included); MACs per image over the convolutions. From "
             "`python -m reproductions.aernet.profile --all --no-latency`.", "",
             "| Row | encoder | attention | residual | colour space | params (M) | trainable (M) | MACs (G) |",
             "|---|---|---|---|---|---|---|---|"]
    rows = []
    for row, cfg in ROWS.items():
        res = profile_row(row, cfg, build, lambda c: c.input_shape, image_size=(size, size),
                          measure_latency=False)
        if "error" in res:
            cells = ["not built: " + res["error"]] + [""] * 2
        else:
            cells = [f"{res['params'] / 1e6:.2f}", f"{res['trainable_params'] / 1e6:.2f}",
                     f"{res['macs'] / 1e9:.2f}"]
        lines.append(f"| {row} | {cfg.encoder} | {cfg.use_attention} | {cfg.use_residual} | "
                     f"{cfg.colour_space} | " + " | ".join(cells) + " |")
        rows.append({"row": row, "encoder": cfg.encoder, "use_attention": cfg.use_attention,
                     "use_residual": cfg.use_residual, "colour_space": cfg.colour_space,
                     "image_size": f"{size}x{size}", "params": res["params"],
                     "trainable_params": res["trainable_params"], "macs": res["macs"],
                     "error": res.get("error", "")})
    md = "\n".join(lines) + "\n"
    atomic_write_text(results_dir / "parameters.md", md)
    write_csv(results_dir / "parameters.csv", rows)
    return md


def _arguments(parser) -> None:
    parser.add_argument("--skip-params", dest="skip_profile", action="store_true", help="the same as --skip-profile")


def _extra(args, results_dir: Path, written: list) -> str:
    for table in SPECS:
        _append_note(results_dir, table, labels_note(table))
    params = results_dir / "parameters.md"
    if not args.skip_profile:
        parameter_table(results_dir)
        written.append(params)
    return params.read_text() if params.exists() else ""


PROGRAM = PaperTables(
    SPECS, arrange=_arrange, preface=PREFACE,
    description="Regenerate results/aernet/ (Tables 1-3 and the colour-space comparison as Markdown "
                "and CSV, the runs on other data, the parameters of every row) from the run records: "
                "the paper's numbers beside ours, each of ours with its run's dataset, split, epochs, "
                "size, weights, backend and hardware; rows not run say so.",
    arguments=_arguments, extra=_extra,
    profile_help="do not rebuild the parameter table (building all 13 models takes minutes on a CPU); an "
                 "existing parameters.md is kept")


def main(argv=None) -> int:
    return table_main(PAPER, PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
