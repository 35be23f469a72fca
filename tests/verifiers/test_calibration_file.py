"""CAL.json forgeries: each is refused in one line (signed, bound to one fingerprint)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_factory import make_model
from modelgif.crypto.keys import PrivateKey, generate_key
from modelgif.crypto.signing import b64encode
from modelgif.errors import InputError, IntegrityError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.calibration import Calibration, fit_calibration
from modelgif.verifiers.calibration_file import (
    CALIBRATION_SCHEMA,
    PREDICATE_TYPE,
    load_calibration,
    save_calibration,
)
from modelgif.verifiers.signed_file import write_signed
from modelgif.verifiers.verdict import compute_verdict

N_ANCHORS, N_NULL = 8, 6


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory) -> tuple[PrivateKey, Fingerprint, Fingerprint]:
    """A key and two real fingerprints of one model (other ids, other anchors)."""
    folder = tmp_path_factory.mktemp("calfile")
    key = generate_key()
    module, example = make_model("mlp", 0)
    model = normalize(module, example, input_range=(-1.0, 1.0))
    fast = {"anchor_config": AnchorConfig(n_anchors=N_ANCHORS),
            "field_config": FieldConfig(n_steps=2)}
    first = create_fingerprint(model, key, folder / "a.mgf", **fast)  # type: ignore[arg-type]
    second = create_fingerprint(model, key, folder / "b.mgf", **fast)  # type: ignore[arg-type]
    return key, first, second


def _fitted(commitment: str, shift: float = 0.0) -> dict[str, Calibration]:
    rng = np.random.default_rng(0)
    null = 0.2 + shift + 0.05 * rng.standard_normal((N_NULL, N_ANCHORS, 3))
    ids = [f"sha256:{i:064x}" for i in range(N_NULL)]
    return {"sketch": fit_calibration(null, ids, n_bootstrap=50, anchor_commitment=commitment)}


def _negatives() -> list[str]:
    return [f"n{i}.onnx" for i in range(N_NULL)]


def _envelope(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    envelope = json.loads(path.read_text())
    import base64

    return envelope, json.loads(base64.b64decode(envelope["payload"]))


def test_round_trip(owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint, _ = owner
    fitted = _fitted(fingerprint.commitment)
    path = save_calibration(tmp_path / "cal.json", fingerprint, fitted, _negatives(), key)
    loaded = load_calibration(path, fingerprint, key.public_key())
    assert loaded["sketch"].threshold == fitted["sketch"].threshold
    with pytest.raises(InputError, match="already exists"):
        save_calibration(path, fingerprint, fitted, _negatives(), key)


def test_an_edited_self_consistent_calibration_is_refused(owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The forger re-fits the null far lower, so an independent suspect reads 'derived'."""
    key, fingerprint, _ = owner
    path = save_calibration(tmp_path / "cal.json", fingerprint, _fitted(fingerprint.commitment),
                            _negatives(), key)
    envelope, statement = _envelope(path)
    forged = _fitted(fingerprint.commitment, shift=-0.6)["sketch"]
    sims = np.full((N_ANCHORS, 3), 0.2)
    assert compute_verdict(sims, forged).decision == "derived"  # the forgery would work
    statement["predicate"]["estimators"]["sketch"] = forged.to_dict()
    envelope["payload"] = b64encode(json.dumps(statement).encode())
    path.write_text(json.dumps(envelope))
    with pytest.raises(IntegrityError, match="does not verify"):
        load_calibration(path, fingerprint, key.public_key())


def test_an_unsigned_calibration_names_the_fix(owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint, _ = owner
    path = tmp_path / "old.json"
    path.write_text(json.dumps({
        "schema": "modelgif.calibration/v1", "fingerprint_id": fingerprint.fingerprint_id.hex(),
        "commitment": fingerprint.commitment, "negatives": _negatives(),
        "estimators": {"sketch": _fitted(fingerprint.commitment)["sketch"].to_dict()}}))
    with pytest.raises(InputError, match=r"unsigned .* re-run `modelgif calibrate`"):
        load_calibration(path, fingerprint, key.public_key())


def test_a_calibration_signed_by_another_key_is_refused(owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint, _ = owner
    path = save_calibration(tmp_path / "cal.json", fingerprint, _fitted(fingerprint.commitment),
                            _negatives(), generate_key())
    with pytest.raises(IntegrityError, match="does not verify"):
        load_calibration(path, fingerprint, key.public_key())


def test_another_fingerprints_calibration_is_refused(owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint, other = owner
    path = save_calibration(tmp_path / "cal.json", other, _fitted(other.commitment),
                            _negatives(), key)
    with pytest.raises(InputError, match="another fingerprint"):
        load_calibration(path, fingerprint, key.public_key())


def test_the_inner_anchor_commitment_is_compared(owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Top-level id, commitment and subject copied from the fingerprint, signed by its owner,
    but the null was fitted at another fingerprint's anchors."""
    key, fingerprint, other = owner
    predicate = {"schema": CALIBRATION_SCHEMA, "fingerprint_id": fingerprint.fingerprint_id.hex(),
                 "commitment": fingerprint.commitment, "negatives": _negatives(),
                 "estimators": {"sketch": _fitted(other.commitment)["sketch"].to_dict()}}
    subjects = [{"name": f"fingerprint-{fingerprint.fingerprint_id.hex()}",
                 "digest": {"sha256": fingerprint.model_digest}}]
    path = write_signed(tmp_path / "cal.json", subjects, PREDICATE_TYPE, predicate, key)
    with pytest.raises(InputError, match="other anchors"):
        load_calibration(path, fingerprint, key.public_key())
    with pytest.raises(InputError, match="other anchors"):
        save_calibration(tmp_path / "c2.json", fingerprint, _fitted(other.commitment),
                         _negatives(), key)
