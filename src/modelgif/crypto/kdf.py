"""Every key derivation of modelgif, in one place: HKDF-SHA256 (RFC 5869) from cryptography.

Why one module: each derived secret is named by a distinct `info` string, and two derivations
with the same info would silently share a key. Keeping every info string here (and only
cryptography's HKDF, which is checked against the RFC's test vectors) makes the hierarchy
drawn in the package docstring the whole truth.

    anchor key    = HKDF(ikm=owner secret, salt=fingerprint id, info=ANCHOR_KEY_INFO)
    anchor secret = HKDF(ikm=owner secret, salt=fingerprint id, info=ANCHOR_SECRET_INFO)
    sketch secret = HKDF(ikm=anchor key,   salt=none,           info=SKETCH_INFO)
    probe secret  = HKDF(ikm=anchor key,   salt=none,           info=PROBE_SECRET_INFO)
    probe key     = HKDF(ikm=anchor key,   salt=none,           info=PROBE_KEY_INFO)

The probe secret picks the probe points of an output-agreement test and the probe key seals
the owner's outputs there; both hang off the anchor key, so a reveal opens them too.

HKDF outputs for different salts or infos are independent, so revealing one fingerprint's
anchor key opens that fingerprint only: not the owner's other fingerprints, not its anchor
secret, not the private key.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from modelgif.crypto.keys import PrivateKey, private_key_material
from modelgif.errors import InputError

__all__ = [
    "ANCHOR_KEY_INFO",
    "ANCHOR_SECRET_INFO",
    "FINGERPRINT_ID_BYTES",
    "PROBE_KEY_INFO",
    "PROBE_SECRET_INFO",
    "SKETCH_INFO",
    "RandomBytes",
    "check_fingerprint_id",
    "derive_anchor_key",
    "derive_anchor_secret",
    "hkdf_sha256",
    "new_fingerprint_id",
    "probe_key",
    "probe_secret",
    "sketch_secret",
]

RandomBytes = Callable[[int], bytes]
"""Source of randomness (os.urandom); injectable so golden files are reproducible."""

FINGERPRINT_ID_BYTES = 16
ANCHOR_KEY_INFO = b"modelgif/v1 anchor-encryption-key"
ANCHOR_SECRET_INFO = b"modelgif/v1 anchor-secret"
SKETCH_INFO = b"modelgif/v1/sketch-secret"
PROBE_SECRET_INFO = b"modelgif/v1 probe-secret"
PROBE_KEY_INFO = b"modelgif/v1 probe-outputs-key"
MAX_OUTPUT_BYTES = 255 * 32  # RFC 5869: at most 255 hash lengths


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    """HKDF-SHA256 extract-then-expand (RFC 5869); no salt means HashLen zero bytes."""
    if not 1 <= length <= MAX_OUTPUT_BYTES:
        raise InputError(f"HKDF-SHA256 gives 1 to {MAX_OUTPUT_BYTES} bytes. Got {length}.")
    kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info)
    return kdf.derive(bytes(ikm))


def new_fingerprint_id(random_bytes: RandomBytes = os.urandom) -> bytes:
    """A fresh random 16-byte fingerprint id (the HKDF salt of its keys)."""
    fid = random_bytes(FINGERPRINT_ID_BYTES)
    if not isinstance(fid, bytes) or len(fid) != FINGERPRINT_ID_BYTES:
        raise InputError("random_bytes must return the number of bytes asked for.")
    return fid


def check_fingerprint_id(fingerprint_id: bytes) -> bytes:
    """`fingerprint_id` if it is 16 bytes; InputError otherwise."""
    if not isinstance(fingerprint_id, bytes) or len(fingerprint_id) != FINGERPRINT_ID_BYTES:
        raise InputError(
            f"The 'fingerprint_id' parameter must be {FINGERPRINT_ID_BYTES} bytes. "
            f"Got {fingerprint_id!r}."
        )
    return fingerprint_id


def _from_owner(private_key: PrivateKey, fingerprint_id: bytes, info: bytes) -> bytes:
    salt = check_fingerprint_id(fingerprint_id)
    return hkdf_sha256(private_key_material(private_key), info, salt=salt)


def derive_anchor_key(private_key: PrivateKey, fingerprint_id: bytes) -> bytes:
    """The 256-bit AES key that seals this fingerprint's anchors (safe to reveal alone)."""
    return _from_owner(private_key, fingerprint_id, ANCHOR_KEY_INFO)


def derive_anchor_secret(private_key: PrivateKey, fingerprint_id: bytes) -> bytes:
    """The 256-bit secret from which this fingerprint's anchors are derived (never reveal)."""
    return _from_owner(private_key, fingerprint_id, ANCHOR_SECRET_INFO)


def sketch_secret(anchor_key: bytes) -> bytes:
    """The projection secret, derived from the (revealable) per-fingerprint anchor key.

    Why from the anchor key: a third party given a reveal must be able to recompute a
    suspect's sketch, so the projection cannot depend on a secret the reveal withholds.
    """
    if not isinstance(anchor_key, bytes) or len(anchor_key) != 32:
        raise InputError("The anchor key must be 32 bytes.")
    return hkdf_sha256(anchor_key, SKETCH_INFO)


def probe_secret(anchor_key: bytes) -> bytes:
    """The secret that picks a fingerprint's probe points (revealable with the anchor key)."""
    if not isinstance(anchor_key, bytes) or len(anchor_key) != 32:
        raise InputError("The anchor key must be 32 bytes.")
    return hkdf_sha256(anchor_key, PROBE_SECRET_INFO)


def probe_key(anchor_key: bytes) -> bytes:
    """The AES-256 key that seals the owner's outputs at the probe points."""
    if not isinstance(anchor_key, bytes) or len(anchor_key) != 32:
        raise InputError("The anchor key must be 32 bytes.")
    return hkdf_sha256(anchor_key, PROBE_KEY_INFO)
