"""modelgif: forensics for neural networks with ModelGiF gradient fields.

    fingerprint/  model -> NormalizedModel -> field at secret anchors -> signed fingerprint
    verifiers/    fingerprint + suspect -> Verdict (ownership; unlearning)
    reports/      verdicts -> signed evidence.json -> offline report.html
    zoo/          real trained models with ground truth (tests, benchmarks, demo)
    workflows/    one call per job: verify, calibrate, audit_unlearning, write_report,
                  verify_report; the fused option: calibrate_fused, verify_fused (files and
                  a key in, a typed result out)
    cli/          `modelgif ...`: thin wrappers over the workflows

The library never prints; it logs. Negative forensic results are data (Verdicts); only bad
input (InputError, exit 2) and failed integrity checks (IntegrityError) raise.
"""

from modelgif.errors import (
    BackendError,
    InputError,
    IntegrityError,
    ModelgifError,
    ModelLoadError,
)
from modelgif.fingerprint import (
    NormalizedModel,
    TensorSpec,
    create_fingerprint,
    load_normalized,
    normalize,
)
from modelgif.workflows import (
    AuditResult,
    CalibrationResult,
    FusedCalibrationResult,
    FusedVerifyResult,
    RemoteSuspect,
    ReportCheck,
    VerifyResult,
    audit_unlearning,
    calibrate,
    calibrate_fused,
    verify,
    verify_fused,
    verify_report,
    write_report,
)

__version__ = "0.1.0"

__all__ = [
    "AuditResult",
    "BackendError",
    "CalibrationResult",
    "FusedCalibrationResult",
    "FusedVerifyResult",
    "InputError",
    "IntegrityError",
    "ModelLoadError",
    "ModelgifError",
    "NormalizedModel",
    "RemoteSuspect",
    "ReportCheck",
    "TensorSpec",
    "VerifyResult",
    "__version__",
    "audit_unlearning",
    "calibrate",
    "calibrate_fused",
    "create_fingerprint",
    "load_normalized",
    "normalize",
    "verify",
    "verify_fused",
    "verify_report",
    "write_report",
]
