"""`modelgif distance MODEL... --key NAME.key`: pairwise ModelGiF distances at one anchor set."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelgif.cli.common import add_key_arguments, owner_key
from modelgif.cli.output import emit, parse_range
from modelgif.fingerprint.anchors import AnchorConfig, load_pool
from modelgif.fingerprint.normalize import normalize
from modelgif.verifiers.distance import distance_matrix

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif distance a.onnx b.onnx c.onnx --key owner.key
  modelgif distance models/*.onnx --key owner.key --anchors pool.npy --json

Distance = mean over anchors and path steps of 1 - cosine of the two gradient fields
(0: same field; about 1: unrelated; up to 2: opposite). Secret anchors derived from your key.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "distance", help="pairwise ModelGiF distance matrix of several models",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", help="ONNX models (same input shape)")
    add_key_arguments(parser)
    parser.add_argument("--anchors", type=Path, metavar="POOL.npy", help="input pool")
    parser.add_argument("--anchors-count", type=int, default=64)
    parser.add_argument("--input-range", type=parse_range, metavar="LOW,HIGH",
                        help="the input's value range, for models that do not declare it")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    key = owner_key(args)
    models = [normalize(path) for path in args.models]
    pool = load_pool(args.anchors) if args.anchors else None
    names = [path.name for path in args.models]
    matrix = distance_matrix(models, names, key,
                             replace(AnchorConfig(), n_anchors=args.anchors_count), pool=pool,
                             input_range=args.input_range)
    width = max(len(n) for n in names)
    header = " " * width + "  " + "  ".join(f"{n[:8]:>8}" for n in names)
    rows = [f"{n:<{width}}  " + "  ".join(f"{v:8.3f}" for v in row)
            for n, row in zip(names, matrix.distances, strict=True)]
    emit(matrix.to_dict(), args.json, "\n".join([header, *rows]))
    return 0
