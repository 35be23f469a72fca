"""`modelgif zoo build|list|table`: the model zoo with ground truth (tests, benchmarks, demo).

Thin wrapper over modelgif.zoo: parses flags, shows a tqdm progress bar on stderr, prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from modelgif.cli.output import emit, printable
from modelgif.zoo import DATASETS, SIZES, Zoo, build_zoo, markdown_table, plan_zoo

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif zoo build --out zoo-small                 the small zoo (< 1 min): tests, demo
  modelgif zoo build --out zoo-full --size full      the benchmark zoo (~15 min, 2 cores)
  modelgif zoo list zoo-small --category extract-p   the models of one category
  modelgif zoo table zoo-full                        per-category counts, accuracy, agreement

A zoo is a folder: zoo.json (ground truth: category, parent, source, recipe, measured test
accuracy and agreement, digest), models/<id>.onnx (normalized ONNX), data/<dataset>.npz
(the owner / attacker / test splits). The same --seed gives the same digests.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "zoo",
        help="build or inspect the model zoo (real trained models with ground truth)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="zoo_command", metavar="<action>", required=True)

    build = actions.add_parser("build", help="train and export a zoo into a folder")
    build.add_argument("--out", type=Path, required=True, help="the zoo folder to write")
    build.add_argument("--size", choices=sorted(SIZES), default="small",
                       help="small (tests, demo) or full (benchmarks); default small")
    build.add_argument("--seed", type=int, default=0, help="the zoo seed (default 0)")
    build.add_argument("--dataset", action="append", choices=DATASETS, dest="datasets",
                       help="only this dataset (repeatable; default: the size's datasets)")
    build.add_argument("--force", "--overwrite", action="store_true", dest="overwrite",
                       help="replace an existing zoo")
    build.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                       help="processes that train in parallel (default: min(2, CPUs))")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.add_argument("--json", action="store_true", help="print JSON on stdout")
    build.set_defaults(func=run)

    listing = actions.add_parser("list", help="list a zoo's models")
    listing.add_argument("zoo", type=Path, help="the zoo folder")
    listing.add_argument("--dataset", help="only this dataset")
    listing.add_argument("--category", help="only this category")
    listing.add_argument("--json", action="store_true", help="print JSON on stdout")
    listing.set_defaults(func=run)

    table = actions.add_parser("table", help="per-category statistics as Markdown")
    table.add_argument("zoo", type=Path, help="the zoo folder")
    table.add_argument("--json", action="store_true", help="print JSON on stdout")
    table.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.zoo_command == "build":
        return _build(args)
    zoo = Zoo.load(args.zoo)
    if args.zoo_command == "list":
        return _list(zoo, args)
    emit({"markdown": markdown_table(zoo)}, args.json, markdown_table(zoo).rstrip("\n"))
    return 0


def _build(args: argparse.Namespace) -> int:
    datasets = tuple(args.datasets) if args.datasets else None
    total = len(plan_zoo(args.size, args.seed, datasets))
    start = time.monotonic()
    with tqdm(total=total, desc=f"zoo {args.size}", unit="model", file=sys.stderr,
              disable=args.no_progress, dynamic_ncols=True) as bar:

        def progress(model_id: str) -> None:
            bar.set_postfix_str(model_id, refresh=False)
            bar.update(1)

        zoo = build_zoo(args.out, args.size, args.seed, datasets=datasets, progress=progress,
                        overwrite=args.overwrite, workers=args.workers)
    seconds = time.monotonic() - start
    summary = {"zoo": str(zoo.root), "models": len(zoo.models), "size": args.size,
               "seed": args.seed, "workers": args.workers, "seconds": round(seconds, 1)}
    human = f"{zoo.root}: {len(zoo.models)} models ({args.size}, seed {args.seed}) " \
            f"in {seconds:.0f} s"
    emit(summary, args.json, human)
    return 0


def _list(zoo: Zoo, args: argparse.Namespace) -> int:
    records = zoo.select(dataset=args.dataset, category=args.category)
    if args.json:
        emit({"models": [r.to_dict() for r in records]}, True, "")
        return 0
    lines = [f"{'id':48} {'category':20} {'arch':9} {'acc':>6} {'agree':>6}  parent"]
    for r in records:
        agree = "" if r.parent_agreement is None else f"{r.parent_agreement:6.3f}"
        lines.append(f"{r.id:48} {r.category:20} {r.architecture:9} {r.test_accuracy:6.3f} "
                     f"{agree:>6}  {r.parent or '-'}")
    print("\n".join(printable(line) for line in lines))  # ids come from the manifest
    return 0
