"""Owner keys: PEM round trips, 0600 private files, passphrases, keyid, clear errors."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from modelgif.crypto import keys
from modelgif.errors import InputError


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
def test_save_and_load_round_trip(tmp_path: Path, kind: str) -> None:
    key = keys.generate_key(kind)
    private_path, public_path = keys.save_keypair(key, tmp_path / "owner")
    assert (private_path.name, public_path.name) == ("owner.key", "owner.pub")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    loaded = keys.load_private_key(private_path)
    public = keys.load_public_key(public_path)
    assert keys.key_type(loaded) == kind
    assert keys.keyid(loaded) == keys.keyid(key) == keys.keyid(public)
    assert keys.private_key_material(loaded) == keys.private_key_material(key)
    assert len(keys.private_key_material(key)) == 32


def test_keyid_is_sha256_of_der_spki() -> None:
    key = keys.generate_key("ed25519")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert keys.keyid(key) == hashlib.sha256(der).hexdigest()
    assert keys.keyid(key) != keys.keyid(keys.generate_key("ed25519"))


def test_encrypted_key_needs_the_right_passphrase(tmp_path: Path) -> None:
    key = keys.generate_key("ecdsa-p256")
    private_path, _ = keys.save_keypair(key, tmp_path / "owner", passphrase="correct horse")
    assert b"ENCRYPTED" in private_path.read_bytes()
    assert keys.keyid(keys.load_private_key(private_path, "correct horse")) == keys.keyid(key)
    with pytest.raises(InputError, match="wrong passphrase"):
        keys.load_private_key(private_path, "battery staple")
    with pytest.raises(InputError, match="is encrypted"):
        keys.load_private_key(private_path)


def test_passphrase_given_for_a_plain_key(tmp_path: Path) -> None:
    private_path, _ = keys.save_keypair(keys.generate_key(), tmp_path / "owner")
    with pytest.raises(InputError, match="not encrypted"):
        keys.load_private_key(private_path, "secret")


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    keys.save_keypair(keys.generate_key(), tmp_path / "owner")
    before = (tmp_path / "owner.key").read_bytes()
    with pytest.raises(InputError, match="already exists"):
        keys.save_keypair(keys.generate_key(), tmp_path / "owner")
    assert (tmp_path / "owner.key").read_bytes() == before


def test_garbage_and_oversized_files_are_input_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    garbage.chmod(0o600)
    with pytest.raises(InputError, match="not a PEM private key"):
        keys.load_private_key(garbage)
    with pytest.raises(InputError, match="not a PEM public key"):
        keys.load_public_key(garbage)
    huge = tmp_path / "huge.key"
    huge.write_bytes(b"A" * (keys.MAX_KEY_FILE_BYTES + 1))
    huge.chmod(0o600)
    with pytest.raises(InputError, match="larger than"):
        keys.load_private_key(huge)
    with pytest.raises(InputError, match="Cannot read"):
        keys.load_private_key(tmp_path / "missing.key")


def test_other_key_types_are_refused(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p384 = ec.generate_private_key(ec.SECP384R1())
    for index, other in enumerate([rsa_key, p384]):
        path = tmp_path / f"other{index}.key"
        path.write_bytes(
            other.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        with pytest.raises(InputError, match="Ed25519 or ECDSA P-256"):
            keys.load_private_key(path)
    with pytest.raises(InputError):
        keys.generate_key("rsa")
    assert keys.key_type(ed25519.Ed25519PrivateKey.generate().public_key()) == "ed25519"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_private_key_readable_by_others_is_refused(
    tmp_path: Path, mode: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(keys.ALLOW_OPEN_KEY_ENV, raising=False)
    private_path, public_path = keys.save_keypair(keys.generate_key(), tmp_path / "owner")
    private_path.chmod(mode)
    with pytest.raises(InputError) as caught:
        keys.load_private_key(private_path)
    message = str(caught.value)
    assert f"chmod 600 {private_path}" in message and "\n" not in message
    assert f"mode {mode:04o}" in message
    keys.load_public_key(public_path)  # a public key may be world-readable
    private_path.chmod(0o600)
    keys.load_private_key(private_path)


def test_open_private_key_override_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = keys.generate_key()
    private_path, _ = keys.save_keypair(key, tmp_path / "owner")
    private_path.chmod(0o644)
    monkeypatch.setenv(keys.ALLOW_OPEN_KEY_ENV, "yes")  # only "1" counts
    with pytest.raises(InputError, match="chmod 600"):
        keys.load_private_key(private_path)
    monkeypatch.setenv(keys.ALLOW_OPEN_KEY_ENV, "1")
    with caplog.at_level("WARNING", logger="modelgif.crypto.keys"):
        loaded = keys.load_private_key(private_path)
    assert keys.keyid(loaded) == keys.keyid(key)
    assert "readable by group or others" in caplog.text
