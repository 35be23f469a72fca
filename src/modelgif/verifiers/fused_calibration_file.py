"""FUSED-CAL.json: a fused calibration (verifiers/fused_verdict.py), signed by the owner.

Why signed, like CAL.json (calibration_file.py): the negatives' statistics decide whether a
suspect is "derived" at a stated false-positive rate, and an edited file that is still
self-consistent would move that line. The file is a DSSE envelope over an in-toto statement
(signed_file.py) whose subjects are the fingerprints it was fitted on (id and model
digest); loading checks the signature first, then that the subjects, fingerprint ids and
anchor commitments are the given fingerprints', then every field (FusedCalibration.from_dict).
No threshold is stored: it is refitted from the signed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelgif.crypto.keys import PrivateKey, PublicKey
from modelgif.errors import InputError
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.fused_verdict import FusedCalibration
from modelgif.verifiers.signed_file import read_signed, write_signed

__all__ = ["FUSED_SCHEMA", "PREDICATE_TYPE", "load_fused_calibration", "save_fused_calibration"]

FUSED_SCHEMA = "modelgif.fused-calibration/v1"
PREDICATE_TYPE = "https://modelgif.dev/fused-calibration/v1"
MAX_BYTES = 16 * 1024 * 1024
_FIX = "re-run the fused calibration to write a signed one"


def _subjects(fingerprints: Sequence[Fingerprint]) -> list[dict[str, Any]]:
    return [{"name": f"fingerprint-{f.fingerprint_id.hex()}",
             "digest": {"sha256": f.model_digest}} for f in fingerprints]


def _bound(calibration: FusedCalibration, fingerprints: Sequence[Fingerprint],
           path: Path) -> FusedCalibration:
    ids = tuple(f.fingerprint_id.hex() for f in fingerprints)
    commitments = tuple(f.commitment for f in fingerprints)
    if calibration.fingerprint_ids != ids or calibration.commitments != commitments:
        raise InputError(f"{path}: fitted on other fingerprints (give the same fingerprints, "
                         "in the same order)")
    if len({f.model_digest for f in fingerprints}) != 1:
        raise InputError(f"{path}: the fingerprints are of different models")
    return calibration


def save_fused_calibration(
    path: str | Path,
    fingerprints: Sequence[Fingerprint],
    calibration: FusedCalibration,
    private_key: PrivateKey,
    force: bool = False,
) -> Path:
    """Sign and write the calibration, bound to its fingerprints (ids, commitments, model)."""
    _bound(calibration, fingerprints, Path(path))
    predicate = {"schema": FUSED_SCHEMA, "calibration": calibration.to_dict()}
    return write_signed(path, _subjects(fingerprints), PREDICATE_TYPE, predicate, private_key,
                        force)


def load_fused_calibration(
    path: str | Path, fingerprints: Sequence[Fingerprint], public_key: PublicKey
) -> FusedCalibration:
    """Read a fused calibration (hostile input): the owner's signature first, then that it
    is bound to `fingerprints`, then every field."""
    path = Path(path)
    statement = read_signed(path, PREDICATE_TYPE, public_key, "fused calibration file", _FIX,
                            MAX_BYTES)
    if statement["subject"] != _subjects(fingerprints):
        raise InputError(f"{path}: fitted on other fingerprints")
    predicate = statement["predicate"]
    if not isinstance(predicate, dict) or set(predicate) != {"schema", "calibration"} or \
            predicate["schema"] != FUSED_SCHEMA:
        raise InputError(f"{path}: not a {FUSED_SCHEMA} file")
    return _bound(FusedCalibration.from_dict(predicate["calibration"]), fingerprints, path)
