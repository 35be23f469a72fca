"""DSSE envelopes: round trips, strictness, and interop with securesystemslib."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from modelgif.crypto import keys, signing
from modelgif.errors import IntegrityError

KINDS = ["ed25519", "ecdsa-p256"]
PREDICATE = "https://modelgif.dev/test/v1"


def _statement() -> dict[str, Any]:
    return signing.make_statement(
        [{"name": "normalized-model", "digest": {"sha256": "ab" * 32}}],
        PREDICATE,
        {"config": {"n_steps": 16, "eps": 0.001, "label": "modèle"}},
    )


def test_pae_matches_the_dsse_spec_example() -> None:
    # https://github.com/secure-systems-lab/dsse/blob/master/protocol.md (test vector)
    assert signing.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert signing.canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()


@pytest.mark.parametrize("kind", KINDS)
def test_sign_verify_round_trip(kind: str) -> None:
    key = keys.generate_key(kind)
    envelope = signing.sign_statement(_statement(), key)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert envelope["signatures"][0]["keyid"] == keys.keyid(key)
    statement = signing.verify_envelope(envelope, key.public_key(), PREDICATE)
    assert statement == _statement()
    assert json.loads(signing.b64decode_canonical(envelope["payload"])) == statement


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_or_predicate_type_is_rejected(kind: str) -> None:
    key = keys.generate_key(kind)
    envelope = signing.sign_statement(_statement(), key)
    with pytest.raises(IntegrityError):
        signing.verify_envelope(envelope, keys.generate_key(kind).public_key())
    # Same keyid claimed, but a different key: the signature itself must fail.
    other = keys.generate_key(kind)
    forged = copy.deepcopy(envelope)
    forged["signatures"][0]["keyid"] = keys.keyid(other)
    with pytest.raises(IntegrityError):
        signing.verify_envelope(forged, other.public_key())
    with pytest.raises(IntegrityError):
        signing.verify_envelope(envelope, key.public_key(), "https://other/v1")


def _mutations(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    payload = signing.b64decode_canonical(envelope["payload"])
    altered = payload.replace(b"16", b"17")
    assert altered != payload
    out = []
    for change in [
        lambda e: e.update(payload=signing.b64encode(altered)),
        lambda e: e.update(payloadType="application/json"),
        lambda e: e.update(extra=1),
        lambda e: e["signatures"].append(dict(e["signatures"][0])),
        lambda e: e.update(signatures=[]),
        lambda e: e["signatures"][0].update(sig=e["signatures"][0]["sig"][:-4]),
        lambda e: e["signatures"][0].update(sig=e["signatures"][0]["sig"] + "===="),
        lambda e: e.update(payload=e["payload"] + "\n"),
    ]:
        mutated = copy.deepcopy(envelope)
        change(mutated)
        out.append(mutated)
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_every_envelope_mutation_is_rejected_opaquely(kind: str) -> None:
    key = keys.generate_key(kind)
    envelope = signing.sign_statement(_statement(), key)
    messages = set()
    for mutated in _mutations(envelope):
        with pytest.raises(IntegrityError) as caught:
            signing.verify_envelope(mutated, key.public_key())
        messages.add(str(caught.value))
    assert len(messages) == 1  # one opaque message, whatever failed


def test_non_canonical_base64_is_rejected() -> None:
    # "QQ==" and "QR==" both decode to b"A" under lenient decoders.
    assert signing.b64decode_canonical("QQ==") == b"A"
    with pytest.raises(IntegrityError):
        signing.b64decode_canonical("QR==")
    with pytest.raises(IntegrityError):
        signing.b64decode_canonical("QQ")


@pytest.mark.parametrize("kind", KINDS)
def test_securesystemslib_verifies_our_envelopes(kind: str) -> None:
    key = keys.generate_key(kind)
    envelope = signing.sign_statement(_statement(), key)
    their_key = SSlibKey.from_crypto(key.public_key(), keyid=keys.keyid(key))
    accepted = Envelope.from_dict(copy.deepcopy(envelope)).verify([their_key], 1)
    assert list(accepted) == [keys.keyid(key)]
    tampered = copy.deepcopy(envelope)
    tampered["payload"] = signing.b64encode(b'{"_type":"forged"}')
    with pytest.raises(VerificationError):
        Envelope.from_dict(tampered).verify([their_key], 1)


@pytest.mark.parametrize("kind", KINDS)
def test_we_verify_securesystemslib_envelopes(kind: str) -> None:
    key = keys.generate_key(kind)
    their_key = SSlibKey.from_crypto(key.public_key(), keyid=keys.keyid(key))
    payload = signing.canonical_json(_statement())
    theirs = Envelope(payload, signing.PAYLOAD_TYPE, {})
    theirs.sign(CryptoSigner(key, their_key))
    envelope = theirs.to_dict()
    if kind == "ecdsa-p256" and _s_of(envelope) > signing.P256_ORDER // 2:
        # securesystemslib does not normalize s: a high-S envelope is refused (low-S only) ...
        with pytest.raises(IntegrityError):
            signing.verify_envelope(envelope, key.public_key(), PREDICATE)
        envelope = _with_s(envelope, signing.P256_ORDER - _s_of(envelope))  # ... its twin is not
    statement = signing.verify_envelope(envelope, key.public_key(), PREDICATE)
    assert statement == _statement()


def _s_of(envelope: dict[str, Any]) -> int:
    return decode_dss_signature(signing.b64decode_canonical(envelope["signatures"][0]["sig"]))[1]


def _with_s(envelope: dict[str, Any], s: int) -> dict[str, Any]:
    """A copy of `envelope` whose ECDSA signature (r, s) has `s` replaced."""
    der = signing.b64decode_canonical(envelope["signatures"][0]["sig"])
    r, _ = decode_dss_signature(der)
    changed = copy.deepcopy(envelope)
    changed["signatures"][0]["sig"] = signing.b64encode(encode_dss_signature(r, s))
    return changed


def test_ecdsa_signatures_are_low_s_and_the_high_s_twin_is_refused() -> None:
    key = keys.generate_key("ecdsa-p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    for _ in range(16):  # a non-normalizing signer gives high S half of the time
        envelope = signing.sign_statement(_statement(), key)
        s = _s_of(envelope)
        assert 0 < s <= signing.P256_ORDER // 2
        twin = _with_s(envelope, signing.P256_ORDER - s)
        # plain ECDSA accepts the twin (so P256_ORDER really is the group order) ...
        message = signing.pae(signing.PAYLOAD_TYPE, signing.b64decode_canonical(twin["payload"]))
        der = signing.b64decode_canonical(twin["signatures"][0]["sig"])
        key.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))
        # ... modelgif does not
        with pytest.raises(IntegrityError, match=r"^Signature verification failed\.$"):
            signing.verify_envelope(twin, key.public_key(), PREDICATE)
        assert signing.verify_envelope(envelope, key.public_key(), PREDICATE) == _statement()


def test_ecdsa_signature_in_non_minimal_der_is_refused() -> None:
    key = keys.generate_key("ecdsa-p256")
    envelope = signing.sign_statement(_statement(), key)
    der = signing.b64decode_canonical(envelope["signatures"][0]["sig"])
    # the same SEQUENCE with a long-form length byte: BER, not DER
    padded = der[:1] + b"\x81" + der[1:]
    changed = copy.deepcopy(envelope)
    changed["signatures"][0]["sig"] = signing.b64encode(padded)
    with pytest.raises(IntegrityError):
        signing.verify_envelope(changed, key.public_key(), PREDICATE)
