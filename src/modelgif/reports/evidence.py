"""Verdict records -> a signed evidence bundle, and the check of one.

    VERDICT.json ... ──build_statement──> in-toto Statement (predicate: the evidence)
        ──canonical JSON──> evidence.json          the source of truth, human-readable JSON
        ──DSSE sign──────> evidence.sig.json       detached envelope; its payload IS evidence.json
        ──render_html────> report.html             rendered from evidence.json only

Why a detached envelope: evidence.json stays readable JSON that a person can open, while the
envelope (the same DSSE as fingerprints, checkable by generic DSSE tools) carries exactly its
bytes. `verify_bundle` checks the signature, that evidence.json is byte for byte the signed
payload, that report.html is byte for byte what the statement renders to, and, for every
listed file found at hand, its sha256. Any mismatch is one opaque IntegrityError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.crypto.keys import PrivateKey, PublicKey, keyid
from modelgif.crypto.signing import (
    canonical_json,
    make_statement,
    sign_statement,
    verify_envelope,
)
from modelgif.digests import sha256_file
from modelgif.errors import InputError, IntegrityError
from modelgif.reports.html import render_html
from modelgif.verifiers.record import environment, load_record, now_utc

__all__ = ["PREDICATE_TYPE", "ReportBundle", "build_statement", "verify_bundle", "write_report"]

PREDICATE_TYPE = "https://modelgif.dev/evidence/v1"
EVIDENCE_FILE = "evidence.json"
SIGNATURE_FILE = "evidence.sig.json"
HTML_FILE = "report.html"
MAX_BUNDLE_FILE = 64 * 1024 * 1024
_OPAQUE = "Evidence integrity check failed."

REPORT_LIMITATIONS = (
    "Each verdict rests on gradient fields at secret anchors; revealing the anchors to a "
    "third party (modelgif reveal) lets them re-check the numbers, but also lets that party "
    "train against those anchors: use a fresh fingerprint afterwards.",
    "File hashes prove which files were examined, not where they came from.",
)


@dataclass(frozen=True)
class ReportBundle:
    """Paths of a written bundle."""

    folder: Path
    evidence: Path
    signature: Path
    html: Path


def _finding(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    suspects = [i["name"] for i in record["inputs"] if i["role"] in ("suspect", "unlearned")]
    return {
        "kind": record["kind"],
        "suspect": suspects[0] if suspects else path.stem,
        "source": {"name": path.name, "sha256": sha256_file(path)},
        "created_at": record["created_at"],
        "verdict": record["verdict"],
        "method": record["method"],
        "calibration": record.get("calibration"),
        "inputs": [{"role": i["role"], "name": i["name"], "sha256": i["sha256"]}
                   for i in record["inputs"]],
        "command": record["command"],
    }


def build_statement(
    verdict_paths: list[Path],
    private_key: PrivateKey,
    case_id: str,
    title: str,
    scope: str,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The in-toto statement whose predicate is the whole evidence of the case."""
    if not verdict_paths:
        raise InputError("A report needs at least one verdict file.")
    records = [(Path(p), load_record(p)) for p in verdict_paths]
    created_at = created_at or now_utc()
    examiner = keyid(private_key)
    evidence: dict[str, dict[str, Any]] = {}
    custody: list[dict[str, Any]] = []
    limitations: list[str] = []
    for path, record in records:
        for item in record["inputs"]:
            evidence.setdefault(f"{item['role']}:{item['sha256']}", item)
        evidence.setdefault(f"verdict:{path.name}", {
            "role": "verdict", "name": path.name, "sha256": sha256_file(path)})
        custody += record["custody"]
        custody.append({"at": record["created_at"], "event": f"verdict {path.name} made",
                        "by": record["custody"][-1].get("by", "") if record["custody"] else ""})
        verdict = record["verdict"]
        for note in [*verdict.get("notes", []), *verdict.get("limitations", [])]:
            if isinstance(note, str) and note not in limitations:
                limitations.append(note)
    table = [evidence[k] for k in sorted(evidence)]
    predicate: dict[str, Any] = {
        "schema": "modelgif.evidence/v1",
        "case": {"id": case_id, "title": title, "scope": scope, "examiner_keyid": examiner},
        "created_at": created_at,
        "evidence": table,
        "environment": environment(),
        "custody": [*sorted(custody, key=lambda c: (str(c.get("at", "")), str(c.get("event")))),
                    {"at": created_at, "event": "evidence bundle signed", "by": examiner}],
        "findings": [_finding(path, record) for path, record in records],
        "limitations": [*limitations, *REPORT_LIMITATIONS],
        "reproduce": [record["command"] for _, record in records]
        + ["modelgif report verify DIR --pub OWNER.pub"],
    }
    subjects = [{"name": e["name"], "digest": {"sha256": e["sha256"]}}
                for e in table]
    return make_statement(subjects, PREDICATE_TYPE, predicate)


def write_report(
    verdict_paths: list[Path],
    private_key: PrivateKey,
    folder: Path,
    case_id: str = "case-1",
    title: str = "modelgif forensic report",
    scope: str = "Comparison of suspect models with the owner's fingerprint.",
    created_at: str | None = None,
) -> ReportBundle:
    """Write evidence.json, evidence.sig.json and report.html into `folder`."""
    statement = build_statement([Path(p) for p in verdict_paths], private_key, case_id, title,
                                scope, created_at)
    envelope = sign_statement(statement, private_key)
    folder.mkdir(parents=True, exist_ok=True)
    bundle = ReportBundle(folder, folder / EVIDENCE_FILE, folder / SIGNATURE_FILE,
                          folder / HTML_FILE)
    bundle.evidence.write_bytes(canonical_json(statement))
    bundle.signature.write_text(json.dumps(envelope, indent=2, sort_keys=True) + "\n")
    bundle.html.write_text(render_html(statement), encoding="utf-8")
    return bundle


def _read_bounded(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: missing from the report folder")
    if path.stat().st_size > MAX_BUNDLE_FILE:
        raise IntegrityError(_OPAQUE)
    return path.read_bytes()


def verify_bundle(
    folder: Path, public_key: PublicKey, files: dict[str, Path] | None = None
) -> dict[str, Any]:
    """Check a bundle; returns a summary, raises IntegrityError on any mismatch.

    `files` maps evidence names to local paths to re-hash (e.g. the models and verdicts).
    """
    folder = Path(folder)
    evidence_bytes = _read_bounded(folder / EVIDENCE_FILE)
    try:
        envelope = json.loads(_read_bounded(folder / SIGNATURE_FILE))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise IntegrityError(_OPAQUE) from None
    statement = verify_envelope(envelope, public_key, PREDICATE_TYPE)
    if canonical_json(statement) != evidence_bytes:
        raise IntegrityError(_OPAQUE)
    try:
        html = render_html(statement)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IntegrityError(_OPAQUE) from None
    if _read_bounded(folder / HTML_FILE) != html.encode("utf-8"):
        raise IntegrityError(_OPAQUE)
    checked = []
    listed = {e["name"]: e["sha256"] for e in statement["predicate"]["evidence"]}
    for name, path in (files or {}).items():
        if name not in listed or sha256_file(Path(path)) != listed[name]:
            raise IntegrityError(_OPAQUE)
        checked.append(name)
    findings = statement["predicate"]["findings"]
    return {
        "signature": "verified",
        "signed_by": statement["predicate"]["case"]["examiner_keyid"],
        "evidence_json": "matches the signed payload",
        "report_html": "matches the rendering of the signed evidence",
        "files_rehashed": sorted(checked),
        "decisions": {f["suspect"]: f["verdict"]["decision"] for f in findings},
    }
