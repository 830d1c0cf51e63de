"""The shared ``table`` program: ``python -m reproductions.<paper>.table`` regenerates
``results/<paper>/`` from the run records, the paper's numbers beside ours.

The paper's tables (their rows) and its published numbers are part of its declaration
(:class:`~common.training.paper.Paper`: ``tables``, ``published``); its ``table.py`` adds how
each table is shown (:class:`PaperTables`: specs, what else it writes) and calls :func:`table_main`; the command
line, the shared tables (:func:`common.results.write_paper_tables`) and the README are the same for
every paper, and a package writes only its extra tables.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PaperTables:
    """How a paper's results tables are shown (their rows and the published numbers are the
    paper's declaration: ``Paper.tables``, ``Paper.published``).

    Args:
        specs: table name -> :class:`~common.results.TableSpec` (what it compares, on which data);
            the tables written, in this order.
        arrange: ``(tables, published) -> (tables, published)``: where a written table is not one
            of the paper's as declared (AER-Net's colour-space comparison under its own name, its
            Table 3 in the paper's order with the cited rows), the tables as shown.
        preface: the first paragraph of ``results/<paper>/README.md``.
        description: what ``--help`` says the program writes.
        options: further arguments of :func:`~common.results.write_paper_tables` (``other_metrics``,
            ``derived``, ``variants_checkpoint``).
        arguments: ``parser -> None``: the package's own options.
        extra: ``(args, results_dir, written) -> str``: the package's extra tables, written by it;
            the Markdown it returns is appended to the README (it may add to ``written``).
        profile_help: what ``--skip-profile`` skips in this package.
    """

    specs: Mapping[str, Any]
    arrange: Callable[[Mapping, Mapping], tuple[Mapping, Mapping]] | None = None
    preface: str = ""
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    extra: Callable[[argparse.Namespace, Path, list], str] | None = None
    profile_help: str = "accepted for symmetry with the other papers (this package profiles no model here)"


def table_parser(paper: str, program: PaperTables) -> argparse.ArgumentParser:
    from common.training.records import RUNS_ROOT_HELP, default_runs_root

    parser = argparse.ArgumentParser(prog=f"python -m reproductions.{paper}.table", description=program.description)
    parser.add_argument("--runs-root", default=str(default_runs_root()),
                        help="where the run folders are (" + RUNS_ROOT_HELP + ")")
    parser.add_argument("--results-dir", default=str(REPO / "results" / paper), help="output folder")
    parser.add_argument("--skip-profile", action="store_true", help=program.profile_help)
    if program.arguments is not None:
        program.arguments(parser)
    return parser


def table_main(paper, program: PaperTables, argv=None) -> int:
    """Regenerate ``results/<paper>/`` for ``paper`` (a :class:`~common.training.paper.Paper`):
    the shared tables, then the package's extra ones."""
    from common.results import write_paper_tables
    from common.training.records import atomic_write_text

    args = table_parser(paper.name, program).parse_args(argv)
    results_dir = Path(args.results_dir)
    tables, published = paper.tables, paper.published
    if program.arrange is not None:
        tables, published = program.arrange(tables, published)
    written = write_paper_tables(paper.name, paper.rows, tables, published, program.specs,
                                 args.runs_root, results_dir, preface=program.preface, **program.options)
    if program.extra is not None:
        md = program.extra(args, results_dir, written)
        if md:
            readme = results_dir / "README.md"
            atomic_write_text(readme, readme.read_text() + "\n" + md)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
