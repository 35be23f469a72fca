"""A fingerprint opened once for a whole scan: what a worker needs, and nothing more.

    driver: owner key + M.mgf (+ CAL.json) ──open_job──> ScanJob
        fingerprint file (public, signed), the per-fingerprint secrets (anchors + sketch
        secret: exactly what `modelgif reveal` would hand out), the calibrations
    worker: ScanJob ──fingerprint()──> Fingerprint ──verify_suspect──> Verdict

Why a separate object: the owner's private key must never leave the driver, yet a worker
(another process, or a Ray node) must recompute fields at the anchors. A ScanJob carries
only the per-fingerprint secrets, so a compromised worker learns those fingerprints'
anchors and nothing about the owner's key or other fingerprints. It is plain data
(picklable: Fingerprint's read-only mapping is rebuilt on the worker side).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from modelgif.crypto.keys import PrivateKey
from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.fingerprint.create import FingerprintSecrets, open_secrets
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.fingerprint.text.fingerprint import is_text_fingerprint
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.calibration_file import MAX_CALIBRATION_BYTES
from modelgif.verifiers.calibration_file import PREDICATE_TYPE as CALIBRATION_PREDICATE
from modelgif.verifiers.ownership import load_calibration
from modelgif.verifiers.signed_file import read_signed

__all__ = ["ScanJob", "open_job", "open_jobs"]


@dataclass(frozen=True)
class ScanJob:
    """One fingerprint with its secrets and calibrations, ready to ship to a worker."""

    fingerprint_id: str  # hex
    statement: dict[str, Any]
    envelope: dict[str, Any]
    arrays: dict[str, np.ndarray]
    sealed_anchors: bytes
    secrets: FingerprintSecrets
    calibrations: dict[str, Calibration] | None
    header: dict[str, Any]  # the public description written into the scan file

    def fingerprint(self) -> Fingerprint:
        """The verified fingerprint again (it was verified by the driver)."""
        return Fingerprint(self.statement, self.envelope, MappingProxyType(self.arrays),
                           self.sealed_anchors, verified=True)


def open_job(path: Path, key: PrivateKey, calibration: Path | None = None) -> ScanJob:
    """Verify M.mgf with the owner's key, open its secrets, read its calibration."""
    return _job(path, load_fingerprint(path, key.public_key()), key, calibration)


def _job(path: Path, fingerprint: Fingerprint, key: PrivateKey,
         calibration: Path | None) -> ScanJob:
    # workers need the anchors and the sketch secret only, not the key to the probe outputs
    secrets = replace(open_secrets(fingerprint, key), anchor_key=b"")
    calibrations = (load_calibration(calibration, fingerprint, key.public_key())
                    if calibration else None)
    header: dict[str, Any] = {
        "id": fingerprint.fingerprint_id.hex(),
        "name": path.name,
        "sha256": sha256_file(path),
        "model_digest": "sha256:" + fingerprint.model_digest,
        "commitment": fingerprint.commitment,
        "keyid": fingerprint.keyid,
        "created_at": fingerprint.created_at,
        "config": fingerprint.config,
        "calibration": None if calibration is None else {
            "name": calibration.name,
            "sha256": sha256_file(calibration),
            "estimators": {name: cal.to_dict() for name, cal in (calibrations or {}).items()},
        },
    }
    return ScanJob(fingerprint.fingerprint_id.hex(), fingerprint.statement,
                   fingerprint.envelope, dict(fingerprint.arrays), fingerprint.sealed_anchors,
                   secrets, calibrations, header)


def _bound_to(path: Path, key: PrivateKey) -> str | None:
    """The fingerprint id a signed CAL.json says it belongs to (None if it says nothing
    usable); its signature is checked again, with the fingerprint, when the job opens."""
    try:
        statement = read_signed(path, CALIBRATION_PREDICATE, key.public_key(),
                                "calibration file", "re-run `modelgif calibrate`",
                                MAX_CALIBRATION_BYTES)
    except InputError:
        return None
    predicate = statement.get("predicate")
    found = predicate.get("fingerprint_id") if isinstance(predicate, dict) else None
    return found if isinstance(found, str) else None


def open_jobs(fingerprints: list[Path], key: PrivateKey,
              calibrations: list[Path] | None = None) -> list[ScanJob]:
    """Open each fingerprint, with the calibration bound to it (matched by fingerprint id)."""
    bound: dict[str, Path] = {}
    for path in calibrations or []:
        found = _bound_to(path, key)
        if found is None:
            raise InputError(f"{path}: not a modelgif calibration file")
        if found in bound:
            raise InputError(f"{path}: a second calibration for the same fingerprint")
        bound[found] = path
    jobs = []
    for path in fingerprints:
        fingerprint = load_fingerprint(path, key.public_key())
        if is_text_fingerprint(fingerprint):  # scan's workers run image fields only
            raise InputError(f"{path}: a text model's fingerprint, which scan does not take; "
                             f"verify each suspect: modelgif verify {path} SUSPECT --key KEY")
        calibration = bound.pop(fingerprint.fingerprint_id.hex(), None)
        jobs.append(_job(path, fingerprint, key, calibration))
    if bound:
        raise InputError(f"{next(iter(bound.values()))}: calibrated for none of the fingerprints")
    return jobs
