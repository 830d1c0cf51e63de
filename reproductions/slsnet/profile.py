"""Parameters, MACs and inference speed of SLSNet generators (Table 5, MACs of Tables 6-7).

    python -m reproductions.slsnet.profile                      # generator rows of Tables 5-7
    python -m reproductions.slsnet.profile --row "SLSNet 64" --runs 5 --json
    python -m reproductions.slsnet.profile --all --no-latency   # every row of ROWS

Only the generator is profiled: it is the network that segments at inference; the
discriminator is used in training only. MACs are per image, counted from the built model by
`common.profiling` (convolutions, transposed convolutions). The paper's MACs(G) leave out the
attention matrix products (its Table 6 gives BL + CAM, whose CAMs have no convolution, the
same 0.85 G as BL GAN, and MACs scale with the pixel count from 64 to 256), so ``macs`` here
follows that convention and ``attention_macs`` reports the PAM/CAM products apart;
``--count-attention`` adds them to ``macs``. Latency is the median of ``--runs`` calls of
``predict_on_batch`` on one image on this machine's default Keras device; FPS = 1000 / ms.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .configs import PUBLISHED, ROWS, TABLES, get_row  # noqa: E402

DEFAULT_TABLES = ("Table 5", "Table 6", "Table 7")
# The fields build_generator reads: rows equal on these have the same generator.
GENERATOR_FIELDS = ("image_size", "in_channels", "use_multiscale", "use_pam", "use_cam",
                    "multiscale_width", "multiscale_factors", "widths", "num_fams",
                    "fam_dilations", "decoder_widths", "decoder_fams", "pam_reduction",
                    "dropout")


def _generator_key(cfg) -> tuple:
    return tuple(getattr(cfg, name) for name in GENERATOR_FIELDS)


def default_rows() -> list[str]:
    """The generator rows of Tables 5-7 (each once, in table order)."""
    rows: list[str] = []
    for table in DEFAULT_TABLES:
        rows.extend(row for row in TABLES[table] if row not in rows)
    return rows


def paper_macs(row: str, image_size: int | None = None) -> dict[str, float]:
    """The paper's MACs(G) for the generator of ``row``: ``{table: value}`` (Tables 5-7).

    Rows with the same generator share their numbers (Table 3's and Table 8's SLSNet are
    Table 6's); an ``image_size`` other than the row's own has none.
    """
    cfg = get_row(row)
    key = _generator_key(cfg)
    if image_size is not None and image_size != cfg.image_size[0]:
        return {}
    found = {}
    for table in DEFAULT_TABLES:
        for name, entry in PUBLISHED[table].items():
            if (name in ROWS and _generator_key(ROWS[name]) == key
                    and entry.get("macs_g") is not None):
                found.setdefault(table, entry["macs_g"])
    return found


def profile_row(row: str, *, image_size: int | None = None, runs: int = 20, warmup: int = 5,
                count_attention: bool = False, measure_latency: bool = True) -> dict:
    """Profile the generator of one row.

    Args:
        row: a name of `ROWS`.
        image_size: override of the row's input size (None: the row's own).
        runs, warmup: timed and untimed ``predict_on_batch`` calls.
        count_attention: include the attention matrix products in ``macs``.
        measure_latency: time the model (``latency_ms``/``fps`` are None otherwise).

    Returns:
        ``{"row", "image_size", "params", "trainable_params", "macs", "layer_macs",
        "attention_macs", "latency_ms", "fps", "paper_macs_g", "backend"}``.
    """
    from dataclasses import replace

    import keras

    from common.profiling import profile_model

    from .model import build_generator

    cfg = get_row(row)
    if image_size is not None:
        cfg = replace(cfg, image_size=int(image_size))
    keras.utils.clear_session(free_memory=True)
    generator = build_generator(cfg)
    stats = profile_model(generator, (*cfg.image_size, cfg.in_channels),
                          warmup=warmup, runs=runs, include_matmul=count_attention,
                          measure_latency=measure_latency)
    return {
        "row": row,
        "image_size": cfg.image_size[0],
        "params": stats["params"],
        "trainable_params": stats["trainable_params"],
        "macs": stats["macs"],
        "layer_macs": stats["layer_macs"],
        "attention_macs": stats["matmul_macs"],
        "latency_ms": stats["latency_ms"],
        "fps": stats["fps"],
        "paper_macs_g": paper_macs(row, cfg.image_size[0]),
        "backend": keras.backend.backend(),
    }


def _format(results: list[dict]) -> str:
    width = max([len("row")] + [len(r["row"]) for r in results])
    header = (f"{'row':<{width}} {'size':>5} {'params (M)':>10} {'MACs (G)':>9} {'paper':>10} "
              f"{'attn (G)':>9} {'ms':>8} {'FPS':>8}")
    lines = [header, "-" * len(header)]
    for r in results:
        values = sorted(set(r["paper_macs_g"].values()))
        paper = "/".join(f"{v:.2f}" for v in values) or "-"
        ms = "-" if r["latency_ms"] is None else f"{r['latency_ms']:.2f}"
        fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
        lines.append(f"{r['row']:<{width}} {r['image_size']:>5} {r['params'] / 1e6:>10.3f} "
                     f"{r['macs'] / 1e9:>9.3f} {paper:>10} {r['attention_macs'] / 1e9:>9.3f} "
                     f"{ms:>8} {fps:>8}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reproductions.slsnet.profile",
        description=(
            "Print the Table 5 columns of SLSNet generators: parameters, MACs per image (G), "
            "latency (ms) and frames per second. MACs follow the paper's convention "
            "(convolution layers only; the PAM/CAM matrix products are shown apart as "
            "'attn'); 'paper' is the paper's MACs(G) for the row (Tables 5-7). Default rows: "
            "the generator rows of Tables 5-7."),
        epilog=f"Rows: {'; '.join(ROWS)}",
    )
    parser.add_argument("--row", action="append", metavar="R",
                        help="row of ROWS to profile (repeatable), e.g. --row 'SLSNet 64'")
    parser.add_argument("--all", action="store_true", help="profile every row of ROWS")
    parser.add_argument("--image-size", type=int, metavar="N",
                        help="override the rows' input size (N x N, a multiple of 8)")
    parser.add_argument("--runs", type=int, default=20, metavar="K",
                        help="timed predict_on_batch calls; the median is reported (default 20)")
    parser.add_argument("--warmup", type=int, default=5, metavar="W",
                        help="untimed calls before timing (default 5, at least 1)")
    parser.add_argument("--no-latency", action="store_true",
                        help="skip timing: parameters and MACs only")
    parser.add_argument("--count-attention", action="store_true",
                        help="include the PAM/CAM matrix products in the MACs column")
    parser.add_argument("--json", action="store_true",
                        help='print a JSON list of {"row", "image_size", "params", "macs", '
                             '"latency_ms", ...} instead of a table')
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.row and args.all:
        parser.error("give --row or --all, not both")
    rows = list(ROWS) if args.all else (args.row or default_rows())
    unknown = [row for row in rows if row not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {unknown}; known rows: {'; '.join(ROWS)}")
    if args.image_size is not None and (args.image_size <= 0 or args.image_size % 8):
        parser.error(f"--image-size must be a positive multiple of 8, got {args.image_size}")
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    results = []
    for row in rows:
        results.append(profile_row(row, image_size=args.image_size, runs=args.runs,
                                   warmup=args.warmup, count_attention=args.count_attention,
                                   measure_latency=not args.no_latency))
        if not args.json:
            print(f"profiled {row!r}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(_format(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
