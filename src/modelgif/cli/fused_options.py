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
hashed); `modelgif report` does not read it yet.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli.common import command_line, owner_key
from modelgif.cli.output import emit
from modelgif.crypto.keys import keyid
from modelgif.errors import InputError
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.verifiers.fused import RULES
from modelgif.verifiers.fused_calibration_file import (
    load_fused_calibration,
    save_fused_calibration,
)
from modelgif.verifiers.fused_verdict import (
    STATISTICS,
    FusedComponent,
    Statistic,
    calibrate_fused,
    fused_verdict,
)
from modelgif.verifiers.record import environment, file_entry, now_utc
from modelgif.verifiers.signed_file import write_signed
from modelgif.workflows.calibrate import negative_files

__all__ = ["add_fused_arguments", "run_fused", "wants_fused"]

MAX_COMPONENTS = 8
FUSED_VERDICT_SCHEMA = "modelgif.fused-verdict/v1"
FUSED_VERDICT_TYPE = "https://modelgif.dev/fused-verdict/v1"


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


def _statistics(args: argparse.Namespace, k: int) -> list[Statistic]:
    if args.fused_statistics is None:
        return ["log-agreement"] * k
    names = [s.strip() for s in str(args.fused_statistics).split(",")]
    if len(names) != k or any(n not in STATISTICS for n in names):
        raise InputError(f"--fused-statistics needs {k} names among {', '.join(STATISTICS)}; "
                         f"got {args.fused_statistics!r}.")
    return [n for s in names for n in STATISTICS if n == s]


def _components(args: argparse.Namespace) -> tuple[list[Path], list[FusedComponent], Any]:
    paths = [Path(args.fingerprint), *args.fused_with]
    if len(paths) > MAX_COMPONENTS or len(set(paths)) != len(paths):
        raise InputError(f"Give 2 to {MAX_COMPONENTS} distinct fingerprints to fuse.")
    key = owner_key(args)
    fingerprints = [load_fingerprint(p, key.public_key()) for p in paths]
    if len({f.model_digest for f in fingerprints}) != 1:
        raise InputError("The fused fingerprints must all be of the same model.")
    components = [FusedComponent(f, open_secrets(f, key), s)
                  for f, s in zip(fingerprints, _statistics(args, len(paths)), strict=True)]
    return paths, components, key


def run_fused(args: argparse.Namespace) -> int:
    """The fused path of `calibrate` (args has negatives) or of `verify` (args has suspect)."""
    if hasattr(args, "negatives"):
        return _calibrate(args)
    return _verify(args)


def _calibrate(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    if getattr(args, "query_budget", None) is not None:
        raise InputError("--fused-with compares fields; it does not take --query-budget.")
    paths, components, key = _components(args)
    files = negative_files(args.negatives)
    wanted = getattr(args, "model_output", None) or recorded_output(
        components[0].fingerprint.config)
    negatives = [normalize(f, output=wanted, strict_output=False) for f in files]
    calibration = calibrate_fused(components, negatives, args.fused_rule, args.target_fpr)
    save_fused_calibration(args.output, [c.fingerprint for c in components], calibration, key,
                           args.force)
    null = calibration.null.null
    summary = {"file": str(args.output), "negatives": len(files), "method": calibration.method,
               "threshold": null.threshold, "fingerprints": [str(p) for p in paths]}
    emit(summary, args.json, f"{args.output}: fused null from {len(files)} negatives "
         f"({calibration.method}); threshold {null.threshold:.3g} for target FPR "
         f"{calibration.target_fpr}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if getattr(args, "suspect", None) is None or getattr(args, "calibration", None) is None:
        raise InputError("--fused-with verifies a suspect's ONNX file against the fused "
                         "calibration named by --calibration.")
    if getattr(args, "query_budget", None) is not None:
        raise InputError("--fused-with compares fields; it does not take --query-budget.")
    if args.output:
        check_output(args.output, args.force)
    paths, components, key = _components(args)
    calibration = load_fused_calibration(args.calibration, [c.fingerprint for c in components],
                                         key.public_key())
    wanted = getattr(args, "model_output", None) or recorded_output(
        components[0].fingerprint.config)
    suspect = normalize(args.suspect, output=wanted, strict_output=False)
    verdict = fused_verdict(components, suspect, calibration, getattr(args, "backend", "auto"))
    inputs = [file_entry("fingerprint", p, "sha256:" + c.fingerprint.model_digest)
              for p, c in zip(paths, components, strict=True)]
    inputs += [file_entry("suspect", args.suspect, suspect.digest, suspect.opset),
               file_entry("calibration", args.calibration)]
    record = {
        "schema": FUSED_VERDICT_SCHEMA, "created_at": now_utc(), "verdict": verdict.to_dict(),
        "inputs": inputs, "calibration": calibration.to_dict(), "command": command_line(args),
        "environment": environment(),
        "custody": [*({"at": c.fingerprint.created_at, "event": "fingerprint made",
                       "by": c.fingerprint.keyid} for c in components),
                    {"at": now_utc(), "event": "suspect verified", "by": keyid(key)}],
    }
    if args.output:
        subjects = [{"name": e["name"], "digest": {"sha256": e["sha256"]}} for e in inputs]
        write_signed(args.output, subjects, FUSED_VERDICT_TYPE, record, key, args.force)
    emit(record, args.json, f"{Path(args.suspect).name}: {verdict.decision.upper()} "
         f"(fused {calibration.rule}: {verdict.statistic:.3g} vs threshold "
         f"{verdict.threshold:.3g}, p = {verdict.p_value:.2g}, M = {verdict.n_null})")
    return 1 if getattr(args, "fail_on", None) == "derived" and verdict.decision == "derived" \
        else 0
