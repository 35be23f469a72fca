"""Files made by modelgif 0.1.0 still verify, and what they claim is recomputed.

The corpus (tests/compat/v0.1.0, made by corpus.py) holds a real fingerprint, its signed
calibration, a signed verdict record and an evidence bundle. A failure here means evidence
already handed to someone no longer reads: fix the reader, never the corpus.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from compat.corpus import corpus_key, fingerprint_settings
from modelgif.crypto.keys import load_public_key
from modelgif.errors import ModelgifError
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.record import load_fingerprint
from modelgif.reports.evidence import verify_bundle
from modelgif.verifiers.ownership import calibrate, load_calibration, verify_suspect
from modelgif.verifiers.record import load_record

CORPUS = Path(__file__).parent / "v0.1.0"
PUBLIC = load_public_key(CORPUS / "owner.pub")
NEGATIVES = sorted((CORPUS / "negatives").glob("*.onnx"))


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1, a.shape[-1]), b.reshape(len(b), -1, b.shape[-1])
    return np.asarray((a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)))


def test_the_fingerprint_verifies_and_is_recomputed(tmp_path: Path) -> None:
    old = load_fingerprint(CORPUS / "owner.mgf", PUBLIC)
    fresh = create_fingerprint(CORPUS / "owner.onnx", corpus_key(), tmp_path / "again.mgf",
                               **fingerprint_settings())  # type: ignore[arg-type]
    assert fresh.fingerprint_id == old.fingerprint_id and fresh.commitment == old.commitment
    np.testing.assert_array_equal(fresh.decrypt_anchors(corpus_key()),
                                  old.decrypt_anchors(corpus_key()))
    for sketch in ("sketch", "sketch_coarse"):
        cosines = _cosine_rows(np.asarray(old.arrays[sketch], np.float32),
                               np.asarray(fresh.arrays[sketch], np.float32))
        assert cosines.min() > 0.999, (sketch, cosines.min())
    assert fresh.config["field"]["config"] == old.config["field"]["config"]
    assert fresh.model_digest == old.model_digest
    # 0.1.0 predates the tag: its digests are of canonical form 1, the form still in use
    assert "normalization_version" not in old.config
    assert fresh.config["normalization_version"] == 1


def test_the_calibration_verifies_and_is_recomputed() -> None:
    fingerprint = load_fingerprint(CORPUS / "owner.mgf", PUBLIC)
    old = load_calibration(CORPUS / "cal.json", fingerprint, PUBLIC)
    fresh = calibrate(fingerprint, open_secrets(fingerprint, corpus_key()), NEGATIVES,
                      target_fpr=0.05)
    assert set(fresh) == set(old)
    for sketch, calibration in old.items():
        assert fresh[sketch].method == calibration.method
        np.testing.assert_allclose(fresh[sketch].threshold, calibration.threshold, rtol=1e-3)


def test_the_verdict_record_verifies_and_its_decision_is_recomputed() -> None:
    record = load_record(CORPUS / "suspect.verdict.json", PUBLIC)
    assert record["command"].startswith("modelgif verify owner.mgf suspect.onnx")
    fingerprint = load_fingerprint(CORPUS / "owner.mgf", PUBLIC)
    calibrations = load_calibration(CORPUS / "cal.json", fingerprint, PUBLIC)
    verdict, _ = verify_suspect(fingerprint, open_secrets(fingerprint, corpus_key()),
                                CORPUS / "suspect.onnx", calibrations)
    assert verdict.decision == record["verdict"]["decision"] == "derived"
    np.testing.assert_allclose(verdict.statistic, record["verdict"]["statistic"], rtol=1e-3)


def test_the_report_bundle_verifies_and_rehashes_its_files(tmp_path: Path) -> None:
    summary = verify_bundle(CORPUS / "report", PUBLIC,
                            {"suspect.verdict.json": CORPUS / "suspect.verdict.json"})
    assert summary["decisions"] == {"suspect.onnx": "derived"}
    assert summary["files_rehashed"] == ["suspect.verdict.json"]
    assert summary["report_html"].startswith("NOT checked")  # 0.1.0 signed no page hash


def test_an_edited_corpus_file_is_refused(tmp_path: Path) -> None:
    """The checks above can fail: one flipped byte in the signed record breaks it."""
    edited = tmp_path / "suspect.verdict.json"
    shutil.copy(CORPUS / "suspect.verdict.json", edited)
    blob = bytearray(edited.read_bytes())
    blob[blob.index(b'"payload": "') + 40] ^= 0x01
    edited.write_bytes(bytes(blob))
    with pytest.raises(ModelgifError):
        load_record(edited, PUBLIC)
