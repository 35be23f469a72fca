"""Reveal files: one fingerprint's anchor key, handed to an expert or a court.

Why a file of its own: a reveal is the one way modelgif lets anchors out, on the owner's
explicit request. It holds the fingerprint id and that fingerprint's anchor key (HKDF of the
owner key, see modelgif.crypto): the holder decrypts this fingerprint's anchors, checks them
against the signed commitment and recomputes every number, without the private key and
without learning anything about the owner's other fingerprints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelgif.atomic_write import write_file
from modelgif.crypto.kdf import FINGERPRINT_ID_BYTES, derive_anchor_key
from modelgif.crypto.keys import PrivateKey
from modelgif.crypto.sealing import open_anchors
from modelgif.crypto.signing import b64decode_canonical, b64encode, canonical_json, sha256_hex
from modelgif.digests import is_sha256
from modelgif.errors import InputError, IntegrityError
from modelgif.fingerprint.record import Fingerprint

__all__ = ["MAX_REVEAL_BYTES", "REVEAL_TYPE", "Reveal", "read_reveal", "verify_reveal",
           "write_reveal"]

REVEAL_TYPE = "https://modelgif.dev/reveal/v1"
MAX_REVEAL_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reveal:
    """One fingerprint's anchor key, for a third party to open that fingerprint only."""

    fingerprint_id: bytes
    anchor_key: bytes
    commitment: str
    sealed_sha256: str



def write_reveal(
    fingerprint: Fingerprint,
    private_key: PrivateKey,
    path: str | os.PathLike[str],
    force: bool = False,
) -> Path:
    """Write a reveal file (JSON, mode 0600) that opens this one fingerprint's anchors.

    It holds the fingerprint id and its anchor key: anyone holding it can decrypt this
    fingerprint's anchors, and nothing else of the owner's. Checked before writing.
    """
    fingerprint.decrypt_anchors(private_key)  # wrong key or broken file: fail here
    reveal = {
        "_type": REVEAL_TYPE,
        "fingerprint_id": fingerprint.fingerprint_id.hex(),
        "anchor_key": b64encode(derive_anchor_key(private_key, fingerprint.fingerprint_id)),
        "commitment": {"sha256": fingerprint.commitment},
        "sealed_sha256": sha256_hex(fingerprint.sealed_anchors),
    }
    return write_file(path, canonical_json(reveal) + b"\n", force=force, mode=0o600)


def read_reveal(path: str | os.PathLike[str]) -> Reveal:
    """Parse a reveal file; InputError if it is not one."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_REVEAL_BYTES + 1)
    except OSError as error:
        raise InputError(f"Cannot read {name}: {error.strerror}.") from None
    try:
        if len(raw) > MAX_REVEAL_BYTES:
            raise ValueError
        data = json.loads(raw.decode("utf-8"))
        if set(data) != {"_type", "fingerprint_id", "anchor_key", "commitment", "sealed_sha256"}:
            raise ValueError
        fid = bytes.fromhex(data["fingerprint_id"])
        key = b64decode_canonical(data["anchor_key"])
        commitment, sealed = data["commitment"]["sha256"], data["sealed_sha256"]
        if (
            data["_type"] != REVEAL_TYPE
            or len(fid) != FINGERPRINT_ID_BYTES
            or len(key) != 32
            or not is_sha256(commitment)
            or not is_sha256(sealed)
        ):
            raise ValueError
    except (ValueError, TypeError, KeyError, IntegrityError, RecursionError):
        raise InputError(f"{name} is not a modelgif reveal file.") from None
    return Reveal(fingerprint_id=fid, anchor_key=key, commitment=commitment, sealed_sha256=sealed)


def verify_reveal(fingerprint: Fingerprint, reveal: Reveal) -> np.ndarray:
    """Decrypt `fingerprint`'s anchors with `reveal` and check them against its commitment.

    Load the fingerprint with load_fingerprint first, so the commitment is the owner's.
    Returns the float32 anchors; IntegrityError if the reveal does not open this fingerprint.
    """
    if (
        reveal.fingerprint_id != fingerprint.fingerprint_id
        or reveal.commitment != fingerprint.commitment
        or reveal.sealed_sha256 != sha256_hex(fingerprint.sealed_anchors)
    ):
        raise IntegrityError("The reveal does not open this fingerprint.")
    return open_anchors(
        fingerprint.sealed_anchors, reveal.anchor_key, fingerprint.fingerprint_id,
        fingerprint.commitment,
    )  # fmt: skip
