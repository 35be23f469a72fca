"""DSSE v1 envelopes over in-toto Statement v1: the only place that signs or verifies.

Why DSSE + in-toto: it is what OpenSSF model-signing and cosign attestations use, so generic
tools (securesystemslib, in-toto, cosign) can check a modelgif signature without modelgif.
Fingerprints, verdicts and evidence bundles all go through this module; only the
`predicateType` differs.

    envelope = {"payload": b64(canonical_json(statement)),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"keyid": keyid(public key), "sig": b64(signature over PAE)}]}
    PAE      = b"DSSEv1" SP len(type) SP type SP len(payload) SP payload

Ed25519 signs the PAE directly; ECDSA P-256 signs sha256(PAE) and the signature is
DER-encoded (the form securesystemslib's "ecdsa-sha2-nistp256" scheme verifies).

Low-S ECDSA only: (r, s) and (r, n - s) both verify under plain ECDSA, so anyone could turn a
signed envelope into a second, different file that verifies just as well, and evidence that
names an envelope by its digest would become ambiguous. Signing therefore always emits the
low half (s <= n/2) in minimal DER, and verification refuses anything else. ECDSA envelopes
from tools that do not normalize s are refused about half of the time; re-sign them, or use
Ed25519 (whose verification already refuses non-canonical signatures).

Verification is strict and opaque: exactly one signature, made by the expected key, over a
canonical envelope (no extra fields, canonical base64), carrying a well-formed statement;
any failure raises the same IntegrityError, never saying what failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from modelgif.crypto.keys import PrivateKey, PublicKey, key_type, keyid
from modelgif.errors import InputError, IntegrityError

__all__ = [
    "P256_ORDER",
    "PAYLOAD_TYPE",
    "STATEMENT_TYPE",
    "b64decode_canonical",
    "b64encode",
    "canonical_json",
    "make_statement",
    "pae",
    "sha256_hex",
    "sign_statement",
    "statement_unverified",
    "verify_envelope",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""n, the order of the P-256 group: s and n - s are the two signatures of one message."""

_OPAQUE = "Signature verification failed."
_ENVELOPE_KEYS = {"payload", "payloadType", "signatures"}
_SIGNATURE_KEYS = {"keyid", "sig"}
_STATEMENT_KEYS = {"_type", "subject", "predicateType", "predicate"}


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity: one byte string per value."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as error:
        raise InputError(f"Value cannot be written as canonical JSON: {error}.") from None
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (what DSSE uses)."""
    return base64.b64encode(data).decode("ascii")


def b64decode_canonical(text: object) -> bytes:
    """Decode standard base64, rejecting any string that is not the canonical encoding.

    Non-canonical spellings (stray padding bits, missing padding) would let a tampered file
    decode to the same bytes; they are refused. Raises IntegrityError.
    """
    if not isinstance(text, str):
        raise IntegrityError(_OPAQUE)
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise IntegrityError(_OPAQUE) from None
    if b64encode(data) != text:
        raise IntegrityError(_OPAQUE)
    return data


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding (lengths are byte lengths, in decimal)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def make_statement(
    subjects: list[dict[str, Any]], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 dict; each subject is {"name": str, "digest": {alg: hex}}."""
    for subject in subjects:
        if (
            not isinstance(subject, dict)
            or set(subject) != {"name", "digest"}
            or not isinstance(subject["name"], str)
            or not isinstance(subject["digest"], dict)
            or not subject["digest"]
        ):
            raise InputError(
                'Each subject must be {"name": str, "digest": {algorithm: hex}}. '
                f"Got {subject!r}."
            )
    if not isinstance(predicate_type, str) or not predicate_type:
        raise InputError(f"The predicate type must be a non-empty URI. Got {predicate_type!r}.")
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def _sign_bytes(private_key: PrivateKey, message: bytes) -> bytes:
    if key_type(private_key) == "ed25519" and isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(message)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return encode_dss_signature(r, min(s, P256_ORDER - s))  # low-S (module docstring)
    raise InputError("Signing needs a private key, not a public key.")


def _check_low_s(signature: bytes) -> None:
    """Raise InvalidSignature unless `signature` is minimal DER with s <= n/2."""
    r, s = decode_dss_signature(signature)  # ValueError if not DER
    if s > P256_ORDER // 2 or encode_dss_signature(r, s) != signature:
        raise InvalidSignature


def _verify_bytes(public_key: PublicKey, signature: bytes, message: bytes) -> None:
    """Raise InvalidSignature unless `signature` over `message` verifies."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(signature, message)
    else:
        _check_low_s(signature)
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def sign_statement(statement: dict[str, Any], private_key: PrivateKey) -> dict[str, Any]:
    """Sign `statement` (canonical JSON) into a DSSE envelope dict with one signature."""
    payload = canonical_json(statement)
    signature = _sign_bytes(private_key, pae(PAYLOAD_TYPE, payload))
    return {
        "payload": b64encode(payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": keyid(private_key), "sig": b64encode(signature)}],
    }


def _well_formed_statement(statement: object, predicate_type: str | None) -> bool:
    if not isinstance(statement, dict) or set(statement) != _STATEMENT_KEYS:
        return False
    subjects = statement["subject"]
    return (
        statement["_type"] == STATEMENT_TYPE
        and isinstance(subjects, list)
        and len(subjects) > 0
        and all(isinstance(s, dict) and set(s) == {"name", "digest"} for s in subjects)
        and isinstance(statement["predicateType"], str)
        and (predicate_type is None or statement["predicateType"] == predicate_type)
        and isinstance(statement["predicate"], dict)
    )


def _unpack(envelope: object) -> tuple[bytes, str, bytes]:
    """(payload, signer keyid, signature) of a well-formed one-signature envelope."""
    if not isinstance(envelope, dict) or set(envelope) != _ENVELOPE_KEYS:
        raise IntegrityError(_OPAQUE)
    signatures = envelope["signatures"]
    if envelope["payloadType"] != PAYLOAD_TYPE or not isinstance(signatures, list):
        raise IntegrityError(_OPAQUE)
    if len(signatures) != 1 or not isinstance(signatures[0], dict):
        raise IntegrityError(_OPAQUE)
    if set(signatures[0]) != _SIGNATURE_KEYS or not isinstance(signatures[0]["keyid"], str):
        raise IntegrityError(_OPAQUE)
    payload = b64decode_canonical(envelope["payload"])
    signature = b64decode_canonical(signatures[0]["sig"])
    return payload, signatures[0]["keyid"], signature


def _parse_statement(payload: bytes, predicate_type: str | None) -> dict[str, Any]:
    try:
        statement = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise IntegrityError(_OPAQUE) from None
    if not _well_formed_statement(statement, predicate_type):
        raise IntegrityError(_OPAQUE)
    result: dict[str, Any] = statement
    return result


def verify_envelope(
    envelope: object, public_key: PublicKey, predicate_type: str | None = None
) -> dict[str, Any]:
    """Return the signed statement if `envelope` verifies under `public_key`.

    With `predicate_type`, the statement must also carry exactly that predicate type.
    Any failure raises IntegrityError with one opaque message.
    """
    payload, signer, signature = _unpack(envelope)
    if signer != keyid(public_key):
        raise IntegrityError(_OPAQUE)
    try:
        _verify_bytes(public_key, signature, pae(PAYLOAD_TYPE, payload))
    except (InvalidSignature, ValueError):
        raise IntegrityError(_OPAQUE) from None
    return _parse_statement(payload, predicate_type)


def statement_unverified(
    envelope: object, predicate_type: str | None = None
) -> tuple[dict[str, Any], str]:
    """(statement, signer keyid) of a well-formed envelope, WITHOUT checking the signature.

    For display only (`modelgif inspect` without a key): nothing read this way is evidence.
    """
    payload, signer, _ = _unpack(envelope)
    return _parse_statement(payload, predicate_type), signer
