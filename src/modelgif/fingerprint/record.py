"""The fingerprint file (.mgf): one signed, versioned, pickle-free file per fingerprint.

Why a custom layout and not npz/pickle: a fingerprint is evidence, read by people who did not
write it. So the reader allocates nothing before checking sizes, runs no code from the file,
and every byte is covered by the signature: the header is canonical JSON (re-serialized and
compared), each array and the sealed anchors are digested in the signed statement, and the
layout must be exactly what the writer produces (no gaps, no trailing bytes).

The byte layout (magic, version, header, sections) is mgf_layout.py's.

The envelope signs an in-toto Statement v1 (predicateType PREDICATE_TYPE) whose subjects are
the normalized model and the original file, and whose predicate echoes the config, the anchor
commitment, the digests of every array and of the sealed blob, the tool versions, created_at
and the signer's keyid.

Errors: InputError only when the file is not a modelgif fingerprint at all (wrong magic),
is of an unsupported format version, or cannot be read; every other problem (truncation,
bad layout, digest or signature mismatch) raises one opaque IntegrityError.

Reveal files, which open one fingerprint's anchors for a third party, are in reveal.py.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from modelgif.atomic_write import write_file
from modelgif.crypto.kdf import (
    RandomBytes,
    derive_anchor_key,
    new_fingerprint_id,
)
from modelgif.crypto.keys import PrivateKey, PublicKey, keyid
from modelgif.crypto.sealing import (
    canonical_array_bytes,
    open_anchors,
    parse_canonical_array,
    seal_anchors,
)
from modelgif.crypto.signing import (
    canonical_json,
    make_statement,
    sha256_hex,
    sign_statement,
    statement_unverified,
    verify_envelope,
)
from modelgif.errors import InputError, IntegrityError
from modelgif.fingerprint.mgf_layout import (
    FORMAT_VERSION,
    MAX_ARRAY_BYTES,
    MAX_ARRAYS,
    NAME_PATTERN,
    OPAQUE,
    Container,
    pack_container,
    parse_container,
    read_container,
)

__all__ = [
    "PREDICATE_TYPE",
    "Fingerprint",
    "load_fingerprint",
    "read_fingerprint_unverified",
    "tool_versions",
    "write_fingerprint",
]

PREDICATE_TYPE = "https://modelgif.dev/fingerprint/v1"
MODEL_SUBJECT = "normalized-model"

MAX_SUBJECTS = 2 + 4096  # the models, then their external-data files

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_TOOLS = ("modelgif", "numpy", "onnx", "onnxruntime", "torch")


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools that shape a fingerprint's numbers ("absent" if none)."""
    found: dict[str, str] = {}
    for name in _TOOLS:
        candidates = (name, "onnxruntime-gpu") if name == "onnxruntime" else (name,)
        found[name] = "absent"
        for dist in candidates:
            try:
                found[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """A parsed fingerprint file. `verified` is True only when the signature was checked.

    `arrays` are read-only views (evidence should not change in memory); copy to modify.
    """

    statement: dict[str, Any]
    envelope: dict[str, Any]
    arrays: Mapping[str, np.ndarray]
    sealed_anchors: bytes
    verified: bool

    @property
    def predicate(self) -> dict[str, Any]:
        """The signed predicate (config echo, digests, commitment, tools, ...)."""
        result: dict[str, Any] = self.statement["predicate"]
        return result

    @property
    def fingerprint_id(self) -> bytes:
        """The 16-byte random id that salts this fingerprint's keys."""
        return bytes.fromhex(self.predicate["fingerprint_id"])

    @property
    def keyid(self) -> str:
        """keyid of the owner key that signed this fingerprint."""
        return str(self.predicate["keyid"])

    @property
    def config(self) -> dict[str, Any]:
        """The config echo: everything needed to recompute a suspect's field identically."""
        result: dict[str, Any] = self.predicate["config"]
        return result

    @property
    def created_at(self) -> str:
        """Creation time, ISO 8601 UTC ("2025-01-31T12:00:00Z")."""
        return str(self.predicate["created_at"])

    @property
    def commitment(self) -> str:
        """sha256 hex commitment of the anchor set (sealing.anchor_commitment)."""
        return str(self.predicate["anchors"]["commitment"]["sha256"])

    @property
    def model_digest(self) -> str:
        """sha256 hex of the normalized model."""
        return str(self.statement["subject"][0]["digest"]["sha256"])

    @property
    def original_name(self) -> str:
        """File name of the model as the owner gave it."""
        return str(self.statement["subject"][1]["name"])

    @property
    def original_sha256(self) -> str:
        """sha256 hex of the original model file."""
        return str(self.statement["subject"][1]["digest"]["sha256"])

    @property
    def data_files(self) -> tuple[tuple[str, str], ...]:
        """(name, sha256) of the original model's external-data files, as signed."""
        return tuple((str(s["name"]), str(s["digest"]["sha256"]))
                     for s in self.statement["subject"][2:])

    def public_metadata(self) -> dict[str, Any]:
        """Everything public about this fingerprint, JSON-ready (never the anchors)."""
        return {
            "predicate_type": self.statement["predicateType"],
            "subject": self.statement["subject"],
            **self.predicate,
        }

    def decrypt_anchors(self, private_key: PrivateKey) -> np.ndarray:
        """The owner opens the anchors (float32), checked against the commitment."""
        if keyid(private_key) != self.keyid:
            raise InputError("This private key did not sign this fingerprint.")
        anchor_key = derive_anchor_key(private_key, self.fingerprint_id)
        return open_anchors(self.sealed_anchors, anchor_key, self.fingerprint_id, self.commitment)


# ----------------------------------------------------------------------------- writing


def _check_hex64(value: object, name: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InputError(
            f"The '{name}' parameter of write_fingerprint() must be a lowercase sha256 hex "
            f"digest. Got {value!r}."
        )
    return value


def _timestamp(created_at: datetime | None) -> str:
    moment = datetime.now(UTC) if created_at is None else created_at
    if moment.tzinfo is None:
        raise InputError("The 'created_at' parameter of write_fingerprint() must be tz-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, bytes]:
    if not isinstance(arrays, Mapping) or len(arrays) > MAX_ARRAYS:
        raise InputError(
            f"The 'arrays' parameter of write_fingerprint() must be a mapping of at most "
            f"{MAX_ARRAYS} named numpy arrays."
        )
    encoded: dict[str, bytes] = {}
    for name in sorted(arrays):
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise InputError(
                f"Array names must match {NAME_PATTERN.pattern} (letters, digits, '_', '.', '-'). "
                f"Got {name!r}."
            )
        encoded[name] = canonical_array_bytes(arrays[name])
        if len(encoded[name]) > MAX_ARRAY_BYTES:
            raise InputError(f"Array {name!r} is larger than {MAX_ARRAY_BYTES} bytes.")
    return encoded


def write_fingerprint(
    path: str | os.PathLike[str],
    *,
    arrays: Mapping[str, np.ndarray],
    anchors: np.ndarray,
    config: Mapping[str, Any],
    model_digest: str,
    original_name: str,
    original_sha256: str,
    private_key: PrivateKey,
    fingerprint_id: bytes | None = None,
    created_at: datetime | None = None,
    random_bytes: RandomBytes = os.urandom,
    tools: Mapping[str, str] | None = None,
    overwrite: bool = False,
    data_files: tuple[tuple[str, str], ...] = (),
) -> Fingerprint:
    """Seal `anchors`, sign the statement and write one .mgf file; returns its Fingerprint.

    `fingerprint_id` must be the id the anchors were derived with
    (kdf.derive_anchor_secret); a fresh one is drawn when None. `created_at`,
    `random_bytes` and `tools` are injectable for golden files. Refuses to overwrite an
    existing file unless `overwrite` (then the file is replaced atomically). `data_files`
    are (name, sha256) of the original's external-data files: subjects after the original.
    """
    _check_hex64(model_digest, "model_digest")
    _check_hex64(original_sha256, "original_sha256")
    if not isinstance(original_name, str) or not Path(original_name).name:
        raise InputError(
            f"The 'original_name' parameter must be a file name. Got {original_name!r}."
        )
    if not isinstance(config, Mapping):
        raise InputError("The 'config' parameter of write_fingerprint() must be a mapping.")
    config_echo = json.loads(canonical_json(dict(config)))  # a JSON-exact copy, or InputError
    encoded = _encode_arrays(arrays)
    fid = new_fingerprint_id(random_bytes) if fingerprint_id is None else fingerprint_id
    sealed = seal_anchors(anchors, derive_anchor_key(private_key, fid), fid, random_bytes)
    predicate = {
        "format_version": FORMAT_VERSION,
        "fingerprint_id": fid.hex(),
        "keyid": keyid(private_key),
        "created_at": _timestamp(created_at),
        "config": config_echo,
        "anchors": {
            "commitment": {"sha256": sealed.commitment},
            "sealed": {"sha256": sha256_hex(sealed.blob), "nbytes": len(sealed.blob)},
            "cipher": "AES-256-GCM",
            "kdf": "HKDF-SHA256",
        },
        "arrays": {
            name: {
                "dtype": arrays[name].dtype.newbyteorder("<").str,
                "shape": list(arrays[name].shape),
                "sha256": sha256_hex(data),
            }
            for name, data in encoded.items()
        },
        "tools": dict(tool_versions() if tools is None else tools),
    }
    subjects = [
        {"name": MODEL_SUBJECT, "digest": {"sha256": model_digest}},
        {"name": Path(original_name).name, "digest": {"sha256": original_sha256}},
        *({"name": name, "digest": {"sha256": _check_hex64(sha, "data_files")}}
          for name, sha in data_files),
    ]
    statement = make_statement(subjects, PREDICATE_TYPE, predicate)
    envelope = sign_statement(statement, private_key)
    blob = pack_container(envelope, encoded, sealed.blob)
    write_file(path, blob, force=overwrite)
    parsed = parse_container(blob)
    return _build(parsed, json.loads(canonical_json(statement)), verified=True)


# ----------------------------------------------------------------------------- reading


def _check_predicate(statement: dict[str, Any], signer: str, parsed: Container) -> None:
    """Raise IntegrityError unless the statement describes exactly these sections."""
    subjects, predicate = statement["subject"], statement["predicate"]
    expected_keys = {
        "format_version", "fingerprint_id", "keyid", "created_at", "config", "anchors",
        "arrays", "tools",
    }  # fmt: skip
    if (
        not 2 <= len(subjects) <= MAX_SUBJECTS
        or subjects[0]["name"] != MODEL_SUBJECT
        or not all(
            isinstance(s["digest"], dict)
            and set(s["digest"]) == {"sha256"}
            and isinstance(s["digest"]["sha256"], str)
            and _HEX64.fullmatch(s["digest"]["sha256"])
            and isinstance(s["name"], str)
            for s in subjects
        )
        or set(predicate) != expected_keys
        or predicate["format_version"] != FORMAT_VERSION
        or predicate["keyid"] != signer
        or not isinstance(predicate["fingerprint_id"], str)
        or not _HEX32.fullmatch(predicate["fingerprint_id"])
        or not isinstance(predicate["config"], dict)
        or not isinstance(predicate["tools"], dict)
        or not isinstance(predicate["created_at"], str)
    ):
        raise IntegrityError(OPAQUE)
    anchors = predicate["anchors"]
    try:
        sealed_ok = (
            anchors["sealed"] == {"sha256": sha256_hex(parsed.sealed), "nbytes": len(parsed.sealed)}
            and _HEX64.fullmatch(anchors["commitment"]["sha256"]) is not None
        )
    except (TypeError, KeyError):
        sealed_ok = False
    described = predicate["arrays"]
    if not sealed_ok or not isinstance(described, dict) or set(described) != set(parsed.arrays):
        raise IntegrityError(OPAQUE)
    for name, data in parsed.arrays.items():
        array = parse_canonical_array(data, MAX_ARRAY_BYTES)
        expected = {"dtype": array.dtype.str, "shape": list(array.shape),
                    "sha256": sha256_hex(data)}
        if described[name] != expected:
            raise IntegrityError(OPAQUE)


def _build(parsed: Container, statement: dict[str, Any], verified: bool) -> Fingerprint:
    signer = parsed.envelope["signatures"][0]["keyid"]
    _check_predicate(statement, signer, parsed)
    arrays = {
        name: parse_canonical_array(data, MAX_ARRAY_BYTES) for name, data in parsed.arrays.items()
    }
    return Fingerprint(
        statement=statement,
        envelope=parsed.envelope,
        arrays=MappingProxyType(arrays),
        sealed_anchors=parsed.sealed,
        verified=verified,
    )


def load_fingerprint(path: str | os.PathLike[str], public_key: PublicKey) -> Fingerprint:
    """Read a fingerprint, verifying its signature under `public_key` and every digest.

    This is the way to read a fingerprint. IntegrityError (opaque) on any failed check.
    """
    parsed = read_container(path)
    try:
        statement = verify_envelope(parsed.envelope, public_key, PREDICATE_TYPE)
        return _build(parsed, statement, verified=True)
    except IntegrityError:
        raise IntegrityError(OPAQUE) from None  # one message, whichever check failed


def read_fingerprint_unverified(path: str | os.PathLike[str]) -> Fingerprint:
    """Read a fingerprint WITHOUT checking its signature (digests are still checked).

    For display without a key (`modelgif inspect`); nothing read this way is evidence.
    """
    parsed = read_container(path)
    try:
        statement, _ = statement_unverified(parsed.envelope, PREDICATE_TYPE)
        return _build(parsed, statement, verified=False)
    except IntegrityError:
        raise IntegrityError(OPAQUE) from None
