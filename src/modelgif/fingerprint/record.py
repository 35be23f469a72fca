"""The fingerprint file (.mgf): one signed, versioned, pickle-free file per fingerprint.

Why a custom layout and not npz/pickle: a fingerprint is evidence, read by people who did not
write it. So the reader allocates nothing before checking sizes, runs no code from the file,
and every byte is covered by the signature: the header is canonical JSON (re-serialized and
compared), each array and the sealed anchors are digested in the signed statement, and the
layout must be exactly what the writer produces (no gaps, no trailing bytes).

Layout, version 1 (all integers little-endian):

    0   magic  b"\\x89MGF\\r\\n\\x1a\\n"  (PNG-style: catches text-mode and 7-bit mangling)
    8   u32    format version (1)
    12  u32    header length H
    16  H      header: canonical JSON {"arrays": [{"name", "nbytes"}...] (sorted by name),
                                       "envelope": DSSE envelope, "sealed_anchors_nbytes": n}
    ..         each array's canonical bytes (sealing.canonical_array_bytes), in header order
    ..         the sealed anchors (sealing.seal_anchors), then end of file

The envelope signs an in-toto Statement v1 (predicateType PREDICATE_TYPE) whose subjects are
the normalized model and the original file, and whose predicate echoes the config, the anchor
commitment, the digests of every array and of the sealed blob, the tool versions, created_at
and the signer's keyid.

Errors: InputError only when the file is not a modelgif fingerprint at all (wrong magic),
is of an unsupported format version, or cannot be read; every other problem (truncation,
bad layout, digest or signature mismatch) raises one opaque IntegrityError.

A reveal file (write_reveal) hands a third party one fingerprint's anchor key, so they can
decrypt its anchors and check them against the signed commitment without the private key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
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
    FINGERPRINT_ID_BYTES,
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
    b64decode_canonical,
    b64encode,
    canonical_json,
    make_statement,
    sign_statement,
    statement_unverified,
    verify_envelope,
)
from modelgif.errors import InputError, IntegrityError
from modelgif.safe_read import open_regular

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_ARRAYS",
    "MAX_ARRAY_BYTES",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "PREDICATE_TYPE",
    "REVEAL_TYPE",
    "Fingerprint",
    "Reveal",
    "load_fingerprint",
    "read_fingerprint_unverified",
    "read_reveal",
    "tool_versions",
    "verify_reveal",
    "write_fingerprint",
    "write_reveal",
]

MAGIC = b"\x89MGF\r\n\x1a\n"
FORMAT_VERSION = 1
PREDICATE_TYPE = "https://modelgif.dev/fingerprint/v1"
REVEAL_TYPE = "https://modelgif.dev/reveal/v1"
MODEL_SUBJECT = "normalized-model"

MAX_FILE_BYTES = 1 << 30
MAX_HEADER_BYTES = 16 << 20
MAX_ARRAY_BYTES = 512 << 20
MAX_ARRAYS = 64
MAX_SUBJECTS = 2 + 4096  # the models, then their external-data files
MAX_REVEAL_BYTES = 64 * 1024
_PREAMBLE = struct.Struct("<8sII")
_MIN_SEALED = 12 + 16  # nonce + GCM tag

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_TOOLS = ("modelgif", "numpy", "onnx", "onnxruntime", "torch")
_OPAQUE = "The fingerprint does not verify: wrong key, or the file was altered."


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


@dataclass(frozen=True)
class Reveal:
    """One fingerprint's anchor key, for a third party to open that fingerprint only."""

    fingerprint_id: bytes
    anchor_key: bytes
    commitment: str
    sealed_sha256: str


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

    def decrypt_anchors_with_reveal(self, reveal: Reveal) -> np.ndarray:
        """A third party opens the anchors with a reveal (see verify_reveal)."""
        return verify_reveal(self, reveal)


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
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InputError(
                f"Array names must match {_NAME.pattern} (letters, digits, '_', '.', '-'). "
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
            "sealed": {"sha256": _sha256(sealed.blob), "nbytes": len(sealed.blob)},
            "cipher": "AES-256-GCM",
            "kdf": "HKDF-SHA256",
        },
        "arrays": {
            name: {
                "dtype": arrays[name].dtype.newbyteorder("<").str,
                "shape": list(arrays[name].shape),
                "sha256": _sha256(data),
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
    header = canonical_json(
        {
            "arrays": [{"name": name, "nbytes": len(data)} for name, data in encoded.items()],
            "envelope": envelope,
            "sealed_anchors_nbytes": len(sealed.blob),
        }
    )
    blob = (
        b"".join([_PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header)), header, *encoded.values()])
        + sealed.blob
    )
    if len(blob) > MAX_FILE_BYTES or len(header) > MAX_HEADER_BYTES:
        raise InputError(f"The fingerprint would exceed {MAX_FILE_BYTES} bytes.")
    write_file(path, blob, force=overwrite)
    parsed = _parse(blob)
    return _build(parsed, json.loads(canonical_json(statement)), verified=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Parsed:
    envelope: dict[str, Any]
    arrays: dict[str, bytes]
    sealed: bytes


def _read_file(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; a FIFO or device is refused, and the layout the header declares
    must match the file's size before the (possibly large) arrays are read."""
    name = os.fspath(path)
    try:
        with os.fdopen(open_regular(path, "fingerprint"), "rb") as handle:
            head = handle.read(len(MAGIC))
            if head != MAGIC:
                raise InputError(f"{name} is not a modelgif fingerprint file.")
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise IntegrityError(_OPAQUE)
            head += handle.read(_PREAMBLE.size - len(MAGIC))
            _declared_size(head, handle, size)
            rest = handle.read(MAX_FILE_BYTES + 1 - len(head))
    except OSError as error:
        raise InputError(f"Cannot read {name}: {error.strerror}.") from None
    return head + rest


def _declared_size(head: bytes, handle: Any, size: int) -> None:
    """IntegrityError unless the header's sections add up to `size` (header read, then
    rewound); the full checks are _parse's."""
    if len(head) < _PREAMBLE.size:
        raise IntegrityError(_OPAQUE)
    _, version, header_len = _PREAMBLE.unpack_from(head)
    if version != FORMAT_VERSION:
        return  # _parse names the unsupported version
    if header_len > MAX_HEADER_BYTES or _PREAMBLE.size + header_len > size:
        raise IntegrityError(_OPAQUE)
    header = _json_exact(handle.read(header_len))
    handle.seek(_PREAMBLE.size)
    try:
        sections = sum(int(e["nbytes"]) for e in header["arrays"])
        declared = _PREAMBLE.size + header_len + sections + int(header["sealed_anchors_nbytes"])
    except (TypeError, KeyError, ValueError):
        raise IntegrityError(_OPAQUE) from None
    if declared != size:
        raise IntegrityError(_OPAQUE)


def _json_exact(raw: bytes) -> Any:
    """Parse canonical JSON; IntegrityError unless `raw` is exactly its canonical form."""
    try:
        value = json.loads(raw.decode("utf-8"))
        canonical = canonical_json(value)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, InputError):
        raise IntegrityError(_OPAQUE) from None
    if canonical != raw:
        raise IntegrityError(_OPAQUE)
    return value


def _is_size(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _parse(data: bytes) -> _Parsed:
    """Check magic, version and layout; slice out the sections. Allocates no more than data."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise InputError("Not a modelgif fingerprint file.")
    if len(data) < _PREAMBLE.size or len(data) > MAX_FILE_BYTES:
        raise IntegrityError(_OPAQUE)
    _, version, header_len = _PREAMBLE.unpack_from(data)
    if version != FORMAT_VERSION:
        raise InputError(
            f"Unsupported fingerprint format version {version}; this modelgif reads version "
            f"{FORMAT_VERSION}."
        )
    start = _PREAMBLE.size
    if header_len > MAX_HEADER_BYTES or start + header_len > len(data):
        raise IntegrityError(_OPAQUE)
    header = _json_exact(data[start : start + header_len])
    if not isinstance(header, dict) or set(header) != {
        "arrays",
        "envelope",
        "sealed_anchors_nbytes",
    }:
        raise IntegrityError(_OPAQUE)
    table, sealed_len = header["arrays"], header["sealed_anchors_nbytes"]
    if not isinstance(table, list) or len(table) > MAX_ARRAYS:
        raise IntegrityError(_OPAQUE)
    if not _is_size(sealed_len, _MIN_SEALED, MAX_ARRAY_BYTES):
        raise IntegrityError(_OPAQUE)
    names: list[str] = []
    for entry in table:
        if (
            not isinstance(entry, dict)
            or set(entry) != {"name", "nbytes"}
            or not isinstance(entry["name"], str)
            or not _NAME.fullmatch(entry["name"])
            or not _is_size(entry["nbytes"], 1, MAX_ARRAY_BYTES)
            or (names and entry["name"] <= names[-1])
        ):
            raise IntegrityError(_OPAQUE)
        names.append(entry["name"])
    pos = start + header_len
    if pos + sum(entry["nbytes"] for entry in table) + sealed_len != len(data):
        raise IntegrityError(_OPAQUE)
    arrays: dict[str, bytes] = {}
    for entry in table:
        arrays[entry["name"]] = data[pos : pos + entry["nbytes"]]
        pos += entry["nbytes"]
    return _Parsed(envelope=header["envelope"], arrays=arrays, sealed=data[pos:])


def _check_predicate(statement: dict[str, Any], signer: str, parsed: _Parsed) -> None:
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
        raise IntegrityError(_OPAQUE)
    anchors = predicate["anchors"]
    try:
        sealed_ok = (
            anchors["sealed"] == {"sha256": _sha256(parsed.sealed), "nbytes": len(parsed.sealed)}
            and _HEX64.fullmatch(anchors["commitment"]["sha256"]) is not None
        )
    except (TypeError, KeyError):
        sealed_ok = False
    described = predicate["arrays"]
    if not sealed_ok or not isinstance(described, dict) or set(described) != set(parsed.arrays):
        raise IntegrityError(_OPAQUE)
    for name, data in parsed.arrays.items():
        array = parse_canonical_array(data, MAX_ARRAY_BYTES)
        expected = {"dtype": array.dtype.str, "shape": list(array.shape), "sha256": _sha256(data)}
        if described[name] != expected:
            raise IntegrityError(_OPAQUE)


def _build(parsed: _Parsed, statement: dict[str, Any], verified: bool) -> Fingerprint:
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
    parsed = _parse(_read_file(path))
    try:
        statement = verify_envelope(parsed.envelope, public_key, PREDICATE_TYPE)
        return _build(parsed, statement, verified=True)
    except IntegrityError:
        raise IntegrityError(_OPAQUE) from None  # one message, whichever check failed


def read_fingerprint_unverified(path: str | os.PathLike[str]) -> Fingerprint:
    """Read a fingerprint WITHOUT checking its signature (digests are still checked).

    For display without a key (`modelgif inspect`); nothing read this way is evidence.
    """
    parsed = _parse(_read_file(path))
    try:
        statement, _ = statement_unverified(parsed.envelope, PREDICATE_TYPE)
        return _build(parsed, statement, verified=False)
    except IntegrityError:
        raise IntegrityError(_OPAQUE) from None


# ----------------------------------------------------------------------------- reveal


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
        "sealed_sha256": _sha256(fingerprint.sealed_anchors),
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
            or not _HEX64.fullmatch(commitment)
            or not _HEX64.fullmatch(sealed)
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
        or reveal.sealed_sha256 != _sha256(fingerprint.sealed_anchors)
    ):
        raise IntegrityError("The reveal does not open this fingerprint.")
    return open_anchors(
        fingerprint.sealed_anchors, reveal.anchor_key, fingerprint.fingerprint_id,
        fingerprint.commitment,
    )  # fmt: skip
