"""evidence.json signing, the detached envelope, tamper detection, and report verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelgif.cli import main
from modelgif.crypto.keys import generate_key, save_keypair
from modelgif.crypto.signing import verify_envelope
from modelgif.errors import IntegrityError
from modelgif.reports.evidence import PREDICATE_TYPE, verify_bundle, write_report


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
    verdict_files[0].write_text(verdict_files[0].read_text().replace("derived", "inconclusive"))
    with pytest.raises(IntegrityError):
        verify_bundle(bundle.folder, owner_key.public_key(), {verdict_files[0].name:
                                                              verdict_files[0]})


def test_cli_writes_and_verifies(verdict_files: list[Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    save_keypair(generate_key("ecdsa-p256"), tmp_path / "examiner")
    out = tmp_path / "case"
    assert main(["report", *map(str, verdict_files), "--key", str(tmp_path / "examiner.key"),
                 "-o", str(out), "--json"]) == 0
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
    assert "field 'created_at' is missing" in capsys.readouterr().err
