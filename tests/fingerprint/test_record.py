"""The .mgf fingerprint file: round trips, tamper resistance, reveal, golden files.

Golden files live in tests/fingerprint/data/. Regenerate the CURRENT format version's file
with `MODELGIF_UPDATE_GOLDEN=1 pytest tests/fingerprint/test_record.py`; files of older
versions are never rewritten and must keep loading (compatibility fixtures). The golden key
is derived from a public seed: it is a test key, worthless as a secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import stat
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compat.corpus import counter_random
from modelgif.crypto import kdf, keys, sealing, signing
from modelgif.errors import InputError, IntegrityError, ModelgifError
from modelgif.fingerprint import mgf_layout, record
from modelgif.fingerprint import reveal as reveals

DATA = Path(__file__).parent / "data"
UPDATE = os.environ.get("MODELGIF_UPDATE_GOLDEN") == "1"
GOLDEN_SEED = b"modelgif golden test key (public, worthless)"
GOLDEN_TOOLS = {"modelgif": "0.1.0", "numpy": "2.0.0", "onnx": "1.17.0",
                "onnxruntime": "1.20.0", "torch": "2.13.0"}  # fmt: skip


def _inputs(seed: int = 0) -> dict[str, Any]:
    """Small inputs from exact arithmetic (no RNG stream or libm that could drift)."""
    sketch = ((np.arange(24) * 7 + seed * 13) % 17 - 8) / 4
    anchors = ((np.arange(16) * 5 + seed * 3) % 11 - 5) / 8
    return {
        "arrays": {
            "sketch": sketch.reshape(2, 3, 4).astype(np.float32),
            "targets": np.array([3, 1], dtype=np.int64),
            "mask": np.array([[1, 0], [0, 1]], dtype=np.uint8),
        },
        "anchors": anchors.reshape(2, 8).astype(np.float32),
        "config": {"field": {"n_steps": 16, "quadrature": "gauss-legendre"}, "seed": seed},
        "model_digest": hashlib.sha256(b"normalized model %d" % seed).hexdigest(),
        "original_name": "model.onnx",
        "original_sha256": hashlib.sha256(b"original model %d" % seed).hexdigest(),
    }


def _write(path: Path, key: keys.PrivateKey, seed: int = 0, **extra: Any) -> record.Fingerprint:
    return record.write_fingerprint(path, private_key=key, **_inputs(seed), **extra)


@pytest.fixture(scope="module")
def owner() -> keys.PrivateKey:
    return keys.generate_key("ed25519")


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
def test_write_load_round_trip(tmp_path: Path, kind: str) -> None:
    key = keys.generate_key(kind)
    written = _write(tmp_path / "a.mgf", key)
    loaded = record.load_fingerprint(tmp_path / "a.mgf", key.public_key())
    inputs = _inputs()
    assert loaded.verified and not record.read_fingerprint_unverified(tmp_path / "a.mgf").verified
    assert set(loaded.arrays) == set(inputs["arrays"])
    for name, array in inputs["arrays"].items():
        assert loaded.arrays[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded.arrays[name], array)
        assert not loaded.arrays[name].flags.writeable
    assert loaded.config == inputs["config"]
    assert loaded.model_digest == inputs["model_digest"]
    assert loaded.original_sha256 == inputs["original_sha256"]
    assert loaded.original_name == "model.onnx"
    assert loaded.keyid == keys.keyid(key)
    assert loaded.fingerprint_id == written.fingerprint_id
    assert loaded.statement["predicateType"] == record.PREDICATE_TYPE
    assert set(loaded.predicate["tools"]) == {"modelgif", "numpy", "onnx", "onnxruntime", "torch"}
    anchors = loaded.decrypt_anchors(key)
    assert anchors.dtype == np.float32
    np.testing.assert_array_equal(anchors, inputs["anchors"])
    assert b"anchors" not in json.dumps(loaded.public_metadata()["arrays"]).encode()


def test_original_name_keeps_only_the_file_name(tmp_path: Path, owner: keys.PrivateKey) -> None:
    inputs = _inputs() | {"original_name": "/home/alice/secret/model.onnx"}
    fp = record.write_fingerprint(tmp_path / "a.mgf", private_key=owner, **inputs)
    assert fp.original_name == "model.onnx"


def test_fingerprint_id_is_injectable_and_keys_derive_from_it(owner: keys.PrivateKey) -> None:
    fid = kdf.new_fingerprint_id()
    secret = kdf.derive_anchor_secret(owner, fid)
    assert secret == kdf.derive_anchor_secret(owner, fid)
    assert secret != kdf.derive_anchor_key(owner, fid)
    assert secret != kdf.derive_anchor_secret(owner, kdf.new_fingerprint_id())
    assert secret != kdf.derive_anchor_secret(keys.generate_key(), fid)
    assert len(secret) == 32


def test_supplied_fingerprint_id_is_used(tmp_path: Path, owner: keys.PrivateKey) -> None:
    fid = bytes(range(16))
    assert _write(tmp_path / "a.mgf", owner, fingerprint_id=fid).fingerprint_id == fid


def test_wrong_public_key_is_rejected(tmp_path: Path, owner: keys.PrivateKey) -> None:
    _write(tmp_path / "a.mgf", owner)
    for other in (keys.generate_key("ed25519"), keys.generate_key("ecdsa-p256")):
        with pytest.raises(IntegrityError):
            record.load_fingerprint(tmp_path / "a.mgf", other.public_key())


def test_wrong_private_key_cannot_decrypt(tmp_path: Path, owner: keys.PrivateKey) -> None:
    fp = _write(tmp_path / "a.mgf", owner)
    with pytest.raises(InputError, match="did not sign"):
        fp.decrypt_anchors(keys.generate_key())


def test_invalid_inputs_are_input_errors(tmp_path: Path, owner: keys.PrivateKey) -> None:
    bad: list[dict[str, Any]] = [
        {"arrays": {"bad name!": np.zeros(2)}},
        {"arrays": {"objects": np.array([{}], dtype=object)}},
        {"arrays": {"complex": np.zeros(2, dtype=np.complex64)}},
        {"arrays": {"deep": np.zeros((1,) * 9)}},
        {"anchors": np.zeros((2, 2), dtype=np.float64)},
        {"anchors": np.array([np.nan], dtype=np.float32)},
        {"config": {"eps": float("nan")}},
        {"config": {"callable": print}},
        {"model_digest": "ABC"},
        {"original_name": ""},
    ]
    for index, change in enumerate(bad):
        with pytest.raises(InputError):
            record.write_fingerprint(
                tmp_path / f"{index}.mgf", private_key=owner, **(_inputs() | change)
            )
    naive = datetime(2025, 1, 1)
    with pytest.raises(InputError, match="tz-aware"):
        _write(tmp_path / "naive.mgf", owner, created_at=naive)


def test_refuses_to_overwrite_unless_asked(tmp_path: Path, owner: keys.PrivateKey) -> None:
    first = _write(tmp_path / "a.mgf", owner)
    with pytest.raises(InputError, match="already exists"):
        _write(tmp_path / "a.mgf", owner)
    second = _write(tmp_path / "a.mgf", owner, overwrite=True)
    assert second.fingerprint_id != first.fingerprint_id
    loaded = record.load_fingerprint(tmp_path / "a.mgf", owner.public_key())
    assert loaded.fingerprint_id == second.fingerprint_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mgf"]


# ----------------------------------------------------------------------------- rejection


def test_not_a_fingerprint_or_future_version_is_input_error(
    tmp_path: Path, owner: keys.PrivateKey
) -> None:
    npz = tmp_path / "arrays.npz"
    np.savez(npz, x=np.zeros(3))
    for path in (npz, tmp_path / "empty.mgf"):
        path.touch()
        with pytest.raises(InputError, match="not a modelgif fingerprint"):
            record.load_fingerprint(path, owner.public_key())
    _write(tmp_path / "a.mgf", owner)
    data = bytearray((tmp_path / "a.mgf").read_bytes())
    struct.pack_into("<I", data, 8, 2)
    (tmp_path / "v2.mgf").write_bytes(bytes(data))
    with pytest.raises(InputError, match="Unsupported fingerprint format version 2"):
        record.read_fingerprint_unverified(tmp_path / "v2.mgf")
    with pytest.raises(InputError, match="Cannot read"):
        record.load_fingerprint(tmp_path / "missing.mgf", owner.public_key())


def test_size_caps_apply_before_reading(
    tmp_path: Path, owner: keys.PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "a.mgf", owner)
    monkeypatch.setattr(mgf_layout, "MAX_FILE_BYTES", 100)
    with pytest.raises(IntegrityError):
        record.load_fingerprint(tmp_path / "a.mgf", owner.public_key())
    monkeypatch.setattr(mgf_layout, "MAX_FILE_BYTES", 1 << 30)
    monkeypatch.setattr(mgf_layout, "MAX_ARRAY_BYTES", 16)
    monkeypatch.setattr(record, "MAX_ARRAY_BYTES", 16)
    with pytest.raises(IntegrityError):
        record.read_fingerprint_unverified(tmp_path / "a.mgf")


def _mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random corruption of `data`: a bit pattern flip, truncation, insertion, etc."""
    mode = rng.choice(["flip", "flip", "flip", "truncate", "append", "insert", "delete"])
    pos = rng.randrange(len(data))
    if mode == "flip":
        changed = bytearray(data)
        changed[pos] ^= rng.randrange(1, 256)
        return bytes(changed), mode if pos >= 12 else "header-flip"
    if mode == "truncate":
        return data[:pos], mode
    if mode == "append":
        return data + rng.randbytes(rng.randrange(1, 16)), mode
    if mode == "insert":
        return data[:pos] + rng.randbytes(1) + data[pos:], mode
    return data[:pos] + data[pos + 1 :], mode


@pytest.mark.parametrize(("kind", "trials"), [("ed25519", 1200), ("ecdsa-p256", 300)])
def test_every_random_corruption_is_rejected(tmp_path: Path, kind: str, trials: int) -> None:
    key = keys.generate_key(kind)
    original = tmp_path / "a.mgf"
    _write(original, key)
    data = original.read_bytes()
    record.load_fingerprint(original, key.public_key())  # the intact file loads
    rng = random.Random(20250101)
    target = tmp_path / "mutated.mgf"
    modes: dict[str, int] = {}
    for _ in range(trials):
        mutated, mode = _mutate(data, rng)
        assert mutated != data
        target.write_bytes(mutated)
        with pytest.raises(ModelgifError) as caught:
            record.load_fingerprint(target, key.public_key())
        if mode == "flip":  # past magic and version: always the opaque integrity error
            assert isinstance(caught.value, IntegrityError), mutated
        modes[mode] = modes.get(mode, 0) + 1
    assert modes.get("flip", 0) > trials // 3


def test_corrupted_data_sections_fail_even_unverified(
    tmp_path: Path, owner: keys.PrivateKey
) -> None:
    path = tmp_path / "a.mgf"
    _write(path, owner)
    data = path.read_bytes()
    _, _, header_len = struct.unpack_from("<8sII", data)
    rng = random.Random(7)
    for _ in range(200):
        pos = rng.randrange(16 + header_len, len(data))
        changed = bytearray(data)
        changed[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(changed))
        with pytest.raises(IntegrityError):
            record.read_fingerprint_unverified(path)


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    _, _, header_len = struct.unpack_from("<8sII", data)
    return json.loads(data[16 : 16 + header_len]), data[16 + header_len :]


def _join(header: dict[str, Any], body: bytes, canonical: bool = True) -> bytes:
    raw = signing.canonical_json(header) if canonical else json.dumps(header).encode()
    return struct.pack("<8sII", mgf_layout.MAGIC, 1, len(raw)) + raw + body


def _resign_payload(header: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> None:
    envelope = header["envelope"]
    statement = json.loads(signing.b64decode_canonical(envelope["payload"]))
    edit(statement)
    envelope["payload"] = signing.b64encode(signing.canonical_json(statement))


def _noncanonical_b64(text: str) -> str:
    """The same bytes under a lenient decoder: flip a padding bit of the last data char."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = len(text.rstrip("=")) - 1
    assert text.endswith("="), "needs padding to have spare bits"
    flipped = text[:last] + alphabet[alphabet.index(text[last]) ^ 1] + text[last + 1 :]
    assert base64.b64decode(flipped) == base64.b64decode(text)
    return flipped


FIELD_EDITS: list[Callable[[dict[str, Any]], None]] = [
    lambda h: h["envelope"]["signatures"][0].update(
        sig=_noncanonical_b64(h["envelope"]["signatures"][0]["sig"])),
    lambda h: h["arrays"].reverse(),
    lambda h: h["arrays"][0].update(nbytes=h["arrays"][0]["nbytes"] - 1),
    lambda h: h["arrays"][0].update(name="zzz"),
    lambda h: h["arrays"].pop(),
    lambda h: h.update(sealed_anchors_nbytes=h["sealed_anchors_nbytes"] + 1),
    lambda h: h.update(extra=True),
    lambda h: h["envelope"].update(payloadType="application/json"),
    lambda h: h["envelope"]["signatures"][0].update(keyid="0" * 64),
    lambda h: h["envelope"]["signatures"].append(h["envelope"]["signatures"][0]),
    lambda h: _resign_payload(h, lambda s: s["predicate"]["config"].update(seed=1)),
    lambda h: _resign_payload(h, lambda s: s["subject"].reverse()),
    lambda h: _resign_payload(h, lambda s: s["predicate"].update(created_at="2030")),
    lambda h: _resign_payload(h, lambda s: s["predicate"]["anchors"]["commitment"].update(
        sha256="0" * 64)),
]  # fmt: skip


def test_every_field_edit_is_rejected(tmp_path: Path, owner: keys.PrivateKey) -> None:
    path = tmp_path / "a.mgf"
    _write(path, owner)
    header, body = _split(path.read_bytes())
    assert _join(header, body) == path.read_bytes()  # the split itself is faithful
    path.write_bytes(_join(header, body, canonical=False))  # same content, spaces added
    with pytest.raises(IntegrityError):
        record.read_fingerprint_unverified(path)
    for edit in FIELD_EDITS:
        edited = json.loads(json.dumps(header))
        edit(edited)
        path.write_bytes(_join(edited, body))
        with pytest.raises(IntegrityError):
            record.load_fingerprint(path, owner.public_key())


def test_swapping_sealed_anchors_between_fingerprints_is_rejected(
    tmp_path: Path, owner: keys.PrivateKey
) -> None:
    _write(tmp_path / "a.mgf", owner, seed=0)
    _write(tmp_path / "b.mgf", owner, seed=0)
    a, b = (tmp_path / "a.mgf").read_bytes(), (tmp_path / "b.mgf").read_bytes()
    header_a, body_a = _split(a)
    _, body_b = _split(b)
    sealed = header_a["sealed_anchors_nbytes"]
    (tmp_path / "swap.mgf").write_bytes(_join(header_a, body_a[:-sealed] + body_b[-sealed:]))
    with pytest.raises(IntegrityError):
        record.load_fingerprint(tmp_path / "swap.mgf", owner.public_key())


# ----------------------------------------------------------------------------- sealing, reveal


def test_commitment_binds_and_hides() -> None:
    anchors = np.ones((2, 3), dtype=np.float32)
    salt = bytes(32)
    commitment = sealing.anchor_commitment(anchors, salt)
    sealing.check_commitment(anchors, salt, commitment)
    changed = anchors.copy()
    changed[1, 2] = np.nextafter(np.float32(1), np.float32(2))
    for other_anchors, other_salt in [(changed, salt), (anchors.reshape(3, 2), salt),
                                      (anchors, bytes(31) + b"\x01")]:  # fmt: skip
        with pytest.raises(IntegrityError):
            sealing.check_commitment(other_anchors, other_salt, commitment)
    key, fid = bytes(32), bytes(16)
    first = sealing.seal_anchors(anchors, key, fid)
    second = sealing.seal_anchors(anchors, key, fid)
    assert first.commitment != second.commitment  # fresh salt: equal anchors look unrelated
    assert first.blob != second.blob


def test_sealed_anchors_are_bound_to_their_fingerprint_id() -> None:
    anchors = np.arange(6, dtype=np.float32)
    sealed = sealing.seal_anchors(anchors, bytes(32), bytes(16))
    opened = sealing.open_anchors(sealed.blob, bytes(32), bytes(16), sealed.commitment)
    np.testing.assert_array_equal(opened, anchors)
    for key, fid, commitment in [
        (bytes(31) + b"\x01", bytes(16), sealed.commitment),
        (bytes(32), bytes(15) + b"\x01", sealed.commitment),
        (bytes(32), bytes(16), "0" * 64),
    ]:
        with pytest.raises(IntegrityError):
            sealing.open_anchors(sealed.blob, key, fid, commitment)


def test_reveal_opens_one_fingerprint_only(tmp_path: Path, owner: keys.PrivateKey) -> None:
    fp_a = _write(tmp_path / "a.mgf", owner, seed=0)
    fp_b = _write(tmp_path / "b.mgf", owner, seed=1)
    reveal_path = reveals.write_reveal(fp_a, owner, tmp_path / "a.reveal")
    assert stat.S_IMODE(reveal_path.stat().st_mode) == 0o600
    assert b"PRIVATE" not in reveal_path.read_bytes()
    reveal = reveals.read_reveal(reveal_path)
    # A third party: public key + fingerprint file + reveal, no private key.
    third_party_view = record.load_fingerprint(tmp_path / "a.mgf", owner.public_key())
    anchors = reveals.verify_reveal(third_party_view, reveal)
    np.testing.assert_array_equal(anchors, _inputs(0)["anchors"])
    np.testing.assert_array_equal(reveals.verify_reveal(third_party_view, reveal), anchors)
    # The same owner's other fingerprint stays closed, even forcing the key onto it.
    with pytest.raises(IntegrityError):
        reveals.verify_reveal(fp_b, reveal)
    with pytest.raises(IntegrityError):
        sealing.open_anchors(fp_b.sealed_anchors, reveal.anchor_key, fp_b.fingerprint_id,
                             fp_b.commitment)  # fmt: skip
    with pytest.raises(IntegrityError):
        sealing.open_anchors(fp_b.sealed_anchors, reveal.anchor_key, fp_a.fingerprint_id,
                             fp_b.commitment)  # fmt: skip
    assert reveal.anchor_key != kdf.derive_anchor_secret(owner, fp_a.fingerprint_id)
    with pytest.raises(InputError, match="already exists"):
        reveals.write_reveal(fp_a, owner, reveal_path)


def test_tampered_or_foreign_reveal_is_rejected(tmp_path: Path, owner: keys.PrivateKey) -> None:
    fp = _write(tmp_path / "a.mgf", owner)
    reveal_path = reveals.write_reveal(fp, owner, tmp_path / "a.reveal")
    content = json.loads(reveal_path.read_text())
    content["anchor_key"] = signing.b64encode(bytes(32))
    forged = tmp_path / "forged.reveal"
    forged.write_text(json.dumps(content))
    with pytest.raises(IntegrityError):
        reveals.verify_reveal(fp, reveals.read_reveal(forged))
    for garbage in (b"{}", b"[]", b"not json", b"\xff" * 10):
        forged.write_bytes(garbage)
        with pytest.raises(InputError, match="not a modelgif reveal"):
            reveals.read_reveal(forged)
    with pytest.raises(InputError, match="did not sign"):
        reveals.write_reveal(fp, keys.generate_key(), tmp_path / "b.reveal")


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.int64,
                               np.uint8, np.int8, np.dtype(">f4"), np.dtype(">i8")]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    )
)  # fmt: skip
def test_canonical_array_bytes_round_trip(array: np.ndarray) -> None:
    data = sealing.canonical_array_bytes(array)
    back = sealing.parse_canonical_array(data, max_bytes=len(data))
    assert back.dtype == array.dtype.newbyteorder("<") and back.shape == array.shape
    assert back.tobytes() == array.astype(back.dtype).tobytes()
    assert sealing.canonical_array_bytes(back) == data
    with pytest.raises(IntegrityError):
        sealing.parse_canonical_array(data[:-1], max_bytes=len(data))


# ----------------------------------------------------------------------------- golden files


def _golden_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(GOLDEN_SEED).digest())


def _write_golden(path: Path) -> None:
    record.write_fingerprint(
        path,
        private_key=_golden_key(),
        created_at=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        random_bytes=counter_random(GOLDEN_SEED),
        tools=GOLDEN_TOOLS,
        **_inputs(0),
    )


def test_golden_file_is_byte_stable(tmp_path: Path) -> None:
    golden = DATA / f"fingerprint_v{mgf_layout.FORMAT_VERSION}.mgf"
    if UPDATE:
        DATA.mkdir(exist_ok=True)
        golden.unlink(missing_ok=True)
        _write_golden(golden)
        (DATA / "fingerprint_golden.pub").write_bytes(
            _golden_key()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    _write_golden(tmp_path / "fresh.mgf")
    assert (tmp_path / "fresh.mgf").read_bytes() == golden.read_bytes(), (
        "The fingerprint format changed. If intended, bump FORMAT_VERSION when old readers "
        "would break, then run MODELGIF_UPDATE_GOLDEN=1 pytest tests/fingerprint/test_record.py"
    )


@pytest.mark.parametrize("fixture", sorted(DATA.glob("fingerprint_v*.mgf")), ids=lambda p: p.name)
def test_compatibility_fixtures_still_load_and_verify(fixture: Path) -> None:
    public = keys.load_public_key(DATA / "fingerprint_golden.pub")
    fp = record.load_fingerprint(fixture, public)
    assert fp.created_at == "2025-01-01T12:00:00Z"
    assert fp.config == _inputs(0)["config"]
    np.testing.assert_array_equal(fp.arrays["sketch"], _inputs(0)["arrays"]["sketch"])
    np.testing.assert_array_equal(fp.decrypt_anchors(_golden_key()), _inputs(0)["anchors"])
