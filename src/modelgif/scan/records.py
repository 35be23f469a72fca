"""A scan file -> the verdict records `modelgif report` takes: derived pairs become findings.

Each derived pair becomes the record `modelgif verify` would have written for it (the
same verdict, inputs, method and calibration, read from the scan's header and the pair's
line), plus the scan file itself as an input, so the evidence table names where the
finding came from. The records are written into the report folder, next to the bundle
that signs their digests, so the bundle and its sources travel together.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from modelgif.crypto.keys import PrivateKey
from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.scan.results import SCHEMA, read_scan
from modelgif.verifiers.record import make_record, write_record

__all__ = ["RECORDS_FOLDER", "expand_scan_files", "is_scan_file", "scan_records"]

RECORDS_FOLDER = "scan-verdicts"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def is_scan_file(path: Path) -> bool:
    """True when `path` starts with a scan header (reads only the first line)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16)
        item = json.loads(first)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(item, dict) and item.get("schema") == SCHEMA


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise InputError(f"{where}: field '{key}' is missing or not a string")
    return value


def _record(scan: Path, scan_sha256: str, fingerprint: dict[str, Any],
            pair: dict[str, Any]) -> dict[str, Any]:
    where = f"{scan}: fingerprint {fingerprint['id']}"
    suspect = pair["suspect"]
    calibration = fingerprint.get("calibration")
    inputs: list[dict[str, Any]] = [
        {"role": "fingerprint", "name": _text(fingerprint, "name", where),
         "sha256": _text(fingerprint, "sha256", where),
         "digest": _text(fingerprint, "model_digest", where)},
        {"role": "suspect", "name": Path(_text(suspect, "name", str(scan))).name,
         "sha256": _text(suspect, "sha256", str(scan)),
         "digest": _text(suspect, "digest", str(scan)), "opset": suspect.get("opset")},
    ]
    command = ["modelgif", "verify", fingerprint["name"], suspect["name"], "--key", "OWNER.key"]
    fitted = None
    if isinstance(calibration, dict):
        inputs.append({"role": "calibration", "name": _text(calibration, "name", where),
                       "sha256": _text(calibration, "sha256", where)})
        command += ["--calibration", calibration["name"]]
        fitted = (calibration.get("estimators") or {}).get(pair.get("compared_sketch"))
    inputs.append({"role": "scan", "name": scan.name, "sha256": scan_sha256})
    record = make_record(
        "ownership", pair["verdict"], inputs,
        {"fingerprint_config": fingerprint.get("config"),
         "fingerprint_id": fingerprint.get("id"),
         "anchor_commitment": fingerprint.get("commitment"),
         "compared_sketch": pair.get("compared_sketch"),
         "suspect_estimator": pair.get("suspect_estimator")},
        [{"at": str(fingerprint.get("created_at")), "event": "fingerprint made",
          "by": str(fingerprint.get("keyid"))},
         {"at": str(pair.get("decided_at")), "event": f"suspect verified (scan {scan.name})",
          "by": str(fingerprint.get("keyid"))}],
        " ".join(shlex.quote(part) for part in command),
        calibration=fitted if isinstance(fitted, dict) else None,
        created_at=str(pair.get("decided_at")),
    )
    return record


def scan_records(scan: Path, decisions: tuple[str, ...] = ("derived",)) -> list[dict[str, Any]]:
    """The verdict records of the pairs of `scan` with one of `decisions`."""
    header, pairs = read_scan(scan)
    fingerprints = {f["id"]: f for f in header["fingerprints"]}
    digest = sha256_file(scan)
    return [_record(scan, digest, fingerprints[p["fingerprint"]], p)
            for p in pairs if p["decision"] in decisions]


def expand_scan_files(items: list[Path], folder: Path, private_key: PrivateKey,
                      force: bool = False) -> list[Path]:
    """Verdict files as given, with each scan file replaced by its derived pairs' records,
    signed with `private_key` and written beside the report folder, in
    FOLDER.scan-verdicts/ (the report folder itself is replaced whole when written)."""
    expanded: list[Path] = []
    for item in items:
        if not is_scan_file(item):
            expanded.append(item)
            continue
        records = scan_records(item)
        if not records:
            raise InputError(f"{item}: the scan has no derived pair to report")
        target = folder.parent / f"{folder.name}.{RECORDS_FOLDER}"
        target.mkdir(parents=True, exist_ok=True)
        for record in records:
            fingerprint, suspect = record["inputs"][0]["name"], record["inputs"][1]
            name = _UNSAFE.sub("_", f"{Path(fingerprint).stem}--{Path(suspect['name']).stem}"
                               f"--{suspect['sha256'][:12]}")
            expanded.append(write_record(target / f"{name}.json", record, private_key, force))
    return expanded
