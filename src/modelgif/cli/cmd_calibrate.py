"""`modelgif calibrate MODEL.mgf --negatives DIR_OR_LIST`: fit the null from independent models."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli.common import (
    add_budget_arguments,
    add_force_argument,
    add_key_arguments,
    owner_key,
    progress_bar,
)
from modelgif.cli.fused_options import add_fused_arguments, run_fused, wants_fused
from modelgif.cli.output import emit
from modelgif.validation import check_float
from modelgif.workflows.calibrate import calibrate

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif calibrate model.mgf --negatives independents/ --key owner.key -o cal.json
  modelgif calibrate model.mgf --negatives a.onnx b.onnx c.onnx --target-fpr 0.05 -o cal.json

The negatives must be models made WITHOUT your model (other seeds, architectures, data), and
must never be the models you later evaluate on. Each negative's log-agreement with your model
(T = -mean over anchors of log(1 - similarity)) is computed; the threshold on T holds the
target false-positive rate with 95 % confidence under a Gaussian null, and is never below the
largest negative's T. The distribution-free bound that so few negatives support is reported
next to it. Use negatives that look like the suspects (same architectures, similar data):
the rate only holds for independent models like them.

For verdicts within a query budget (`verify --query-budget N --output-kind K`), calibrate
with the same N and K: the negatives are queried at the same probe points, answering as an
API of kind K would, and the calibration is bound to that kind and N:
  modelgif calibrate model.mgf --negatives independents/ --key owner.key \\
      --output-kind probabilities --query-budget 1024 -o cal-prob-1024.json
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "calibrate", help="fit the verdict threshold from independent models",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fingerprint", type=Path, help="the owner's .mgf")
    parser.add_argument("--negatives", type=Path, nargs="+", required=True,
                        metavar="DIR_OR_FILE",
                        help="independent ONNX models (files or folders; for a text "
                             "fingerprint also Hugging Face folders)")
    add_key_arguments(parser)
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="CAL.json",
                        help="the calibration to write, signed with --key")
    add_force_argument(parser)
    add_budget_arguments(parser)
    parser.add_argument("--model-output", metavar="NAME",
                        help="the negatives' output to compare (default: the one named as in "
                             "the fingerprint, else the first)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    add_fused_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if wants_fused(args):
        return run_fused(args)
    check_output(args.output, args.force)
    check_float(args.target_fpr, "--target-fpr", "calibrate", 1e-6, 0.5)  # before any work
    key = owner_key(args)
    with progress_bar("negatives", enabled=not args.json) as progress:
        result = calibrate(args.fingerprint, args.negatives, key=key,
                           target_fpr=args.target_fpr, query_budget=args.query_budget,
                           output_kind=args.output_kind, top_k=args.top_k,
                           model_output=args.model_output, output=args.output,
                           force=args.force, progress=progress)
    main = result.main
    human = (f"{args.output}: null from {len(result.negatives)} negatives; threshold T > "
             f"{main.threshold:.3g} for target FPR {args.target_fpr} (Gaussian bound "
             f"{main.fpr_bound:.3g}; distribution-free bound {main.fpr_bound_empirical:.3g})")
    emit(result.to_dict(), args.json, human)
    return 0
