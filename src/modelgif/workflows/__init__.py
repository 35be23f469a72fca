"""modelgif.workflows: each job a user runs, as one Python call.

    cli/cmd_*.py      parse flags, check outputs, ask for a passphrase, print, exit code
        │
    workflows/        one call per job: files and a key in, a typed result out, the signed
        │             record written only when asked (`output=`, `force=`)
        │  verify.py      fingerprint + suspect (file, budget, server) -> VerifyResult
        │  calibrate.py   fingerprint + negatives -> CalibrationResult (signed CAL.json)
        │  fused.py       several fingerprints of one model -> one calibrated test (an option)
        │  audit.py       original + claimed + forget set -> AuditResult
        │  report.py      verdict files -> ReportBundle; bundle -> ReportCheck
        │  text.py        the text-model branch of verify and calibrate
        │  keys.py, command.py   the key as object or file; the command a record repeats
        │
    fingerprint/, verifiers/, reports/, remote/   the pieces (fields, statistics, records)

Why: every step of a workflow has an order that matters (the key before the fingerprint it
verifies, the fingerprint before the calibration bound to it, the calibration's test before
a query is spent); written once here, the CLI, the demo and a Python user share it. A
workflow never prints and never reads sys.argv: the CLI passes the command it ran.
"""

from modelgif.workflows.audit import AuditResult, audit_unlearning
from modelgif.workflows.calibrate import CalibrationResult, calibrate
from modelgif.workflows.fused import (
    FusedCalibrationResult,
    FusedVerifyResult,
    calibrate_fused,
    verify_fused,
)
from modelgif.workflows.report import ReportCheck, verify_report, write_report
from modelgif.workflows.verify import RemoteSuspect, VerifyResult, verify

__all__ = [
    "AuditResult",
    "CalibrationResult",
    "FusedCalibrationResult",
    "FusedVerifyResult",
    "RemoteSuspect",
    "ReportCheck",
    "VerifyResult",
    "audit_unlearning",
    "calibrate",
    "calibrate_fused",
    "verify",
    "verify_fused",
    "verify_report",
    "write_report",
]
