"""`--fused-with`: the fused test (verifiers/fused_verdict.py) as an option of `calibrate`
and `verify`.

Why an option and not the default: it needs a second fingerprint of the same model (for
example one made with `--anchor-source subset` on the owner's own data), and its measured
gain (BENCHMARKS.md, "Distillation and the noise thief") is on one zoo. The commands keep
their own arguments (the positional fingerprint, --key, --negatives / the suspect,
--output, --force, --json); this module adds the fused ones and runs the fused path:

    modelgif calibrate OWNER.mgf --fused-with OWNER-DATA.mgf --negatives N/ -o FUSED-CAL.json
    modelgif verify OWNER.mgf SUSPECT.onnx --fused-with OWNER-DATA.mgf \\
        --calibration FUSED-CAL.json -o VERDICT.json

The positional fingerprint is the first component, each --fused-with the next, in order.
`verify -o` writes a signed fused-verdict statement (its own schema, every input file
hashed); `modelgif report` does not read it yet. The work is workflows/fused.py's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from modelgif.cli.common import command_line, owner_key
from modelgif.cli.output import emit
from modelgif.errors import InputError
from modelgif.validation import check_float
from modelgif.verifiers.fused import RULES
from modelgif.verifiers.fused_verdict import STATISTICS
from modelgif.workflows.fused import calibrate_fused, verify_fused

__all__ = ["add_fused_arguments", "run_fused", "wants_fused"]


def add_fused_arguments(parser: argparse.ArgumentParser) -> None:
    """--fused-with, --fused-rule, --fused-statistics (the same on calibrate and verify)."""
    group = parser.add_argument_group("fused test over several fingerprints of the model "
                                      "(an option)")
    group.add_argument("--fused-with", type=Path, action="append", metavar="FP.mgf",
                       help="another fingerprint of the same model (repeatable); the verdict "
                       "is one calibrated test over all of them")
    group.add_argument("--fused-rule", choices=RULES, default="max",
                       help="combine the standardised statistics by their max (default) or "
                       "mean")
    group.add_argument("--fused-statistics", metavar="S1,S2,...",
                       help=f"one per fingerprint, among {', '.join(STATISTICS)} (default "
                       "log-agreement for each)")


def wants_fused(args: argparse.Namespace) -> bool:
    """True when the command was given --fused-with."""
    return bool(getattr(args, "fused_with", None))


def run_fused(args: argparse.Namespace) -> int:
    """The fused path of `calibrate` (args has negatives) or of `verify` (args has suspect)."""
    if getattr(args, "query_budget", None) is not None:
        raise InputError("--fused-with compares fields; it does not take --query-budget.")
    if hasattr(args, "negatives"):
        return _calibrate(args)
    return _verify(args)


def _calibrate(args: argparse.Namespace) -> int:
    check_float(args.target_fpr, "--target-fpr", "calibrate", 1e-6, 0.5)  # before any work
    result = calibrate_fused(
        [args.fingerprint, *args.fused_with], args.negatives, key=owner_key(args),
        output=args.output, rule=args.fused_rule, statistics=args.fused_statistics,
        target_fpr=args.target_fpr, model_output=getattr(args, "model_output", None),
        force=args.force)
    calibration = result.calibration
    emit(result.to_dict(), args.json, f"{args.output}: fused null from "
         f"{len(result.negatives)} negatives ({calibration.method}); threshold "
         f"{calibration.null.null.threshold:.3g} for target FPR {calibration.target_fpr}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if getattr(args, "suspect", None) is None or getattr(args, "calibration", None) is None:
        raise InputError("--fused-with verifies a suspect's ONNX file against the fused "
                         "calibration named by --calibration.")
    result = verify_fused(
        [args.fingerprint, *args.fused_with], args.suspect, key=owner_key(args),
        calibration=args.calibration, statistics=args.fused_statistics,
        backend=getattr(args, "backend", "auto"),
        model_output=getattr(args, "model_output", None), command=command_line(args),
        output=args.output, force=args.force)
    verdict = result.verdict
    emit(result.record, args.json, f"{Path(args.suspect).name}: {verdict.decision.upper()} "
         f"(fused {result.rule}: {verdict.statistic:.3g} vs threshold "
         f"{verdict.threshold:.3g}, p = {verdict.p_value:.2g}, M = {verdict.n_null})")
    failed = getattr(args, "fail_on", None) == "derived" and verdict.decision == "derived"
    return 1 if failed else 0
