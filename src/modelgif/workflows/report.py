"""`modelgif.write_report` and `modelgif.verify_report`: signed evidence, and its check.

Why a workflow: a report is written from signed verdict files (a scan file counts as its
derived pairs, written out as records first) under the examiner's key; checking one is the
signature, the pages, the files at hand re-hashed and, with a reveal, every ownership
number recomputed. The evidence format itself lives in modelgif.reports.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output_folder
from modelgif.crypto.keys import Passphrase
from modelgif.errors import InputError
from modelgif.fingerprint.reveal import read_reveal
from modelgif.reports.evidence import (
    BUNDLE_FILES,
    VERIFY_COMMAND,
    ReportBundle,
    verify_bundle,
)
from modelgif.reports.evidence import write_report as write_bundle
from modelgif.reports.recheck import recheck_ownership
from modelgif.safe_read import read_json
from modelgif.scan.records import expand_scan_files
from modelgif.workflows.keys import KeySource, PublicKeySource, owner_key, public_key

__all__ = ["RecomputedMismatch", "ReportCheck", "verify_report", "write_report"]

PathLike = str | os.PathLike[str]
MAX_EVIDENCE_BYTES = 64 << 20


@dataclass(frozen=True)
class ReportCheck:
    """A bundle that verified: who signed it, what was checked, the decisions it reports."""

    summary: dict[str, Any]

    @property
    def signed_by(self) -> str:
        """The key id of the examiner who signed the evidence."""
        return str(self.summary["signed_by"])

    @property
    def decisions(self) -> dict[str, str]:
        """Each finding's suspect and its decision."""
        return dict(self.summary["decisions"])

    @property
    def recomputed(self) -> list[dict[str, Any]]:
        """One row per recomputed ownership number (empty without a reveal)."""
        return list(self.summary.get("recomputed", []))

    def to_dict(self) -> dict[str, Any]:
        """What `modelgif report verify --json` prints."""
        return self.summary


class RecomputedMismatch(InputError):
    """The numbers recomputed from the files differ from the report's; `summary` holds the
    rows, so a caller can show which."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("The recomputed numbers do not match the report.")
        self.summary = summary

    @property
    def mismatches(self) -> list[dict[str, Any]]:
        """The recomputed rows that do not match."""
        return [row for row in self.summary["recomputed"] if not row["match"]]


def write_report(
    verdicts: Sequence[PathLike],
    *,
    key: KeySource,
    output: PathLike,
    passphrase: Passphrase = None,
    verdict_key: PublicKeySource | None = None,
    case_id: str = "case-1",
    title: str = "modelgif forensic report",
    scope: str = "Comparison of suspect models with the owner's fingerprint.",
    force: bool = False,
    pdf: bool = False,
    verify_command: str = VERIFY_COMMAND,
) -> ReportBundle:
    """Write the evidence bundle for `verdicts` (signed verdict records or scan files) into
    the folder `output`: evidence.json, evidence.sig.json, report.html (and report.pdf).

    Each verdict must verify under `verdict_key` (default: `key`'s own public key); `key`
    signs the evidence. The folder is checked before any work and replaced, whole, only
    with `force`. A scan file's derived pairs are signed and written into
    OUTPUT.scan-verdicts/ beside the folder first. `verify_command` is the report's last
    reproduce line (the command that checks the bundle).
    """
    folder = Path(output)
    check_output_folder(folder, list(BUNDLE_FILES), force)
    private = owner_key(key, passphrase)
    signer = public_key(verdict_key) if verdict_key is not None else None
    paths = expand_scan_files([Path(p) for p in verdicts], folder, private, force)
    return write_bundle(paths, private, folder, case_id=case_id, title=title, scope=scope,
                        verdict_key=signer, force=force, pdf=pdf,
                        verify_command=verify_command)


def verify_report(
    folder: PathLike,
    *,
    key: PublicKeySource,
    files: Sequence[PathLike] = (),
    reveal: PathLike | None = None,
) -> ReportCheck:
    """Check the bundle in `folder` under the signer's public `key`.

    Checks the signature, that evidence.json is the signed payload, that report.html (and
    report.pdf) are the signed pages, and re-hashes `files` (with the external-data files
    of the models among them). With `reveal` (the fingerprint's reveal file, given with the
    fingerprint and suspects in `files`), every ownership number is recomputed. Raises
    IntegrityError on a failed check, RecomputedMismatch when a recomputed number differs.
    """
    where = Path(folder)
    local = [Path(f) for f in files]
    signer = public_key(key)
    summary = verify_bundle(where, signer, {path.name: path for path in local})
    if reveal is not None:
        statement = read_json(where / "evidence.json", MAX_EVIDENCE_BYTES, "evidence file")
        rows = recheck_ownership(statement, signer, read_reveal(reveal), local)
        summary["recomputed"] = rows
        if not all(row["match"] for row in rows):
            raise RecomputedMismatch(summary)
    return ReportCheck(summary)
