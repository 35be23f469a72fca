"""The architecture-matched null: negatives picked by graph structure, and its verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cryptography.hazmat.primitives.asymmetric import ed25519

from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import load_fingerprint
from modelgif.verifiers.matched_null import graph_signature, matched_negatives
from modelgif.verifiers.ownership import calibrate, verify_suspect
from modelgif.zoo.fashion_zoo import fashion_net

EXAMPLE = torch.zeros(1, 1, 28, 28)


def _model(name: str, seed: int) -> NormalizedModel:
    return normalize(fashion_net(name, seed), EXAMPLE, input_range=(0.0, 1.0))


def test_matched_negatives_keep_only_the_suspects_architecture(tmp_path: Path) -> None:
    cnns = [_model("cnn", s) for s in range(3)]
    pools = [_model("pool", s) for s in range(3)]
    path = tmp_path / "suspect.onnx"
    path.write_bytes(_model("cnn", 9).model.SerializeToString())
    got = matched_negatives(path, [*pools, *cnns], min_negatives=3)
    assert [graph_signature(m) for m in got] == [graph_signature(c) for c in cnns]
    with pytest.raises(InputError, match="Only 3 of 6 negatives"):
        matched_negatives(path, [*pools, *cnns], min_negatives=4)


def test_a_matched_calibration_gives_a_verdict(tmp_path: Path) -> None:
    owner = _model("cnn", 0)
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "owner.mgf"
    create_fingerprint(owner, key, path, anchor_config=AnchorConfig(n_anchors=8,
                                                                   source="synthetic"))
    fingerprint = load_fingerprint(path, key.public_key())
    secrets = open_secrets(fingerprint, key)
    negatives = [_model(n, s) for n in ("cnn", "pool") for s in range(1, 6)]
    matched = matched_negatives(owner, negatives, min_negatives=5)
    calibrations = calibrate(fingerprint, secrets, matched, sketches=("sketch",))
    assert len(calibrations["sketch"].null_ids) == 5
    copy, _ = verify_suspect(fingerprint, secrets, owner, calibrations)
    assert copy.decision == "derived"
    assert np.isfinite(copy.statistic or np.nan)
