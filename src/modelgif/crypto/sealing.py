"""Sealing the secret anchors: AES-256-GCM under the anchor key, and a hiding commitment.

Why: the anchors are the owner's secret (a thief who knows them can steer a stolen model's
field there), yet a dispute may require showing them to a third party. So they travel in the
fingerprint encrypted under that fingerprint's own anchor key (kdf.derive_anchor_key), which
the owner can reveal alone:

    sealed blob   = nonce (12) || AES-256-GCM(anchor key, nonce,
                                              salt (32) || canonical(anchors),
                                              aad = AAD_PREFIX || fingerprint id)
    commitment    = sha256(salt || canonical(anchors))          (public, in the statement)

The salt travels only inside the ciphertext, so the commitment hides the anchors (no one can
test a guess) until the owner opens it; it binds them once opened. It is computed on the
anchors exactly as stored (float16 when they fit), so it refers to the points the fields
were measured at.

canonical(array), also used for every array digest of a fingerprint:

    b"MGA1" | u8 len(dtype) | dtype ("<f4", "|u1", ...) | u8 ndim | ndim x u64 LE dims
            | data, little-endian, C order
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelgif.crypto.kdf import RandomBytes, check_fingerprint_id
from modelgif.errors import InputError, IntegrityError

__all__ = [
    "AAD_PREFIX",
    "ALLOWED_DTYPES",
    "MAX_NDIM",
    "SealedAnchors",
    "anchor_commitment",
    "canonical_array_bytes",
    "check_commitment",
    "open_anchors",
    "parse_canonical_array",
    "seal_anchors",
]

AAD_PREFIX = b"modelgif/v1 sealed-anchors "
SALT_BYTES = 32
NONCE_BYTES = 12

ARRAY_MAGIC = b"MGA1"
ALLOWED_DTYPES: tuple[str, ...] = ("|u1", "|i1", "<i4", "<i8", "<f2", "<f4", "<f8")
MAX_NDIM = 8

_OPAQUE = "Anchor decryption or commitment check failed."


def canonical_array_bytes(array: np.ndarray) -> bytes:
    """Self-describing bytes of `array` (dtype, shape, little-endian C-order data)."""
    if not isinstance(array, np.ndarray):
        raise InputError(f"Expected a numpy array. Got {type(array).__name__}.")
    dtype = array.dtype.newbyteorder("<")
    code = dtype.str
    if code not in ALLOWED_DTYPES:
        raise InputError(
            f"Array dtype {array.dtype} is not supported; use one of {', '.join(ALLOWED_DTYPES)}."
        )
    if array.ndim > MAX_NDIM:
        raise InputError(f"Arrays may have at most {MAX_NDIM} dimensions. Got {array.ndim}.")
    data = np.ascontiguousarray(array, dtype=dtype).tobytes(order="C")
    head = ARRAY_MAGIC + struct.pack("<B", len(code)) + code.encode("ascii")
    head += struct.pack(f"<B{array.ndim}Q", array.ndim, *array.shape)
    return head + data


def parse_canonical_array(data: bytes, max_bytes: int) -> np.ndarray:
    """Inverse of canonical_array_bytes; a read-only array. IntegrityError if malformed.

    The header is checked (magic, dtype allowlist, ndim, sizes) before any allocation.
    """
    view = memoryview(data)
    if len(view) > max_bytes or len(view) < 6 or bytes(view[:4]) != ARRAY_MAGIC:
        raise IntegrityError(_OPAQUE)
    code_len = view[4]
    code = bytes(view[5 : 5 + code_len]).decode("ascii", errors="replace")
    if code not in ALLOWED_DTYPES:
        raise IntegrityError(_OPAQUE)
    pos = 5 + code_len
    if len(view) < pos + 1 or view[pos] > MAX_NDIM:
        raise IntegrityError(_OPAQUE)
    ndim = view[pos]
    pos += 1
    if len(view) < pos + 8 * ndim:
        raise IntegrityError(_OPAQUE)
    shape = struct.unpack_from(f"<{ndim}Q", view, pos)
    pos += 8 * ndim
    dtype = np.dtype(code)
    count = 1
    for dim in shape:
        count *= dim  # exact Python ints: no overflow
    if count * dtype.itemsize != len(view) - pos:
        raise IntegrityError(_OPAQUE)
    array = np.frombuffer(view[pos:], dtype=dtype).reshape(shape)
    array.flags.writeable = False
    return array


def anchor_commitment(anchors: np.ndarray, salt: bytes) -> str:
    """sha256 hex of salt || canonical(anchors)."""
    return hashlib.sha256(salt + canonical_array_bytes(anchors)).hexdigest()


def check_commitment(anchors: np.ndarray, salt: bytes, commitment: str) -> None:
    """Raise IntegrityError unless `anchors` and `salt` open `commitment`."""
    if not hmac.compare_digest(anchor_commitment(anchors, salt), str(commitment)):
        raise IntegrityError(_OPAQUE)


@dataclass(frozen=True)
class SealedAnchors:
    """The encrypted blob stored in a fingerprint and the public commitment it opens."""

    blob: bytes
    commitment: str


ANCHOR_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))


def _check_anchors(anchors: object) -> np.ndarray:
    if not isinstance(anchors, np.ndarray) or anchors.dtype not in ANCHOR_DTYPES:
        raise InputError("The 'anchors' parameter must be a float16 or float32 numpy array.")
    if anchors.size == 0 or not np.all(np.isfinite(anchors)):
        raise InputError("The 'anchors' parameter must be non-empty and finite.")
    return anchors


def seal_anchors(
    anchors: np.ndarray,
    anchor_key: bytes,
    fingerprint_id: bytes,
    random_bytes: RandomBytes = os.urandom,
) -> SealedAnchors:
    """Encrypt float16/float32 `anchors` under `anchor_key`, bound to `fingerprint_id`."""
    _check_anchors(anchors)
    salt = random_bytes(SALT_BYTES)
    nonce = random_bytes(NONCE_BYTES)
    if len(salt) != SALT_BYTES or len(nonce) != NONCE_BYTES or len(anchor_key) != 32:
        raise InputError("seal_anchors() needs a 32-byte key and full-length random bytes.")
    plaintext = salt + canonical_array_bytes(anchors)
    aad = AAD_PREFIX + check_fingerprint_id(fingerprint_id)
    blob = nonce + AESGCM(anchor_key).encrypt(nonce, plaintext, aad)
    return SealedAnchors(blob=blob, commitment=anchor_commitment(anchors, salt))


def open_anchors(
    blob: bytes, anchor_key: bytes, fingerprint_id: bytes, commitment: str
) -> np.ndarray:
    """Decrypt a sealed blob and check it against `commitment`; the anchors as stored.

    Raises IntegrityError (one opaque message) for a wrong key, a wrong fingerprint id,
    a tampered blob or anchors that do not open the commitment.
    """
    if len(anchor_key) != 32 or len(blob) < NONCE_BYTES + 16:
        raise IntegrityError(_OPAQUE)
    aad = AAD_PREFIX + check_fingerprint_id(fingerprint_id)
    try:
        plaintext = AESGCM(anchor_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise IntegrityError(_OPAQUE) from None
    salt, body = plaintext[:SALT_BYTES], plaintext[SALT_BYTES:]
    anchors = parse_canonical_array(body, max_bytes=len(body))
    if anchors.dtype not in ANCHOR_DTYPES:
        raise IntegrityError(_OPAQUE)
    check_commitment(anchors, salt, commitment)
    return anchors
