"""evidence.json signing, the detached envelope, tamper detection, and report verify."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest
from tests.reports.conftest import write_verdict

from model_factory import make_model
from modelgif.cli import main
from modelgif.crypto.keys import PrivateKey, generate_key, save_keypair
from modelgif.crypto.signing import canonical_json, verify_envelope
from modelgif.errors import IntegrityError
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.normalize import normalize
from modelgif.reports.evidence import PREDICATE_TYPE, verify_bundle, write_report
from modelgif.verifiers.record import PREDICATE_TYPE as RECORD_PREDICATE
from modelgif.verifiers.record import file_entry, record_subjects, write_record
from modelgif.verifiers.signed_file import write_signed


def test_bundle_verifies_and_holds_the_evidence(
    verdict_files: list[Path], owner_key, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    bundle = write_report(verdict_files, owner_key, tmp_path / "report")
    summary = verify_bundle(bundle.folder, owner_key.public_key(),
                            {p.name: p for p in verdict_files})
    assert summary["decisions"] == {"fine-tune.onnx": "derived",
                                    "independent.onnx": "independent"}
    assert sorted(summary["files_rehashed"]) == sorted(p.name for p in verdict_files)
    statement = verify_envelope(json.loads(bundle.signature.read_text()),
                                owner_key.public_key(), PREDICATE_TYPE)
    predicate = statement["predicate"]
    assert {e["role"] for e in predicate["evidence"]} == {"suspect", "verdict"}
    assert predicate["custody"][-1]["event"] == "evidence bundle signed"
    assert any("does not prove" in x or "not" in x for x in predicate["limitations"])
    html = bundle.html.read_text()
    assert "DERIVED" in html and "<script" not in html.lower()


@pytest.mark.parametrize("target", ["evidence.json", "report.html", "evidence.sig.json"])
def test_any_flipped_byte_is_detected(
    verdict_files: list[Path], owner_key, tmp_path: Path, target: str  # type: ignore[no-untyped-def]
) -> None:
    bundle = write_report(verdict_files, owner_key, tmp_path / "report")
    path = bundle.folder / target
    original = path.read_bytes()
    for position in range(0, len(original), max(1, len(original) // 40)):
        tampered = bytearray(original)
        tampered[position] ^= 0x01
        path.write_bytes(bytes(tampered))
        with pytest.raises(IntegrityError) as error:
            verify_bundle(bundle.folder, owner_key.public_key())
        assert str(error.value) in ("Evidence integrity check failed.",
                                    "Signature verification failed.")
    path.write_bytes(original)
    verify_bundle(bundle.folder, owner_key.public_key())


def test_changed_evidence_file_and_wrong_key_are_rejected(
    verdict_files: list[Path], owner_key, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    bundle = write_report(verdict_files, owner_key, tmp_path / "report")
    with pytest.raises(IntegrityError):
        verify_bundle(bundle.folder, generate_key("ed25519").public_key())
    changed = bytearray(verdict_files[0].read_bytes())
    changed[len(changed) // 2] ^= 0x01
    verdict_files[0].write_bytes(bytes(changed))
    with pytest.raises(IntegrityError):
        verify_bundle(bundle.folder, owner_key.public_key(), {verdict_files[0].name:
                                                              verdict_files[0]})


def test_cli_writes_and_verifies(verdict_files: list[Path], tmp_path: Path, owner_key,  # type: ignore[no-untyped-def]
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An examiner with their own key reports verdicts signed by the owner (--pub)."""
    save_keypair(generate_key("ecdsa-p256"), tmp_path / "examiner")
    save_keypair(owner_key, tmp_path / "owner")
    out = tmp_path / "case"
    examiner = ["--key", str(tmp_path / "examiner.key"), "-o", str(out)]
    assert main(["report", *map(str, verdict_files), *examiner]) == 2  # not the signer
    assert "does not verify" in capsys.readouterr().err
    assert main(["report", *map(str, verdict_files), *examiner, "--pub",
                 str(tmp_path / "owner.pub"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["html"].endswith("report.html")
    assert main(["report", "verify", str(out), "--pub", str(tmp_path / "examiner.pub"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["signature"] == "verified"
    (out / "report.html").write_text("<html>forged</html>")
    assert main(["report", "verify", str(out), "--pub", str(tmp_path / "examiner.pub")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_hostile_verdict_file_is_one_error(tmp_path: Path, owner_key,  # type: ignore[no-untyped-def]
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "modelgif.verdict-record/v1", "kind": "ownership"}')
    save_keypair(owner_key, tmp_path / "k")
    assert main(["report", str(bad), "--key", str(tmp_path / "k.key"), "-o",
                 str(tmp_path / "o")]) == 2
    assert "unsigned verdict record" in capsys.readouterr().err


def _statement(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    envelope = json.loads(path.read_text())
    return envelope, json.loads(base64.b64decode(envelope["payload"]))


def _report_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, verdict: Path,
                     key: PrivateKey) -> str:
    """`modelgif report VERDICT`: exit 2 with one line; returns it."""
    if not (tmp_path / "k.key").exists():
        save_keypair(key, tmp_path / "k")
    code = main(["report", str(verdict), "--key", str(tmp_path / "k.key"),
                 "-o", str(tmp_path / "case")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "case").exists()
    return err


def test_an_edited_decision_breaks_the_signature(verdict_files: list[Path], owner_key,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    envelope, statement = _statement(verdict_files[1])
    assert statement["predicate"]["verdict"]["decision"] == "independent"
    statement["predicate"]["verdict"]["decision"] = "derived"
    envelope["payload"] = base64.b64encode(canonical_json(statement)).decode()
    verdict_files[1].write_text(json.dumps(envelope))
    assert "does not verify" in _report_one_line(capsys, tmp_path, verdict_files[1], owner_key)


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["verdict"].update(decision="der\u0456ved"), "is not one of"),
    (lambda r: r["inputs"][0].update(sha256="not-a-digest"), "64 lowercase hex"),
    (lambda r: r["verdict"].update(decision="derived"), "does not follow"),
    (lambda r: r["verdict"].update(p_value=1.5), "probability"),
    (lambda r: r["verdict"].update(p_value_method="exact"), "calibration's"),
    (lambda r: r["method"].update(anchor_commitment="ee" * 32), "other anchors"),
])
def test_a_signed_but_false_record_is_refused(
    verdict_files: list[Path], owner_key, tmp_path: Path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    """Even signed by the right key, report refuses what its schema or numbers contradict."""
    _, statement = _statement(verdict_files[1])
    record = statement["predicate"]
    change(record)
    forged = write_signed(tmp_path / "forged.json", record_subjects(record),
                          RECORD_PREDICATE, record, owner_key)
    assert message in _report_one_line(capsys, tmp_path, forged, owner_key)


def test_a_swapped_external_data_file_fails_report_verify(
    owner_key, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    module, example = make_model("mlp", 0)
    exported = export_torch(module, example, tmp_path / "raw.onnx")
    suspect = tmp_path / "suspect.onnx"
    onnx.save(onnx.load(str(exported)), str(suspect), save_as_external_data=True,
              all_tensors_to_one_file=True, location="suspect.onnx.data", size_threshold=0)
    entry = file_entry("suspect", suspect, normalize(suspect).digest, 20)
    assert [d["name"] for d in entry["external_data"]] == ["suspect.onnx.data"]
    folder = tmp_path / "verdicts"
    folder.mkdir()
    verdict = write_verdict(folder, "fine-tune", 0.15, 1, owner_key)
    _, statement = _statement(verdict)
    record = statement["predicate"]
    record["inputs"] = [entry]
    verdict = write_record(verdict, record, owner_key, force=True)
    save_keypair(owner_key, tmp_path / "k")
    assert main(["report", str(verdict), "--key", str(tmp_path / "k.key"),
                 "-o", str(tmp_path / "case")]) == 0
    statement = json.loads((tmp_path / "case" / "evidence.json").read_text())
    assert {"name": "suspect.onnx.data", "digest": {"sha256": entry["external_data"][0]["sha256"]}
            } in statement["subject"]
    check = ["report", "verify", str(tmp_path / "case"), "--pub", str(tmp_path / "k.pub"),
             "--files", str(suspect)]
    assert main(check) == 0
    capsys.readouterr()
    data = tmp_path / "suspect.onnx.data"
    swapped = bytearray(data.read_bytes())
    swapped[:4] = bytes(4)  # other weights, same graph file
    data.write_bytes(bytes(swapped))
    assert main(check) == 2
    assert "integrity" in capsys.readouterr().err
