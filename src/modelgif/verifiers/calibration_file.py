"""CAL.json: a fitted null, signed by the owner and bound to one fingerprint.

Why signed and bound twice: a calibration file decides whether a suspect is "derived" at a
stated false-positive rate. An edited file that is still self-consistent (a lower
threshold, re-fitted numbers) would make an independent model "derived"; a file made for
another fingerprint would score the suspect against the wrong null. So the file is a DSSE
envelope signed by the owner's key (verifiers/signed_file.py), and loading checks, after
the signature, the fingerprint's id, its anchor commitment at the top level AND inside
every estimator, the model digest in the subject, and a strict schema (digests, negatives,
every number re-validated by Calibration.from_dict).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelgif.crypto.keys import PrivateKey, PublicKey
from modelgif.digests import is_sha256
from modelgif.errors import InputError
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.output_kinds import ESTIMATOR_PATTERN
from modelgif.verifiers.signed_file import read_signed, write_signed

__all__ = ["CALIBRATION_SCHEMA", "PREDICATE_TYPE", "load_calibration", "save_calibration"]

CALIBRATION_SCHEMA = "modelgif.calibration/v2"
PREDICATE_TYPE = "https://modelgif.dev/calibration/v2"
MAX_CALIBRATION_BYTES = 16 * 1024 * 1024
SKETCHES = ("sketch", "sketch_coarse")
_KEYS = {"schema", "fingerprint_id", "commitment", "negatives", "estimators"}
_FIX = "re-run `modelgif calibrate` to write a signed one"


def save_calibration(
    path: str | Path,
    fingerprint: Fingerprint,
    calibrations: dict[str, Calibration],
    negatives: Sequence[str],
    private_key: PrivateKey,
    force: bool = False,
) -> Path:
    """Sign and write CAL.json, bound to the fingerprint by id and anchor commitment."""
    predicate = {
        "schema": CALIBRATION_SCHEMA,
        "fingerprint_id": fingerprint.fingerprint_id.hex(),
        "commitment": fingerprint.commitment,
        "negatives": list(negatives),
        "estimators": {name: cal.to_dict() for name, cal in calibrations.items()},
    }
    _check(predicate, fingerprint, Path(path))
    subjects = [{"name": f"fingerprint-{predicate['fingerprint_id']}",
                 "digest": {"sha256": fingerprint.model_digest}}]
    return write_signed(path, subjects, PREDICATE_TYPE, predicate, private_key, force)


def load_calibration(
    path: str | Path, fingerprint: Fingerprint, public_key: PublicKey
) -> dict[str, Calibration]:
    """Read CAL.json (hostile input): the owner's signature first, then that it is
    `fingerprint`'s (id, commitment, model digest) and well formed."""
    path = Path(path)
    statement = read_signed(path, PREDICATE_TYPE, public_key, "calibration file", _FIX,
                            MAX_CALIBRATION_BYTES)
    subject = statement["subject"]
    if subject != [{"name": f"fingerprint-{fingerprint.fingerprint_id.hex()}",
                    "digest": {"sha256": fingerprint.model_digest}}]:
        raise InputError(f"{path}: calibrated for another fingerprint")
    return _check(statement["predicate"], fingerprint, path)


def _check(data: dict[str, Any], fingerprint: Fingerprint, path: Path) -> dict[str, Calibration]:
    if set(data) != _KEYS or data["schema"] != CALIBRATION_SCHEMA:
        raise InputError(f"{path}: not a {CALIBRATION_SCHEMA} calibration")
    if (data["fingerprint_id"] != fingerprint.fingerprint_id.hex()
            or data["commitment"] != fingerprint.commitment):
        raise InputError(f"{path}: calibrated for another fingerprint")
    estimators, negatives = data["estimators"], data["negatives"]
    if not isinstance(estimators, dict) or not estimators or not all(
            name in SKETCHES or ESTIMATOR_PATTERN.fullmatch(name) for name in estimators):
        raise InputError(f"{path}: field 'estimators' must map {'/'.join(SKETCHES)} or "
                         "probe:<kind>:<points> to nulls")
    if not isinstance(negatives, list) or not all(isinstance(n, str) and n for n in negatives):
        raise InputError(f"{path}: field 'negatives' must list the negatives' names")
    fitted: dict[str, Calibration] = {}
    for name, value in estimators.items():
        calibration = Calibration.from_dict(value)
        if calibration.anchor_commitment != fingerprint.commitment:
            raise InputError(f"{path}: estimator {name!r} was fitted at other anchors")
        if len(calibration.null_ids) != len(negatives) or not all(
                i.startswith("sha256:") and is_sha256(i[7:]) for i in calibration.null_ids):
            raise InputError(f"{path}: estimator {name!r} must list one sha256 digest per "
                             "negative")
        fitted[name] = calibration
    return fitted
