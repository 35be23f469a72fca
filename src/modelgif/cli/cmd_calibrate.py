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
from modelgif.cli.output import emit
from modelgif.errors import InputError
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.verifiers.ownership import calibrate, save_calibration
from modelgif.verifiers.probe_verdict import calibrate_probes, plan_queries

__all__ = ["negative_files", "register", "run"]

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
  modelgif calibrate model.mgf --negatives independents/ --key owner.key \
      --output-kind probabilities --query-budget 1024 -o cal-prob-1024.json
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "calibrate", help="fit the verdict threshold from independent models",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fingerprint", type=Path, help="the owner's .mgf")
    parser.add_argument("--negatives", type=Path, nargs="+", required=True,
                        metavar="DIR_OR_FILE", help="independent ONNX models (files or folders)")
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
    parser.set_defaults(func=run)


def negative_files(items: list[Path]) -> list[Path]:
    """Expand folders to their .onnx files (sorted); refuse anything else."""
    files: list[Path] = []
    for item in items:
        if item.is_dir():
            files += sorted(item.glob("*.onnx"))
        elif item.is_file():
            files.append(item)
        else:
            raise InputError(f"{item}: no such file or folder")
    if len(files) < 5:
        raise InputError(f"Calibration needs at least 5 negative models; got {len(files)}.")
    return files


def run(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    key = owner_key(args)
    fingerprint = load_fingerprint(args.fingerprint, key.public_key())
    secrets = open_secrets(fingerprint, key)
    files = negative_files(args.negatives)
    wanted = args.model_output or recorded_output(fingerprint.config)
    negatives = [normalize(f, output=wanted, strict_output=args.model_output is not None)
                 for f in files]
    if args.query_budget is not None:
        plan = plan_queries(fingerprint, args.query_budget, args.output_kind, args.top_k)
        fitted = calibrate_probes(fingerprint, secrets, negatives, plan, args.target_fpr)
    else:
        with progress_bar("negatives", enabled=not args.json) as progress:
            fitted = calibrate(fingerprint, secrets, negatives, args.target_fpr,
                               progress=progress)
    save_calibration(args.output, fingerprint, fitted, [f.name for f in files], key,
                     args.force)
    main = fitted.get("sketch") or next(iter(fitted.values()))
    summary = {"file": str(args.output), "negatives": len(files),
               **{name: {"threshold": c.threshold, "fpr_bound": c.fpr_bound,
                         "fpr_bound_empirical": c.fpr_bound_empirical}
                  for name, c in fitted.items()}}
    human = (f"{args.output}: null from {len(files)} negatives; threshold T > "
             f"{main.threshold:.3g} for target FPR {args.target_fpr} (Gaussian bound "
             f"{main.fpr_bound:.3g}; distribution-free bound {main.fpr_bound_empirical:.3g})")
    emit(summary, args.json, human)
    return 0
