"""modelgif.audit_unlearning, modelgif.write_report and modelgif.verify_report on the small
zoo: each gives what the CLI writes or prints for the same inputs; a report whose numbers
were doctored is caught by recomputing them from a reveal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import modelgif
from modelgif.cli import main
from modelgif.errors import InputError, IntegrityError
from modelgif.verifiers.record import load_record, write_record
from modelgif.workflows.report import RecomputedMismatch
from workflows.owner_case import Owner, stable


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_audit_equals_the_cli(owner: Owner, capsys: pytest.CaptureFixture[str],
                              tmp_path: Path) -> None:
    """Without references only an unchanged field is conclusive: an independent model as
    the 'unlearned' one is inconclusive."""
    source = owner.zoo.path(owner.zoo.sources()[0])
    forget = tmp_path / "forget.npy"
    np.save(forget, owner.zoo.data(owner.zoo.sources()[0].dataset).owner.x[:40])
    other = modelgif.audit_unlearning(original=source, unlearned=owner.held_out,
                                      forget=forget, key=owner.key_path, anchors_count=8,
                                      output=tmp_path / "audit.json")
    assert other.verdict.decision == "inconclusive"
    assert load_record(tmp_path / "audit.json", owner.key.public_key()) == other.to_dict()
    code, out, err = cli(capsys, "audit-unlearning", "--original", source, "--unlearned",
                         owner.held_out, "--forget", forget, "--key", owner.key_path,
                         "--anchors-count", 8, "--json")
    assert code == 0, err
    assert stable({**json.loads(out), "command": ""}) == stable({**other.record, "command": ""})
    with pytest.raises(InputError, match="at least 5"):
        modelgif.audit_unlearning(original=source, unlearned=owner.held_out, forget=forget,
                                  key=owner.key, references=owner.negatives[:2])


def test_report_written_and_checked_like_the_cli(
        owner: Owner, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suspect = owner.suspect("finetune-a")
    verdict = tmp_path / "verdict.json"
    modelgif.verify(owner.fingerprint, suspect, key=owner.key, output=verdict)
    case = tmp_path / "case"
    bundle = modelgif.write_report([verdict], key=owner.key_path, output=case, case_id="c-1")
    assert bundle.to_dict() == {"evidence": str(case / "evidence.json"),
                                "signature": str(case / "evidence.sig.json"),
                                "html": str(case / "report.html")}
    with pytest.raises(InputError, match="already exists"):
        modelgif.write_report([verdict], key=owner.key, output=case)
    reveal = tmp_path / "owner.reveal"
    assert cli(capsys, "reveal", owner.fingerprint, "--key", owner.key_path, "-o", reveal)[0] == 0
    files = [owner.fingerprint, suspect, verdict]
    check = modelgif.verify_report(case, key=owner.pub_path, files=files, reveal=reveal)
    assert check.decisions == {suspect.name: "inconclusive"}
    assert [row["match"] for row in check.recomputed] == [True]
    code, out, err = cli(capsys, "report", "verify", case, "--pub", owner.pub_path,
                         "--files", *files, "--reveal", reveal, "--json")
    assert code == 0 and json.loads(out) == check.to_dict(), err
    with pytest.raises(IntegrityError):
        modelgif.verify_report(case, key=modelgif.fingerprint.generate_key().public_key())

    record = load_record(verdict, owner.key.public_key())
    record["verdict"]["mean_similarity"] -= 0.5  # the owner signs a doctored number
    write_record(verdict, record, owner.key, force=True)
    doctored = tmp_path / "doctored"
    modelgif.write_report([verdict], key=owner.key, output=doctored)
    with pytest.raises(RecomputedMismatch) as mismatch:
        modelgif.verify_report(doctored, key=owner.key.public_key(), files=files,
                               reveal=reveal)
    assert [row["suspect"] for row in mismatch.value.mismatches] == [suspect.name]
    code, out, err = cli(capsys, "report", "verify", doctored, "--pub", owner.pub_path,
                         "--files", *files, "--reveal", reveal)
    assert code == 2 and out.startswith(f"MISMATCH {suspect.name}: reported mean_similarity")
    assert err == f"modelgif: error: {mismatch.value}\n"
