"""Owner keys: generate, save, load, and name them by a `keyid`.

Why this module: a forensic claim is only as good as the key behind it, so keys live in plain
PEM files every tool understands (openssl, OpenSSF model-signing, securesystemslib), the
private file is created 0600 in one step (never write-then-chmod, which leaves a window), and
loading fails with one clear InputError instead of a cryptography traceback.

    NAME.key   PKCS#8 PEM private key, optionally passphrase-encrypted (mode 0600)
    NAME.pub   SubjectPublicKeyInfo PEM public key
    keyid      sha256 hex of the public key's DER SubjectPublicKeyInfo

Ed25519 is the default (small, deterministic signatures: golden files stay byte-stable);
ECDSA P-256 is offered for interoperability with model-signing and cosign keys.

A private key file that group or others can read is refused (one line naming the fix,
`chmod 600 NAME.key`), not merely warned about: a warning scrolls past in a script, and
every fingerprint, calibration and verdict signed with a key that others could copy loses
its worth as evidence; refusing costs the owner one command. MODELGIF_ALLOW_OPEN_KEY=1 lets
a deliberate setup (a shared, access-controlled volume) go on, with a logged warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from modelgif.atomic_write import check_output, write_file
from modelgif.errors import InputError
from modelgif.safe_read import open_regular
from modelgif.validation import check_choice

__all__ = [
    "ALLOW_OPEN_KEY_ENV",
    "KEY_TYPES",
    "MAX_KEY_FILE_BYTES",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "generate_key",
    "key_type",
    "keyid",
    "load_private_key",
    "load_public_key",
    "private_key_material",
    "save_keypair",
]

KeyType = Literal["ed25519", "ecdsa-p256"]
KEY_TYPES: tuple[str, ...] = ("ed25519", "ecdsa-p256")
PrivateKey: TypeAlias = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

MAX_KEY_FILE_BYTES = 64 * 1024
"""A PEM key is well under 1 KiB; anything far larger is not a key and is not read."""

Passphrase: TypeAlias = str | bytes | None

ALLOW_OPEN_KEY_ENV = "MODELGIF_ALLOW_OPEN_KEY"
"""Set to 1 to use a private key file that group or others can read (see the docstring)."""

log = logging.getLogger(__name__)


def generate_key(kind: str = "ed25519") -> PrivateKey:
    """A fresh private key of type `kind` ("ed25519" or "ecdsa-p256")."""
    check_choice(kind, "kind", "generate_key()", KEY_TYPES)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def key_type(key: PrivateKey | PublicKey) -> KeyType:
    """The key's type, "ed25519" or "ecdsa-p256"; InputError for any other key."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ecdsa-p256"
    raise InputError(
        f"Unsupported key type {type(key).__name__}: modelgif uses Ed25519 or ECDSA P-256 keys."
    )


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    key_type(key)
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def keyid(key: PrivateKey | PublicKey) -> str:
    """sha256 hex of the DER SubjectPublicKeyInfo of `key` (or of its public half)."""
    der = _public(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def private_key_material(key: PrivateKey) -> bytes:
    """The raw secret: Ed25519's 32-byte seed or P-256's 32-byte big-endian scalar.

    Used only as HKDF input keying material (see sealing.py); never stored or logged.
    """
    if key_type(key) == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.private_numbers().private_value.to_bytes(32, "big")
    raise InputError("A private key is needed here, not a public key.")


def _as_bytes(passphrase: Passphrase) -> bytes | None:
    if passphrase is None:
        return None
    raw = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not raw:
        raise InputError("The passphrase must not be empty.")
    return raw


def save_keypair(
    private_key: PrivateKey, out: str | os.PathLike[str], passphrase: Passphrase = None
) -> tuple[Path, Path]:
    """Write OUT.key (0600, encrypted when `passphrase` is given) and OUT.pub.

    Returns (private path, public path). Refuses to overwrite either file.
    """
    key_type(private_key)
    secret = _as_bytes(passphrase)
    base = Path(out)
    private_path = base.with_name(base.name + ".key")
    public_path = base.with_name(base.name + ".pub")
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise InputError(f"{path} already exists; refusing to overwrite a key file.")
        check_output(path)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret)
        if secret is not None
        else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_file(private_path, private_pem, mode=0o600)
    write_file(public_path, public_pem, mode=0o644)
    return private_path, public_path


def _check_private_mode(fd: int, name: str) -> None:
    """Refuse a private key file readable by group or others (see the module docstring)."""
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if os.name != "posix" or not mode & 0o077:
        return
    if os.environ.get(ALLOW_OPEN_KEY_ENV) == "1":
        log.warning(
            "%s is readable by group or others (mode %04o); used anyway because %s=1.",
            name,
            mode,
            ALLOW_OPEN_KEY_ENV,
        )
        return
    raise InputError(
        f"{name} is readable by group or others (mode {mode:04o}): run `chmod 600 {name}` "
        f"(or set {ALLOW_OPEN_KEY_ENV}=1 to use it anyway)."
    )


def _read_bounded(path: str | os.PathLike[str], what: str, private: bool = False) -> bytes:
    """The key file's bytes: a regular file (a FIFO never blocks), bounded, one PEM block."""
    fd = open_regular(path, what)
    try:
        with os.fdopen(fd, "rb") as handle:
            if private:  # checked on the open file: no window between check and read
                _check_private_mode(handle.fileno(), os.fspath(path))
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise InputError(f"Cannot read {what} {os.fspath(path)}: {error.strerror}.") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InputError(
            f"{os.fspath(path)} is larger than {MAX_KEY_FILE_BYTES} bytes: not a {what}."
        )
    _check_one_pem_block(data, os.fspath(path), what)
    return data


def _check_one_pem_block(data: bytes, name: str, what: str) -> None:
    """Exactly one PEM block and nothing else: the PEM loader takes the first block and
    ignores the rest, so a file holding two keys would sign with whichever comes first."""
    begins = data.count(b"-----BEGIN ")
    body = data.strip()
    if begins != 1 or not body.startswith(b"-----BEGIN ") or not body.endswith(b"-----") \
            or body.count(b"-----END ") != 1:
        raise InputError(f"{name}: a {what} file must hold exactly one PEM block and nothing else.")


def load_private_key(path: str | os.PathLike[str], passphrase: Passphrase = None) -> PrivateKey:
    """Read a PEM private key; InputError on garbage, a wrong or missing passphrase, or a file
    that group or others can read (unless MODELGIF_ALLOW_OPEN_KEY=1)."""
    data = _read_bounded(path, "private key", private=True)
    secret = _as_bytes(passphrase)
    name = os.fspath(path)
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        if secret is None:
            raise InputError(
                f"{name} is encrypted: give its passphrase (--passphrase, or set "
                "MODELGIF_KEY_PASSPHRASE)."
            ) from None
        raise InputError(f"{name} is not encrypted: do not give a passphrase.") from None
    except Exception:  # cryptography raises several types for bad input
        raise InputError(
            f"Cannot load {name}: wrong passphrase, or not a PEM private key."
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise InputError(f"{name}: modelgif uses Ed25519 or ECDSA P-256 keys only.")
    key_type(key)
    return key


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """Read a PEM public key (NAME.pub); InputError on anything else."""
    data = _read_bounded(path, "public key")
    name = os.fspath(path)
    try:
        key = serialization.load_pem_public_key(data)
    except Exception:  # cryptography raises several types for bad input
        raise InputError(f"Cannot load {name}: not a PEM public key.") from None
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise InputError(f"{name}: modelgif uses Ed25519 or ECDSA P-256 keys only.")
    key_type(key)
    return key
