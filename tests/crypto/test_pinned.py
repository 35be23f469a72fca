"""Pinned derivations: the same owner key, fingerprint id and pool give the same secrets.

Why: every fingerprint ever issued is opened by re-deriving its keys and anchors. These sha256
values were computed before the crypto code moved into modelgif.crypto; a refactor that
changes any derived byte breaks every existing fingerprint, and fails here.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from modelgif.crypto.kdf import derive_anchor_key, derive_anchor_secret, sketch_secret
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.sketch import make_projection

FINGERPRINT_ID = bytes(range(100, 116))
KEYS = {
    "ed25519": ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))),
    "ecdsa-p256": ec.derive_private_key(0x1234567890ABCDEF << 100, ec.SECP256R1()),
}
# Exact integer arithmetic (no transcendental functions): the same pool on every machine.
POOL = ((np.arange(40 * 3 * 6 * 6) * 7919 % 1000) / 500.0 - 1.0).reshape(40, 3, 6, 6)

PINNED_SECRETS = {
    "ed25519": (
        "eb6e1e0883182dbc15c55649d7b5d5c259a50b5c7c1d655c3c1135e54b5e79d6",
        "cbaa94a052cbf63148bff29aa8167a31e0bde7bcd9f47a66b7b48e61bcaed2b6",
        "5d91431003c7fe89c8e3b55422886ed9f73f22813ecd951d575906b9cead922a",
    ),
    "ecdsa-p256": (
        "b787f4845006417a25cfbc643010bf528385c8bb7eefeeda36d2909f0d94c296",
        "8858398134535a587b7156902c5803eed475ae93fe01c47ec8f64acea279a1c3",
        "5c244905cff0eec39f6754b52a9619e97db8076487de4b4ad824e9fbe6f943a0",
    ),
}
PINNED_ANCHORS = {
    ("ed25519", "synthetic"): "6b0bdd02f7deef76ec513a4c0e2f26dcf0c185cb0b46ce9b82226395f55d900b",
    ("ed25519", "subset"): "f24be128c89423fb2beab0e057c8079145c42a7ab9b0b531d8b8b60e712dc39a",
    ("ed25519", "augmented"): "69b56429819c04f3fc00aa278d13aba6aee2f8024a4d71a8a2ad42b9472ffd55",
    ("ecdsa-p256", "synthetic"): "38e15a81ccf0472f605fc69af7a1094121decd3cc248e9e3f91240a0e72cddb0",
    ("ecdsa-p256", "subset"): "a988c661f26938bf719e057b69c00628677423967d7978d2792db7ac005fdd2b",
    ("ecdsa-p256", "augmented"): "c84e3d68c175cd870b95a117de965a81bbb664facfa2e5606bab704120c85512",
}
PINNED_PROJECTIONS = {
    "gaussian": "8bbfcb641bd08a7e586ef24e47a32a87e308266b69eaa396a133d576eff61a8e",
    "rademacher": "388b9f68171795a0cdebb677070c7543eebd3ddcaa43c7e77b5416bea194c04c",
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_per_fingerprint_secrets_are_pinned(kind: str) -> None:
    anchor_key = derive_anchor_key(KEYS[kind], FINGERPRINT_ID)
    secret = derive_anchor_secret(KEYS[kind], FINGERPRINT_ID)
    got = (anchor_key.hex(), secret.hex(), sketch_secret(anchor_key).hex())
    assert got == PINNED_SECRETS[kind]


@pytest.mark.parametrize(("kind", "source"), sorted(PINNED_ANCHORS))
def test_anchors_are_pinned(kind: str, source: str) -> None:
    secret = derive_anchor_secret(KEYS[kind], FINGERPRINT_ID)
    anchors = derive_anchors(
        secret, AnchorConfig(n_anchors=12, source=source), pool=POOL, value_range=(-1.0, 1.0)
    )
    assert anchors.inputs.shape == (12, 3, 6, 6) and anchors.inputs.dtype == np.float32
    assert hashlib.sha256(anchors.inputs.tobytes()).hexdigest() == PINNED_ANCHORS[kind, source]


@pytest.mark.parametrize("projection", sorted(PINNED_PROJECTIONS))
def test_projection_for_wide_inputs_is_pinned(projection: str) -> None:
    secret = sketch_secret(derive_anchor_key(KEYS["ed25519"], FINGERPRINT_ID))
    matrix = make_projection(secret, 108, 64, projection).matrix
    assert matrix is not None and matrix.shape == (108, 64)
    assert hashlib.sha256(matrix.tobytes()).hexdigest() == PINNED_PROJECTIONS[projection]
