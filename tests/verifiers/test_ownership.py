"""Ownership verification end to end on real exported models (API level)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from onnxruntime.quantization import quantize_dynamic

from modelgif.crypto.keys import generate_key
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.record import Fingerprint, load_fingerprint
from modelgif.fingerprint.reveal import read_reveal, write_reveal
from modelgif.verifiers.ownership import (
    calibrate,
    compare_suspect,
    load_calibration,
    save_calibration,
    verify_suspect,
)
from workflow import INPUT_RANGE, Scenario, build_scenario

FAST = {"anchor_config": AnchorConfig(n_anchors=24), "field_config": FieldConfig(n_steps=6)}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build_scenario(tmp_path_factory.mktemp("ownership"))


@pytest.fixture(scope="module")
def owner(scenario: Scenario) -> tuple[object, Fingerprint]:
    key = generate_key()
    path = scenario.folder / "owner.mgf"
    create_fingerprint(scenario.owner, key, path, **FAST)  # type: ignore[arg-type]
    return key, load_fingerprint(path, key.public_key())


def test_fine_tune_flagged_independent_not(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner
    secrets = open_secrets(fingerprint, key)
    fitted = calibrate(fingerprint, secrets, scenario.negatives, sketches=("sketch",))
    tuned, _ = verify_suspect(fingerprint, secrets, scenario.tuned, fitted)
    independent, _ = verify_suspect(fingerprint, secrets, scenario.independent, fitted)
    assert tuned.decision == "derived", tuned.to_dict()
    assert independent.decision != "derived"
    assert tuned.statistic is not None and independent.statistic is not None
    assert tuned.statistic > fitted["sketch"].threshold > independent.statistic
    assert tuned.compared["suspect"] == normalize(scenario.tuned).digest


def test_owner_model_as_suspect_has_identical_field(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner
    comparison = compare_suspect(fingerprint, open_secrets(fingerprint, key), scenario.owner)
    assert comparison.sketch == "sketch"
    assert float(np.min(comparison.cosines)) > 0.999


def test_callable_suspect_is_verified_black_box(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner

    def api(batch: np.ndarray) -> np.ndarray:  # an inference API: outputs only
        with torch.no_grad():
            return np.asarray(scenario.module(torch.from_numpy(batch)).numpy())

    comparison = compare_suspect(fingerprint, open_secrets(fingerprint, key), api)
    assert comparison.estimator["name"] == "blackbox" and comparison.digest == "callable"
    assert float(np.median(comparison.cosines)) > 0.99


def test_quantized_suspect_uses_the_coarse_sketch(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner
    quantized = scenario.folder / "owner.int8.onnx"
    quantize_dynamic(str(scenario.owner), str(quantized))
    comparison = compare_suspect(fingerprint, open_secrets(fingerprint, key), quantized)
    assert comparison.sketch == "sketch_coarse"
    assert comparison.estimator["name"] == "blackbox"
    assert float(np.median(comparison.cosines)) > 0.9


def test_reveal_recomputes_the_same_comparison(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner
    reveal_path = write_reveal(fingerprint, key, scenario.folder / "owner.reveal")
    by_reveal = open_secrets(fingerprint, reveal=read_reveal(reveal_path))
    by_owner = open_secrets(fingerprint, key)
    assert np.array_equal(by_reveal.anchors, by_owner.anchors)
    assert by_reveal.sketch_secret == by_owner.sketch_secret
    first = compare_suspect(fingerprint, by_reveal, scenario.tuned).cosines
    second = compare_suspect(fingerprint, by_owner, scenario.tuned).cosines
    assert np.array_equal(first, second)


def test_calibration_file_is_bound_to_its_fingerprint(scenario: Scenario, owner,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    key, fingerprint = owner
    fitted = calibrate(fingerprint, open_secrets(fingerprint, key), scenario.negatives[:5],
                       sketches=("sketch",))
    path = tmp_path / "cal.json"
    save_calibration(path, fingerprint, fitted, [p.name for p in scenario.negatives[:5]], key)
    loaded = load_calibration(path, fingerprint, key.public_key())
    assert loaded["sketch"].threshold == fitted["sketch"].threshold
    other_path = tmp_path / "other.mgf"
    create_fingerprint(scenario.owner, key, other_path, **FAST)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="another fingerprint"):
        load_calibration(path, load_fingerprint(other_path, key.public_key()), key.public_key())


def test_a_calibration_negative_cannot_be_a_suspect(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner
    secrets = open_secrets(fingerprint, key)
    fitted = calibrate(fingerprint, secrets, scenario.negatives[:5], sketches=("sketch",))
    with pytest.raises(InputError, match="calibration negative"):
        verify_suspect(fingerprint, secrets, scenario.negatives[0], fitted)


def test_the_owner_model_cannot_be_its_own_negative(scenario: Scenario, owner) -> None:  # type: ignore[no-untyped-def]
    key, fingerprint = owner
    with pytest.raises(InputError, match="fingerprinted model itself"):
        calibrate(fingerprint, open_secrets(fingerprint, key),
                  [scenario.owner, *scenario.negatives[:5]])


def test_input_shape_mismatch_is_an_input_error(scenario: Scenario, owner,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    from model_factory import make_model
    from modelgif.fingerprint.export import export_torch

    key, fingerprint = owner
    module, example = make_model("mlp")
    path = export_torch(module, example, tmp_path / "mlp.onnx")
    with pytest.raises(InputError, match="input shape"):
        compare_suspect(fingerprint, open_secrets(fingerprint, key),
                        normalize(path, input_range=INPUT_RANGE))
