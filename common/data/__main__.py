"""Command line of the data layer: ``python -m common.data inspect [DIR] [--json]``."""
from __future__ import annotations

import argparse
import json
import sys

from .discovery import DATASETS, known_layouts
from .errors import DataError
from .inspect import format_report, inspect_dir


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommand ``inspect``)."""
    parser = argparse.ArgumentParser(
        prog="python -m common.data",
        description="Tools for the skin-lesion datasets.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Known layouts:\n" + known_layouts())
    sub = parser.add_subparsers(dest="command", required=True)
    ins = sub.add_parser(
        "inspect", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="report the datasets in a folder: counts per split and class, image sizes, problems",
        description="Find the datasets in DIR (or up to two folders below it, including the nested "
                    "folders the challenge zips unpack to) and report sample counts per split and class, "
                    "the range of image sizes (from file headers) and every problem found: unreadable "
                    "images, missing masks, masks whose size differs from their image, stray files.\n"
                    "Without DIR the built-in synthetic dataset is inspected.",
        epilog="examples:\n  python -m common.data inspect ~/data/ISIC2018\n"
               "  python -m common.data inspect ~/data/PH2Dataset --json\n"
               "  python -m common.data inspect --dataset synthetic --size 500\n\n"
               "Known layouts:\n" + known_layouts())
    ins.add_argument("dir", nargs="?", metavar="DIR", help="data folder (omit for the synthetic dataset)")
    ins.add_argument("--dataset", default="auto", choices=["auto", *DATASETS],
                     help="only report this dataset (default: every one found)")
    ins.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ins.add_argument("--deep", action="store_true",
                     help="decode every image and mask (finds truncated or corrupt files, grey-level, soft and "
                          "alpha-channel masks; slow). Without it only file headers are read: presence, "
                          "readability, and mask sizes against their images")
    ins.add_argument("--strict", action="store_true", help="exit with status 1 when problems are found")
    ins.add_argument("--size", type=int, default=200, help="number of synthetic samples (default 200)")
    ins.add_argument("--seed", type=int, default=0, help="synthetic dataset seed (default 0)")
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        report = inspect_dir(args.dir, dataset=args.dataset, deep=args.deep,
                             synthetic_size=args.size, seed=args.seed)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 1 if args.strict and report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
