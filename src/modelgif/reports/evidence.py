"""Verdict records -> a signed evidence bundle, and the check of one.

    VERDICT.json ... ──build_statement──> in-toto Statement (predicate: the evidence)
        ──render_html────> report.html             rendered from the evidence
        ──print_pdf──────> report.pdf              (with --pdf) the same page, by Chromium
        the sha256 of report.html (and report.pdf) added to the statement ("renderings")
        ──canonical JSON──> evidence.json          the source of truth, human-readable JSON
        ──DSSE sign──────> evidence.sig.json       detached envelope; its payload IS evidence.json

Why a detached envelope: evidence.json stays readable JSON that a person can open, while the
envelope (the same DSSE as fingerprints, checkable by generic DSSE tools) carries exactly its
bytes. Why the pages are signed by their hash and not re-rendered: a report must still
verify after modelgif's page style changes, and a PDF is not reproducible byte for byte at
all. `verify_bundle` checks the signature, that evidence.json is byte for byte the signed
payload, that report.html and report.pdf are the files whose sha256 was signed, and, for
every listed file found at hand, its sha256 and those of the external-data files beside it.
Any mismatch is one opaque IntegrityError.

Nothing is signed on a verdict file's word: each must verify under the examiner's public key
and pass the record's strict schema (verifiers/record.load_record) before it enters the
statement. The files are written into a fresh folder that then replaces the old one
(modelgif.atomic_write), so a killed run leaves the previous bundle intact.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output_folder, write_folder
from modelgif.crypto.keys import PrivateKey, PublicKey, keyid
from modelgif.crypto.signing import (
    canonical_json,
    make_statement,
    sign_statement,
    verify_envelope,
)
from modelgif.digests import sha256_file
from modelgif.errors import InputError, IntegrityError
from modelgif.reports.explain import UNLEARNING_LIMITATIONS
from modelgif.reports.html import render_html
from modelgif.reports.pdf import print_pdf
from modelgif.verifiers.record import environment, load_record, now_utc
from modelgif.verifiers.verdict import LIMITATIONS as OWNERSHIP_LIMITATIONS

__all__ = [
    "BUNDLE_FILES", "PREDICATE_TYPE", "ReportBundle", "add_renderings", "build_statement",
    "verify_bundle", "write_report",
]  # fmt: skip

PREDICATE_TYPE = "https://modelgif.dev/evidence/v1"
EVIDENCE_FILE = "evidence.json"
SIGNATURE_FILE = "evidence.sig.json"
HTML_FILE = "report.html"
PDF_FILE = "report.pdf"
BUNDLE_FILES = (EVIDENCE_FILE, SIGNATURE_FILE, HTML_FILE, PDF_FILE)
MEDIA_TYPES = {HTML_FILE: "text/html", PDF_FILE: "application/pdf"}
VERIFY_COMMAND = "modelgif report verify DIR --pub OWNER.pub"
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
    pdf: Path | None = None

    def to_dict(self) -> dict[str, str]:
        """The written files by role (what `modelgif report --json` prints)."""
        paths = {"evidence": str(self.evidence), "signature": str(self.signature),
                 "html": str(self.html)}
        if self.pdf is not None:
            paths["pdf"] = str(self.pdf)
        return paths


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
    verdict_key: PublicKey | None = None,
    verify_command: str = VERIFY_COMMAND,
) -> dict[str, Any]:
    """The in-toto statement whose predicate is the whole evidence of the case.

    Each verdict file must be signed by `verdict_key` (default: the examiner's own key).
    `verify_command` is the last line of the reproduce list (the demo names its folders).
    """
    if not verdict_paths:
        raise InputError("A report needs at least one verdict file.")
    signer = verdict_key or private_key.public_key()
    records = [(Path(p), load_record(p, signer)) for p in verdict_paths]
    created_at = created_at or now_utc()
    examiner = keyid(private_key)
    evidence: dict[str, dict[str, Any]] = {}
    custody: list[dict[str, Any]] = []
    limitations: list[str] = []
    for path, record in records:
        for item in record["inputs"]:
            evidence.setdefault(f"{item['role']}:{item['sha256']}", item)
            for data in item.get("external_data", []):
                evidence.setdefault(f"{item['role']} data:{data['sha256']}", {
                    "role": f"{item['role']} external data", **data})
        evidence.setdefault(f"verdict:{path.name}", {
            "role": "verdict", "name": path.name, "sha256": sha256_file(path)})
        custody += record["custody"]
        custody.append({"at": record["created_at"], "event": f"verdict {path.name} made",
                        "by": record["custody"][-1].get("by", "") if record["custody"] else ""})
        verdict = record["verdict"]
        # An unlearning verdict's notes speak of its forget-data test, whose "derived"
        # is reported as "not forgotten": the report states that in its own words. An
        # ownership verdict's first note restates its calibration's bounds, which the page
        # explains once per calibration; its general limitations are kept.
        notes = (list(UNLEARNING_LIMITATIONS) if record["kind"] == "unlearning"
                 else [n for n in verdict.get("notes", []) if n in OWNERSHIP_LIMITATIONS]
                 + list(verdict.get("limitations", [])))
        for note in notes:
            if isinstance(note, str) and note not in limitations:
                limitations.append(note)
    table = [evidence[k] for k in sorted(evidence)]
    predicate: dict[str, Any] = {
        "schema": "modelgif.evidence/v1",
        "case": {"id": case_id, "title": title, "scope": scope, "examiner_keyid": examiner},
        "created_at": created_at,
        "evidence": table,
        "environment": environment(),
        "custody": [*_unique(sorted(custody, key=lambda c: (str(c.get("at", "")),
                                                            str(c.get("event"))))),
                    {"at": created_at, "event": "evidence bundle signed", "by": examiner}],
        "findings": [_finding(path, record) for path, record in records],
        "limitations": [*limitations, *REPORT_LIMITATIONS],
        "reproduce": [*dict.fromkeys(record["command"] for _, record in records),
                      verify_command],
    }
    subjects = [{"name": e["name"], "digest": {"sha256": e["sha256"]}}
                for e in table]
    return make_statement(subjects, PREDICATE_TYPE, predicate)


def _unique(custody: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Custody entries without repeats (each verdict carries its fingerprint's history)."""
    seen: set[str] = set()
    out = []
    for entry in custody:
        key = json.dumps(entry, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


def add_renderings(statement: dict[str, Any], pages: dict[str, bytes]) -> dict[str, Any]:
    """The statement with the sha256 of each rendered page signed into it."""
    rendered = [{"name": name, "sha256": hashlib.sha256(data).hexdigest(),
                 "media_type": MEDIA_TYPES[name]} for name, data in sorted(pages.items())]
    predicate = {**statement["predicate"], "renderings": rendered}
    subjects = [*statement["subject"],
                *({"name": r["name"], "digest": {"sha256": r["sha256"]}} for r in rendered)]
    return {**statement, "subject": subjects, "predicate": predicate}


def write_report(
    verdict_paths: list[Path],
    private_key: PrivateKey,
    folder: Path,
    case_id: str = "case-1",
    title: str = "modelgif forensic report",
    scope: str = "Comparison of suspect models with the owner's fingerprint.",
    created_at: str | None = None,
    verdict_key: PublicKey | None = None,
    force: bool = False,
    pdf: bool = False,
    verify_command: str = VERIFY_COMMAND,
) -> ReportBundle:
    """Write evidence.json, evidence.sig.json, report.html (and report.pdf) as `folder`.

    An existing bundle is replaced, whole, only with `force`. With `pdf`, Chromium prints
    the page; without Chromium that is one InputError and nothing is written.
    """
    folder = Path(folder)
    check_output_folder(folder, list(BUNDLE_FILES), force)
    statement = build_statement([Path(p) for p in verdict_paths], private_key, case_id, title,
                                scope, created_at, verdict_key, verify_command)
    pages = {HTML_FILE: render_html(statement).encode("utf-8")}
    if pdf:
        with tempfile.TemporaryDirectory(prefix="modelgif-report-") as scratch:
            page = Path(scratch) / HTML_FILE
            page.write_bytes(pages[HTML_FILE])
            pages[PDF_FILE] = print_pdf(page, Path(scratch) / PDF_FILE)
    statement = add_renderings(statement, pages)
    envelope = sign_statement(statement, private_key)
    write_folder(folder, {
        EVIDENCE_FILE: canonical_json(statement),
        SIGNATURE_FILE: (json.dumps(envelope, indent=2, sort_keys=True) + "\n").encode(),
        **pages,
    }, force=force)
    return ReportBundle(folder, folder / EVIDENCE_FILE, folder / SIGNATURE_FILE,
                        folder / HTML_FILE, folder / PDF_FILE if pdf else None)


def _read_bounded(path: Path) -> bytes:
    if path.is_symlink():  # the folder is hostile input: a link could lead anywhere
        raise InputError(f"{path}: a symbolic link in the report folder; refusing to follow it")
    if not path.is_file():
        raise InputError(f"{path}: missing from the report folder")
    if path.stat().st_size > MAX_BUNDLE_FILE:
        raise IntegrityError(_OPAQUE)
    return path.read_bytes()


def _rehash(table: list[dict[str, Any]], files: dict[str, Path]) -> list[str]:
    """Re-hash each given file, and each external-data file a listed model reads.

    A model's external-data files are taken from `files` when given there, else from
    beside the model; a missing one fails, since the model's bytes cannot all be checked.
    """
    listed = {e["name"]: e for e in table}
    checked: set[str] = set()
    for name, path in files.items():
        entry = listed.get(name)
        if entry is None or sha256_file(Path(path)) != entry["sha256"]:
            raise IntegrityError(_OPAQUE)
        checked.add(name)
        for data in entry.get("external_data", []):
            beside = files.get(data["name"], Path(path).parent / data["name"])
            if not Path(beside).is_file():
                raise InputError(f"{name} reads {data['name']}, which is not beside it; "
                                 "give it with --files")
            if sha256_file(beside) != data["sha256"]:
                raise IntegrityError(_OPAQUE)
            checked.add(data["name"])
    return sorted(checked)


UNSIGNED_PAGE = ("NOT checked: this bundle's format (modelgif 0.1.0) signs no page hash; "
                 "only evidence.json is signed")


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
    pages = _check_renderings(folder, statement["predicate"])
    checked = _rehash(statement["predicate"]["evidence"], files or {})
    findings = statement["predicate"]["findings"]
    unsigned = {} if pages else {HTML_FILE.replace(".", "_"): UNSIGNED_PAGE}
    return {
        "signature": "verified",
        "signed_by": statement["predicate"]["case"]["examiner_keyid"],
        "evidence_json": "matches the signed payload",
        **{name.replace(".", "_"): "matches the signed sha256" for name in pages},
        **unsigned,
        "files_rehashed": sorted(checked),
        "decisions": {f["suspect"]: f["verdict"]["decision"] for f in findings},
    }


def _check_renderings(folder: Path, predicate: dict[str, Any]) -> list[str]:
    """Each signed page must be in the folder with its signed sha256; report.html must be
    signed. Pages are checked as written, not re-rendered, so a later style still verifies.

    A bundle of modelgif 0.1.0 signs no page hash (its verifier re-rendered the page): its
    signed evidence.json still verifies, and its report.html is reported as not checked
    (returns no page), never as verified; `modelgif report` renders a checked page again.
    """
    rendered = predicate.get("renderings")
    if "renderings" not in predicate:  # modelgif 0.1.0: the page was a re-rendering
        if (folder / PDF_FILE).exists():
            raise IntegrityError(_OPAQUE)  # that format had no PDF: nobody signed this one
        return []
    if not isinstance(rendered, list):
        raise IntegrityError(_OPAQUE)
    names = []
    for entry in rendered:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in MEDIA_TYPES or name in names:
            raise IntegrityError(_OPAQUE)
        if hashlib.sha256(_read_bounded(folder / name)).hexdigest() != entry.get("sha256"):
            raise IntegrityError(_OPAQUE)
        names.append(name)
    if HTML_FILE not in names:
        raise IntegrityError(_OPAQUE)
    if PDF_FILE not in names and (folder / PDF_FILE).exists():
        raise IntegrityError(_OPAQUE)  # a page nobody signed, slipped in beside the bundle
    return names
