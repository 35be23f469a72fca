"""modelgif: forensics for neural networks with ModelGiF gradient fields.

    fingerprint/  model -> NormalizedModel -> field at secret anchors -> signed fingerprint
    verifiers/    fingerprint + suspect -> Verdict (ownership; unlearning)
    reports/      verdicts -> signed evidence.json -> offline report.html
    zoo/          real trained models with ground truth (tests, benchmarks, demo)
    cli/          `modelgif ...`: thin wrappers over this API

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
from modelgif.fingerprint import NormalizedModel, TensorSpec, load_normalized, normalize

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "InputError",
    "IntegrityError",
    "ModelLoadError",
    "ModelgifError",
    "NormalizedModel",
    "TensorSpec",
    "__version__",
    "load_normalized",
    "normalize",
]
