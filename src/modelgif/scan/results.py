"""The scan file: one JSON line per decided (fingerprint, suspect) pair, safe to resume.

    line 1     {"kind": "header", "schema": ..., "fingerprints": [...], "settings": {...}}
    line 2...  {"kind": "pair", "fingerprint": ID, "suspect": {...}, "decision": ...,
                "verdict": {...} | null, "error": null | "why", "seconds": ...}

Why JSONL, appended, flushed and fsynced per pair: a scan of thousands of hostile models
runs for hours and may be killed at any moment; every decided pair is on disk before the
next one starts, and a rerun skips exactly those. A SIGKILL can at worst leave one partial
last line, which the rerun drops (that pair is decided again). The header names the
fingerprints (ids, file digests, calibrations) and the settings that shape a verdict; a
rerun with other ones is refused, so one file never mixes two scans.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from modelgif.errors import InputError

__all__ = ["SCHEMA", "ResultsFile", "read_scan", "summarize"]

log = logging.getLogger(__name__)

SCHEMA = "modelgif.scan/v1"
MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_SCAN_BYTES = 4 * 1024 * 1024 * 1024


def _lines(handle: IO[bytes], path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each complete line; a partial last line is not yielded."""
    offset = 0
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            raise InputError(f"{path}: a line is longer than {MAX_LINE_BYTES} bytes")
        if not line.endswith(b"\n"):
            log.warning("%s: dropping a partial last line (an interrupted write)", path)
            return
        yield offset, line
        offset += len(line)


def _parse(line: bytes, where: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputError(f"{where}: not a JSON line of a scan file") from None
    if not isinstance(item, dict):
        raise InputError(f"{where}: not a JSON object")
    return item


def _check_header(item: dict[str, Any], where: str) -> None:
    if item.get("kind") != "header" or item.get("schema") != SCHEMA:
        raise InputError(f"{where}: not a modelgif scan file (no {SCHEMA} header)")
    fingerprints = item.get("fingerprints")
    if not isinstance(fingerprints, list) or not all(
            isinstance(f, dict) and isinstance(f.get("id"), str) for f in fingerprints):
        raise InputError(f"{where}: the header's 'fingerprints' is malformed")
    if not isinstance(item.get("settings"), dict):
        raise InputError(f"{where}: the header has no 'settings'")


def _check_pair(item: dict[str, Any], ids: set[str], where: str) -> None:
    suspect = item.get("suspect")
    if (item.get("kind") != "pair" or item.get("fingerprint") not in ids
            or not isinstance(suspect, dict) or not isinstance(suspect.get("name"), str)
            or not isinstance(item.get("decision"), str)):
        raise InputError(f"{where}: not a pair line of this scan")
    if item["decision"] == "error":
        if not isinstance(item.get("error"), str):
            raise InputError(f"{where}: an error line without its reason")
    elif not isinstance(item.get("verdict"), dict):
        raise InputError(f"{where}: a decided pair without its verdict")


def read_scan(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the pair lines of a scan file (hostile input: bounded, checked)."""
    if not path.is_file():
        raise InputError(f"{path}: no such scan file")
    if path.stat().st_size > MAX_SCAN_BYTES:
        raise InputError(f"{path}: larger than {MAX_SCAN_BYTES} bytes")
    header, pairs, _ = _read(path)
    return header, pairs


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Header, pairs, and the length of the complete lines (where appending resumes)."""
    header: dict[str, Any] | None = None
    pairs: list[dict[str, Any]] = []
    end = 0
    with open(path, "rb") as handle:
        for number, (offset, line) in enumerate(_lines(handle, path), 1):
            item = _parse(line, f"{path}:{number}")
            if header is None:
                _check_header(item, f"{path}:{number}")
                header = item
            else:
                _check_pair(item, {f["id"] for f in header["fingerprints"]}, f"{path}:{number}")
                pairs.append(item)
            end = offset + len(line)
    if header is None:
        raise InputError(f"{path}: empty, not a modelgif scan file")
    return header, pairs, end


def _check_regular_or_absent(path: Path) -> None:
    """The scan file is appended to in place: never through a link, never a FIFO (which
    would block) or a device."""
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; modelgif never writes through one")
    if path.exists() and not path.is_file():
        raise InputError(f"{path} is not a regular file")


class ResultsFile:
    """The scan file opened for appending: created with `header`, or resumed if it matches."""

    def __init__(self, path: Path, header: dict[str, Any], force: bool = False) -> None:
        self.path = path
        expected = json.loads(json.dumps(header))  # compare as it reads back
        self.pairs: list[dict[str, Any]] = []
        _check_regular_or_absent(path)
        if path.exists() and path.stat().st_size > 0 and not force:
            found, self.pairs, end = _read(path)
            for key in ("fingerprints", "settings"):
                if found.get(key) != expected[key]:
                    raise InputError(
                        f"{path}: made for other {key} than this scan's; give another -o "
                        "(or --force to start it again)")
            self.header = found
            with open(path, "r+b") as handle:  # drop a partial last line
                handle.truncate(end)
            self._handle = open(path, "ab")  # noqa: SIM115 (closed by close())
        else:
            self.header = expected
            self._handle = open(path, "wb")  # noqa: SIM115 (closed by close())
            self._write(expected)
        self.done = {(p["fingerprint"], p["suspect"]["name"]) for p in self.pairs}

    def _write(self, item: dict[str, Any]) -> None:
        self._handle.write(json.dumps(item, sort_keys=True).encode() + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def append(self, pair: dict[str, Any]) -> None:
        """Write one decided pair durably (flushed and fsynced) before going on."""
        self._write(pair)
        self.pairs.append(pair)
        self.done.add((pair["fingerprint"], pair["suspect"]["name"]))

    def close(self) -> None:
        self._handle.close()


def summarize(header: dict[str, Any], pairs: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts per decision (and 'error') for each fingerprint, by the fingerprint's name."""
    plain = [str(f.get("name", f["id"])) for f in header["fingerprints"]]
    names = {f["id"]: name if plain.count(name) == 1 else f"{name} ({f['id'][:8]})"
             for f, name in zip(header["fingerprints"], plain, strict=True)}
    counts: dict[str, Counter[str]] = {names[f["id"]]: Counter() for f in header["fingerprints"]}
    for pair in pairs:
        counts[names[pair["fingerprint"]]][pair["decision"]] += 1
    return {name: dict(sorted(c.items())) for name, c in counts.items()}
