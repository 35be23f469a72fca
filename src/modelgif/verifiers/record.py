"""The verdict record: one comparison's verdict with everything needed to report and re-check it.

`modelgif verify -o` and `modelgif audit-unlearning -o` write one; `modelgif report` reads
several. A Verdict says what was decided; the record adds what was compared (files, their
sha256, their external-data files and normalized digests), how (the method echo, the
fingerprint id and anchor commitment), against which null (the calibration), when and by
which key (custody), and the command that reproduces it.

On disk a record is a DSSE envelope signed by the examiner's key (verifiers/signed_file.py):
its subjects are the input files, its predicate the record. Records are read back as hostile
input: the signature first, then a strict schema (enums for kinds and decisions, so a
homoglyph is refused; sha256 digests of 64 lowercase hex digits; finite numbers;
probabilities in [0, 1]) and the consistency of an ownership decision with its numbers and
its calibration. Every failure is one error line.
"""

from __future__ import annotations

import math
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelgif.crypto.keys import PrivateKey, PublicKey
from modelgif.digests import external_data_digests, is_sha256, sha256_file
from modelgif.errors import InputError
from modelgif.verifiers.calibration import Calibration
from modelgif.verifiers.signed_file import read_signed, write_signed
from modelgif.verifiers.verdict import DECISIONS

__all__ = [
    "KINDS",
    "PREDICATE_TYPE",
    "SCHEMA",
    "environment",
    "file_entry",
    "load_record",
    "make_record",
    "now_utc",
    "record_subjects",
    "write_record",
]  # fmt: skip

SCHEMA = "modelgif.verdict-record/v1"
PREDICATE_TYPE = "https://modelgif.dev/verdict-record/v1"
KINDS = ("ownership", "unlearning")
UNLEARNING_DECISIONS = ("forgotten", "not forgotten", "inconclusive")
MAX_RECORD_BYTES = 32 * 1024 * 1024
REQUIRED = {"schema": str, "kind": str, "created_at": str, "verdict": dict, "inputs": list,
            "method": dict, "custody": list, "command": str, "environment": dict}
PROBABILITIES = ("p_value", "p_value_empirical", "target_fpr", "confidence", "fpr_estimate",
                 "fpr_bound", "fpr_bound_empirical")
_INPUT_KEYS = {"role", "name", "sha256", "digest", "opset", "external_data"}
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_FINGERPRINT_ID = re.compile(r"[0-9a-f]{32}")
_FIX = "re-run the command that wrote it (`modelgif verify ... -o` or `modelgif " \
       "audit-unlearning ... -o`) to write a signed record"


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


def file_entry(role: str, path: str | Path, digest: str | None = None,
               opset: int | None = None) -> dict[str, Any]:
    """One row of the evidence table: role, file name, sha256 (+ normalized digest, opset).

    An ONNX model (given with its opset) also lists the external-data files beside it that
    its weights are read from, so the evidence covers every byte of it.
    """
    entry: dict[str, Any] = {"role": role, "name": Path(path).name, "sha256": sha256_file(path)}
    if digest is not None:
        entry["digest"] = digest
    if opset is not None:
        entry["opset"] = opset
        data = external_data_digests(path)
        if data:
            entry["external_data"] = [{"name": n, "sha256": s} for n, s in data]
    return entry


def record_subjects(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The in-toto subjects of a record: every input file and its external-data files."""
    subjects = []
    for item in record["inputs"]:
        subjects.append({"name": item["name"], "digest": {"sha256": item["sha256"]}})
        subjects += [{"name": d["name"], "digest": {"sha256": d["sha256"]}}
                     for d in item.get("external_data", [])]
    return subjects


def write_record(
    path: str | Path, record: dict[str, Any], private_key: PrivateKey, force: bool = False
) -> Path:
    """Validate, sign with `private_key` and write a record (refuses to replace one
    unless `force`)."""
    _validate(record, "record")
    return write_signed(path, record_subjects(record), PREDICATE_TYPE, record, private_key,
                        force)


def load_record(path: str | Path, public_key: PublicKey) -> dict[str, Any]:
    """Read a record signed by `public_key`'s owner and re-check all of it."""
    path = Path(path)
    statement = read_signed(path, PREDICATE_TYPE, public_key, "verdict record", _FIX,
                            MAX_RECORD_BYTES)
    record: dict[str, Any] = statement["predicate"]
    _validate(record, str(path))
    if statement["subject"] != record_subjects(record):
        raise InputError(f"{path}: the signed subjects are not the record's inputs")
    return record


# ----------------------------------------------------------------------------- schema


def _fail(name: str, what: str) -> InputError:
    return InputError(f"{name}: {what}")


def _check_finite(value: object, name: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(name, "holds a number that is not finite")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item, name)
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, name)


def _is_probability(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and 0.0 <= float(value) <= 1.0)


def _validate(data: object, name: str) -> None:
    if not isinstance(data, dict):
        raise _fail(name, "a verdict record must be a JSON object")
    unknown = sorted(set(data) - {*REQUIRED, "calibration"})
    if unknown:
        raise _fail(name, f"unknown field {unknown[0]!r}")
    for key, kind in REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise _fail(name, f"field '{key}' is missing or not a {kind.__name__}")
    if data["schema"] != SCHEMA:
        raise _fail(name, f"schema {data['schema']!r} is not {SCHEMA}")
    if data["kind"] not in KINDS:
        raise _fail(name, f"kind {data['kind']!r} is not one of {', '.join(KINDS)}")
    if not _TIMESTAMP.fullmatch(data["created_at"]):
        raise _fail(name, "created_at must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
    _check_finite(data, name)
    _check_inputs(data["inputs"], name)
    _check_custody(data["custody"], name)
    _check_verdict(data["verdict"], data["kind"], name)
    calibration = data.get("calibration")
    if calibration is not None and not isinstance(calibration, dict):
        raise _fail(name, "field 'calibration' must be an object or null")
    if data["kind"] == "ownership":
        _check_ownership(data, name)


def _check_inputs(inputs: list[Any], name: str) -> None:
    if not inputs:
        raise _fail(name, "a record lists its input files")
    for item in inputs:
        if not (isinstance(item, dict) and set(item) <= _INPUT_KEYS
                and isinstance(item.get("role"), str) and item["role"].isascii()
                and isinstance(item.get("name"), str) and item["name"]):
            raise _fail(name, "each input needs a role, a name and a sha256 (and no other "
                        "fields than digest, opset, external_data)")
        if not is_sha256(item.get("sha256")):
            raise _fail(name, f"input {item['name']!r}: sha256 must be 64 lowercase hex digits")
        if "digest" in item and not (isinstance(item["digest"], str)
                                     and _DIGEST.fullmatch(item["digest"])):
            raise _fail(name, f"input {item['name']!r}: digest must be sha256:<64 hex digits>")
        if "opset" in item and (isinstance(item["opset"], bool)
                                or not isinstance(item["opset"], int)):
            raise _fail(name, f"input {item['name']!r}: opset must be an integer")
        for data in item.get("external_data", []):
            if not (isinstance(data, dict) and set(data) == {"name", "sha256"}
                    and isinstance(data["name"], str) and is_sha256(data["sha256"])):
                raise _fail(name, f"input {item['name']!r}: each external-data file needs a "
                            "name and a sha256")


def _check_custody(custody: list[Any], name: str) -> None:
    for event in custody:
        if not (isinstance(event, dict) and set(event) == {"at", "event", "by"}
                and all(isinstance(v, str) for v in event.values())):
            raise _fail(name, "each custody event needs 'at', 'event' and 'by' strings")


def _check_verdict(verdict: dict[str, Any], kind: str, name: str) -> None:
    allowed: tuple[str, ...] = DECISIONS if kind == "ownership" else UNLEARNING_DECISIONS
    if verdict.get("decision") not in allowed:
        raise _fail(name, f"decision {verdict.get('decision')!r} is not one of "
                    f"{', '.join(allowed)}")
    if not isinstance(verdict.get("calibrated"), bool):
        raise _fail(name, "the verdict must say whether it is calibrated")
    for key in PROBABILITIES:
        if verdict.get(key) is not None and not _is_probability(verdict[key]):
            raise _fail(name, f"verdict '{key}' must be a probability in [0, 1]")
    ci = verdict.get("fpr_ci")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2
                               and all(_is_probability(v) for v in ci)):
        raise _fail(name, "verdict 'fpr_ci' must be two probabilities")


def _check_ownership(record: dict[str, Any], name: str) -> None:
    """The binding to one fingerprint, and a decision that follows from its numbers."""
    verdict, method = record["verdict"], record["method"]
    commitment = method.get("anchor_commitment")
    if not is_sha256(commitment) or not (isinstance(method.get("fingerprint_id"), str)
                                         and _FINGERPRINT_ID.fullmatch(method["fingerprint_id"])):
        raise _fail(name, "the method must name the fingerprint id and anchor commitment")
    compared = verdict.get("compared")
    if not isinstance(compared, dict) or compared.get("fingerprint_commitment") != commitment:
        raise _fail(name, "the verdict was computed at other anchors than the method names")
    for role in ("owner", "suspect"):
        value = compared.get(role)
        if not (isinstance(value, str) and (_DIGEST.fullmatch(value) or value == "callable")):
            raise _fail(name, f"compared '{role}' must be sha256:<64 hex digits>")
    if not verdict["calibrated"]:
        if verdict["decision"] != "inconclusive" or record.get("calibration") is not None:
            raise _fail(name, "an uncalibrated verdict is 'inconclusive' and has no null")
        return
    if record.get("calibration") is None:
        raise _fail(name, "a calibrated verdict must carry its calibration")
    calibration = Calibration.from_dict(record["calibration"])
    expected = {"threshold": calibration.threshold, "target_fpr": calibration.target_fpr,
                "n_null": calibration.n_null, "calibration_method": calibration.method,
                "p_value_method": calibration.p_value_method}
    for key, value in expected.items():
        if verdict.get(key) != value:
            raise _fail(name, f"verdict '{key}' is not its calibration's ({value!r})")
    if calibration.anchor_commitment != commitment:
        raise _fail(name, "the calibration was fitted at other anchors than the verdict's")
    statistic, p_value = verdict.get("statistic"), verdict.get("p_value")
    if not all(isinstance(v, int | float) and not isinstance(v, bool)
               for v in (statistic, p_value)):
        raise _fail(name, "a calibrated verdict needs its statistic and p-value")
    derived = statistic > calibration.threshold and p_value < calibration.target_fpr
    if (verdict["decision"] == "derived") != derived:
        raise _fail(name, f"decision {verdict['decision']!r} does not follow from T = "
                    f"{statistic:.6g} (threshold {calibration.threshold:.6g}) and p = "
                    f"{p_value:.6g} (target {calibration.target_fpr:.6g})")
