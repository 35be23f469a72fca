"""evidence.json signing, the detached envelope, tamper detection, and report verify."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from tests.reports.conftest import (
    COMMITMENT,
    simulated_cosines,
    write_unlearning_verdict,
    write_verdict,
)

from model_factory import make_model
from modelgif.cli import main
from modelgif.crypto.keys import PrivateKey, generate_key, save_keypair
from modelgif.crypto.signing import canonical_json, sign_statement, verify_envelope
from modelgif.errors import IntegrityError
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.normalize import normalize
from modelgif.reports import evidence
from modelgif.reports.evidence import (
    PREDICATE_TYPE,
    build_statement,
    verify_bundle,
    write_report,
)
from modelgif.reports.explain import negatives_needed
from modelgif.reports.html import render_html
from modelgif.verifiers.rates import clopper_pearson_upper
from modelgif.verifiers.record import PREDICATE_TYPE as RECORD_PREDICATE
from modelgif.verifiers.record import file_entry, make_record, record_subjects, write_record
from modelgif.verifiers.signed_file import write_signed
from modelgif.verifiers.verdict import compute_verdict


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
    assert "does not prove independence" in " ".join(predicate["limitations"])
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


def test_a_bundle_verifies_after_the_renderer_changes(
    verdict_files: list[Path], owner_key, tmp_path: Path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page is checked as written (its signed sha256), not re-rendered: a later
    modelgif whose page looks different still verifies an old bundle; an edit does not."""
    bundle = write_report(verdict_files, owner_key, tmp_path / "old")
    written = bundle.html.read_bytes()
    monkeypatch.setattr(evidence, "render_html",
                        lambda statement: "<!DOCTYPE html><p>a new style</p>\n")
    newer = write_report(verdict_files, owner_key, tmp_path / "new")
    assert newer.html.read_bytes() != written  # the patched renderer is the one in use
    summary = verify_bundle(bundle.folder, owner_key.public_key())
    assert summary["report_html"] == "matches the signed sha256"
    assert "report_pdf" not in summary
    bundle.html.write_bytes(written.replace(b"DERIVED", b"INDEPENDENT", 1))
    with pytest.raises(IntegrityError):
        verify_bundle(bundle.folder, owner_key.public_key())
    bundle.html.write_bytes(written)
    (bundle.folder / "report.pdf").write_bytes(b"%PDF-1.4 a page nobody signed\n")
    with pytest.raises(IntegrityError):
        verify_bundle(bundle.folder, owner_key.public_key())


def test_a_bundle_without_signed_page_hashes_verifies_its_evidence_only(
    verdict_files: list[Path], owner_key, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """A bundle of the older format (no page hash signed) keeps verifying its signed
    evidence, says its page was not checked, and refuses a PDF nobody signed."""
    statement = build_statement(verdict_files, owner_key, "c", "t", "s")
    folder = tmp_path / "older"
    folder.mkdir()
    (folder / "evidence.json").write_bytes(canonical_json(statement))
    (folder / "evidence.sig.json").write_text(json.dumps(sign_statement(statement, owner_key)))
    (folder / "report.html").write_text("<html>anything</html>")
    summary = verify_bundle(folder, owner_key.public_key())
    assert summary["report_html"].startswith("NOT checked")
    assert summary["evidence_json"] == "matches the signed payload"
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 slipped in")
    with pytest.raises(IntegrityError):
        verify_bundle(folder, owner_key.public_key())
    (folder / "report.pdf").unlink()
    (folder / "evidence.json").write_bytes(canonical_json(statement) + b" ")
    with pytest.raises(IntegrityError):
        verify_bundle(folder, owner_key.public_key())


def test_pdf_without_chromium_is_one_line_naming_the_package(
    verdict_files: list[Path], owner_key, tmp_path: Path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELGIF_CHROMIUM", "no-such-chromium-here")
    save_keypair(owner_key, tmp_path / "k")
    code = main(["report", *map(str, verdict_files), "--key", str(tmp_path / "k.key"),
                 "-o", str(tmp_path / "case"), "--pdf"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "apt-get install chromium" in err, err
    assert not (tmp_path / "case").exists()


def test_the_words_of_the_report(verdict_files: list[Path], owner_key,  # type: ignore[no-untyped-def]
                                 tmp_path: Path) -> None:
    """Each finding in words, the caveat once with the negatives it would take, a glossary,
    each method setting once, no repeated custody entry, unlearning in its own words."""
    extra = [write_verdict(tmp_path, "near$x^{2", 0.012, 3, owner_key),  # "$" is not TeX
             write_unlearning_verdict(tmp_path, "masked", True, 4, owner_key)]
    bundle = write_report([*verdict_files, *extra], owner_key, tmp_path / "report")
    page = bundle.html.read_text()
    statement = json.loads(bundle.evidence.read_text())
    predicate = statement["predicate"]
    decisions = [f["verdict"]["decision"] for f in predicate["findings"]]
    assert decisions == ["derived", "independent", "inconclusive", "not forgotten"]
    calibration = predicate["findings"][0]["calibration"]
    needed = negatives_needed(calibration["target_fpr"], calibration["confidence"])
    assert clopper_pearson_upper(0, needed, calibration["confidence"]) <= 0.01
    assert clopper_pearson_upper(0, needed - 1, calibration["confidence"]) > 0.01
    assert needed == 299  # 1 - 0.05 ** (1 / M) <= 1 %
    calibrations = {json.dumps(f["calibration"], sort_keys=True)
                    for f in predicate["findings"] if f["kind"] == "ownership"}
    assert len(calibrations) == 3  # each simulated verdict was calibrated on its own null
    assert page.count(f"at least {needed} negatives") == 3  # the caveat once per calibration
    assert page.count("Gaussian bound") >= 1 and "without the Gaussian" not in page
    assert "Glossary" in page and "distribution-free bound" in page
    custody = [json.dumps(c, sort_keys=True) for c in predicate["custody"]]
    assert len(custody) == len(set(custody))
    assert page.count("<td>anchor_commitment</td>") == 1  # one row: same value for 1-3
    assert page.count("<td>findings 1, 2, 3</td>") >= 1
    assert "Calibrated on M=" not in page  # the per-verdict restatement of the bounds
    unlearning = [x for x in predicate["limitations"] if "forgotten" in x]
    assert unlearning and not any("'derived' means closer" in x
                                  for x in predicate["limitations"])
    assert "What it does not show" in page and "not above the threshold" in page
    assert "<script" not in page.lower() and "svg.fig" in page
    assert ">near$x^{2.onnx</text>" in page  # the distances chart's label, as written


def test_the_page_is_byte_deterministic(
    verdict_files: list[Path], owner_key, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """The same evidence renders to the same bytes, here and in a fresh interpreter
    (fixed fonts, fixed SVG id salt, no dates in the figures)."""
    statement = build_statement(verdict_files, owner_key, "c", "t", "s",
                                created_at="2026-12-01T00:00:00Z")
    page = render_html(statement)
    assert page == render_html(statement)
    (tmp_path / "statement.json").write_text(json.dumps(statement))
    script = ("import json,sys; from modelgif.reports.html import render_html; "
              "sys.stdout.write(render_html(json.load(open(sys.argv[1]))))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    fresh = subprocess.run([sys.executable, "-c", script, str(tmp_path / "statement.json")],
                           capture_output=True, text=True, check=True, timeout=120, env=env)
    assert fresh.stdout == page
    assert "<dc:date>" not in page and "<?xml" not in page and page.count("<svg") >= 4


def test_an_uncalibrated_verdict_is_explained_and_drawn(
    owner_key, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    rng = np.random.default_rng(7)
    suspect = tmp_path / "raw.onnx"
    suspect.write_bytes(rng.bytes(64))
    verdict = compute_verdict(simulated_cosines(rng, 0.1), None,
                              compared={"owner": f"sha256:{1:064x}",
                                        "suspect": f"sha256:{2:064x}",
                                        "fingerprint_commitment": COMMITMENT})
    record = make_record("ownership", verdict.to_dict(),
                         [{"role": "suspect", "name": suspect.name, "sha256": "cd" * 32}],
                         {"anchors": 32, "anchor_commitment": COMMITMENT,
                          "fingerprint_id": "0f" * 16}, [],
                         "modelgif verify owner.mgf raw.onnx --key k")
    path = write_record(tmp_path / "raw.verdict.json", record, owner_key)
    page = write_report([path], owner_key, tmp_path / "case").html.read_text()
    assert "No independent models were given" in page and "INCONCLUSIVE" in page
    assert "cosine similarity per anchor (uncalibrated)" in page
