"""The .mgf container: magic, version, a canonical JSON header, then raw sections.

Why apart from record.py: this is the byte layout only (what sits where, and how big it may
be), checked before anything is allocated or trusted; record.py gives the sections meaning
(the signed statement, the arrays, the sealed anchors). A reader allocates nothing before
checking sizes, runs no code from the file, and the layout must be exactly what the writer
produces (no gaps, no trailing bytes; the header re-serializes to itself).

Layout, version 1 (all integers little-endian):

    0   magic  b"\\x89MGF\\r\\n\\x1a\\n"  (PNG-style: catches text-mode and 7-bit mangling)
    8   u32    format version (1)
    12  u32    header length H
    16  H      header: canonical JSON {"arrays": [{"name", "nbytes"}...] (sorted by name),
                                       "envelope": DSSE envelope, "sealed_anchors_nbytes": n}
    ..         each array's canonical bytes (sealing.canonical_array_bytes), in header order
    ..         the sealed anchors (sealing.seal_anchors), then end of file
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from typing import Any

from modelgif.crypto.signing import canonical_json
from modelgif.errors import InputError, IntegrityError
from modelgif.safe_read import open_regular

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_ARRAYS",
    "MAX_ARRAY_BYTES",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "NAME_PATTERN",
    "OPAQUE",
    "Container",
    "pack_container",
    "parse_container",
    "read_container",
]

MAGIC = b"\x89MGF\r\n\x1a\n"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 1 << 30
MAX_HEADER_BYTES = 16 << 20
MAX_ARRAY_BYTES = 512 << 20
MAX_ARRAYS = 64
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
OPAQUE = "The fingerprint does not verify: wrong key, or the file was altered."
_PREAMBLE = struct.Struct("<8sII")
_MIN_SEALED = 12 + 16  # nonce + GCM tag


@dataclass(frozen=True)
class Container:
    """The sections of one .mgf file, sliced out but not yet trusted."""

    envelope: dict[str, Any]
    arrays: dict[str, bytes]
    sealed: bytes


def read_container(path: str | os.PathLike[str]) -> Container:
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
                raise IntegrityError(OPAQUE)
            head += handle.read(_PREAMBLE.size - len(MAGIC))
            _declared_size(head, handle, size)
            rest = handle.read(MAX_FILE_BYTES + 1 - len(head))
    except OSError as error:
        raise InputError(f"Cannot read {name}: {error.strerror}.") from None
    return parse_container(head + rest)


def _declared_size(head: bytes, handle: Any, size: int) -> None:
    """IntegrityError unless the header's sections add up to `size` (header read, then
    rewound); the full checks are _parse's."""
    if len(head) < _PREAMBLE.size:
        raise IntegrityError(OPAQUE)
    _, version, header_len = _PREAMBLE.unpack_from(head)
    if version != FORMAT_VERSION:
        return  # _parse names the unsupported version
    if header_len > MAX_HEADER_BYTES or _PREAMBLE.size + header_len > size:
        raise IntegrityError(OPAQUE)
    header = _json_exact(handle.read(header_len))
    handle.seek(_PREAMBLE.size)
    try:
        sections = sum(int(e["nbytes"]) for e in header["arrays"])
        declared = _PREAMBLE.size + header_len + sections + int(header["sealed_anchors_nbytes"])
    except (TypeError, KeyError, ValueError):
        raise IntegrityError(OPAQUE) from None
    if declared != size:
        raise IntegrityError(OPAQUE)


def _json_exact(raw: bytes) -> Any:
    """Parse canonical JSON; IntegrityError unless `raw` is exactly its canonical form."""
    try:
        value = json.loads(raw.decode("utf-8"))
        canonical = canonical_json(value)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, InputError):
        raise IntegrityError(OPAQUE) from None
    if canonical != raw:
        raise IntegrityError(OPAQUE)
    return value


def _is_size(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_container(data: bytes) -> Container:
    """Check magic, version and layout; slice out the sections. Allocates no more than data."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise InputError("Not a modelgif fingerprint file.")
    if len(data) < _PREAMBLE.size or len(data) > MAX_FILE_BYTES:
        raise IntegrityError(OPAQUE)
    _, version, header_len = _PREAMBLE.unpack_from(data)
    if version != FORMAT_VERSION:
        raise InputError(
            f"Unsupported fingerprint format version {version}; this modelgif reads version "
            f"{FORMAT_VERSION}."
        )
    start = _PREAMBLE.size
    if header_len > MAX_HEADER_BYTES or start + header_len > len(data):
        raise IntegrityError(OPAQUE)
    header = _json_exact(data[start : start + header_len])
    if not isinstance(header, dict) or set(header) != {
        "arrays",
        "envelope",
        "sealed_anchors_nbytes",
    }:
        raise IntegrityError(OPAQUE)
    table, sealed_len = header["arrays"], header["sealed_anchors_nbytes"]
    if not isinstance(table, list) or len(table) > MAX_ARRAYS:
        raise IntegrityError(OPAQUE)
    if not _is_size(sealed_len, _MIN_SEALED, MAX_ARRAY_BYTES):
        raise IntegrityError(OPAQUE)
    names: list[str] = []
    for entry in table:
        if (
            not isinstance(entry, dict)
            or set(entry) != {"name", "nbytes"}
            or not isinstance(entry["name"], str)
            or not NAME_PATTERN.fullmatch(entry["name"])
            or not _is_size(entry["nbytes"], 1, MAX_ARRAY_BYTES)
            or (names and entry["name"] <= names[-1])
        ):
            raise IntegrityError(OPAQUE)
        names.append(entry["name"])
    pos = start + header_len
    if pos + sum(entry["nbytes"] for entry in table) + sealed_len != len(data):
        raise IntegrityError(OPAQUE)
    arrays: dict[str, bytes] = {}
    for entry in table:
        arrays[entry["name"]] = data[pos : pos + entry["nbytes"]]
        pos += entry["nbytes"]
    return Container(envelope=header["envelope"], arrays=arrays, sealed=data[pos:])


def pack_container(envelope: dict[str, Any], arrays: dict[str, bytes], sealed: bytes) -> bytes:
    """The file's bytes; InputError if it would pass a limit the reader enforces."""
    header = canonical_json({
        "arrays": [{"name": name, "nbytes": len(data)} for name, data in arrays.items()],
        "envelope": envelope,
        "sealed_anchors_nbytes": len(sealed),
    })
    blob = b"".join([_PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header)), header,
                     *arrays.values(), sealed])
    if len(blob) > MAX_FILE_BYTES or len(header) > MAX_HEADER_BYTES:
        raise InputError(f"The fingerprint would exceed {MAX_FILE_BYTES} bytes.")
    return blob
