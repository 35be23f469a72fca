"""The verdict record: one comparison's verdict with everything needed to report and re-check it.

`modelgif verify --json` and `modelgif audit-unlearning --json` write one; `modelgif report`
reads several. A Verdict says what was decided; the record adds what was compared (files,
their sha256 and normalized digests), how (the method echo and anchor commitment), against
which null (the calibration), when and by which key (custody), and the command that
reproduces it. Records are read back as hostile input: size-bounded, schema-checked, and
every failure is one InputError.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelgif.digests import sha256_file
from modelgif.errors import InputError
from modelgif.safe_read import read_json

__all__ = ["KINDS", "SCHEMA", "load_record", "make_record", "now_utc"]

SCHEMA = "modelgif.verdict-record/v1"
KINDS = ("ownership", "unlearning")
MAX_RECORD_BYTES = 32 * 1024 * 1024
REQUIRED = {"schema": str, "kind": str, "created_at": str, "verdict": dict, "inputs": list,
            "method": dict, "custody": list, "command": str, "environment": dict}


def now_utc() -> str:
    """ISO-8601 UTC time to the second (what custody logs record)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def environment() -> dict[str, str]:
    """Tool versions and the machine, for the evidence table."""
    from modelgif.fingerprint.record import tool_versions

    return {**tool_versions(), "python": sys.version.split()[0],
            "machine": f"{platform.system()} {platform.machine()}"}


def make_record(
    kind: str,
    verdict: dict[str, Any],
    inputs: list[dict[str, Any]],
    method: dict[str, Any],
    custody: list[dict[str, Any]],
    command: str,
    calibration: dict[str, Any] | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """Assemble and validate a record (JSON-able dict)."""
    record = {
        "schema": SCHEMA,
        "kind": kind,
        "created_at": created_at or now_utc(),
        "verdict": verdict,
        "inputs": inputs,
        "method": method,
        "calibration": calibration,
        "custody": custody,
        "command": command,
        "environment": environment(),
    }
    _validate(record, "record")
    return record


def load_record(path: str | Path) -> dict[str, Any]:
    """Read and validate a verdict record file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such verdict file")
    data = read_json(path, MAX_RECORD_BYTES, "verdict record")
    _validate(data, str(path))
    result: dict[str, Any] = data
    return result


def _validate(data: object, name: str) -> None:
    if not isinstance(data, dict):
        raise InputError(f"{name}: a verdict record must be a JSON object")
    for key, kind in REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise InputError(f"{name}: field '{key}' is missing or not a {kind.__name__}")
    if data["schema"] != SCHEMA:
        raise InputError(f"{name}: schema {data['schema']!r} is not {SCHEMA}")
    if data["kind"] not in KINDS:
        raise InputError(f"{name}: kind {data['kind']!r} is not one of {', '.join(KINDS)}")
    if not isinstance(data["verdict"].get("decision"), str):
        raise InputError(f"{name}: the verdict has no decision")
    for item in data["inputs"]:
        if not (isinstance(item, dict) and isinstance(item.get("role"), str)
                and isinstance(item.get("name"), str) and isinstance(item.get("sha256"), str)):
            raise InputError(f"{name}: each input needs a role, a name and a sha256")
    calibration = data.get("calibration")
    if calibration is not None and not isinstance(calibration, dict):
        raise InputError(f"{name}: field 'calibration' must be an object or null")


def file_entry(role: str, path: str | Path, digest: str | None = None,
               opset: int | None = None) -> dict[str, Any]:
    """One row of the evidence table: role, file name, sha256 (+ normalized digest, opset)."""
    entry: dict[str, Any] = {"role": role, "name": Path(path).name, "sha256": sha256_file(path)}
    if digest is not None:
        entry["digest"] = digest
    if opset is not None:
        entry["opset"] = opset
    return entry


def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    """Write a record as indented, sorted JSON."""
    path = Path(path)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path
