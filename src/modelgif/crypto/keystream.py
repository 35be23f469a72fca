"""Deterministic keyed random streams: one secret, many independent purposes.

Why: anchors and sketch directions must be reproducible bit for bit from the owner's secret
(so a verifier can rebuild them) and unpredictable without it (so a thief cannot regularise
against them). Python's `random` and numpy's global state are neither keyed nor stable, and
numpy's `Generator` distribution methods may change their streams between releases. So each
purpose gets its own key and nonce by HKDF-SHA256 (kdf.py) from the secret, they drive a
ChaCha20 keystream (RFC 8439, cryptography's implementation: a cryptographic PRF), and every
distribution below is computed from raw stream bytes by fixed arithmetic in this file: the
same secret gives the same numbers on any machine and any numpy version.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms

from modelgif.crypto.kdf import hkdf_sha256
from modelgif.errors import InputError

__all__ = ["SECRET_BYTES", "KeyStream", "chacha20_keystream"]

SECRET_BYTES = 32
_DOMAIN = b"modelgif/v1/"


def chacha20_keystream(key: bytes, nonce: bytes, n: int) -> bytes:
    """`n` bytes of ChaCha20 keystream; `nonce` is cryptography's 16 bytes: counter || nonce.

    The first 4 bytes are the little-endian initial block counter and the last 12 the RFC 8439
    nonce (so RFC 8439's vectors are reproducible). KeyStream uses HKDF output for all 16.
    """
    return _chacha20(key, nonce).update(b"\x00" * n)


def _chacha20(key: bytes, nonce: bytes) -> CipherContext:
    return Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()


def _length(value: object) -> str:
    return str(len(value)) if isinstance(value, bytes | bytearray | str) else "?"


def _check_secret(secret: bytes) -> bytes:
    if not isinstance(secret, bytes | bytearray) or len(secret) != SECRET_BYTES:
        raise InputError(
            f"The secret must be {SECRET_BYTES} bytes (256 bits). "
            f"Got a {type(secret).__name__} of length {_length(secret)}."
        )
    return bytes(secret)


class KeyStream:
    """A keyed stream of bytes and numbers for one purpose, derived from a 256-bit secret.

    Streams with different `purpose` strings are independent; reading from one never shifts
    another. Not thread-safe (it is a cursor).
    """

    def __init__(self, secret: bytes, purpose: str) -> None:
        material = hkdf_sha256(_check_secret(secret), _DOMAIN + purpose.encode(), 48)
        self._secret = bytes(secret)
        self.purpose = purpose
        self._encryptor = _chacha20(material[:32], material[32:48])

    def child(self, purpose: str) -> KeyStream:
        """An independent stream for a sub-purpose (e.g. one per anchor kind)."""
        return KeyStream(self._secret, f"{self.purpose}/{purpose}")

    def bytes(self, n: int) -> bytes:
        """The next `n` keystream bytes."""
        return self._encryptor.update(b"\x00" * n)

    def uint64(self, n: int) -> np.ndarray:
        """`n` uniform 64-bit unsigned integers."""
        return np.frombuffer(self.bytes(8 * n), dtype="<u8").astype(np.uint64)

    def uniform(self, n: int) -> np.ndarray:
        """`n` float64 numbers uniform in [0, 1), 53 bits each."""
        return (self.uint64(n) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def normal(self, n: int) -> np.ndarray:
        """`n` standard normal float64 numbers (Box-Muller on the uniform stream)."""
        half = (n + 1) // 2
        u1 = 1.0 - self.uniform(half)  # in (0, 1]: log is finite
        u2 = self.uniform(half)
        radius = np.sqrt(-2.0 * np.log(u1))
        z = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])
        return z[:n]

    def rademacher(self, n: int) -> np.ndarray:
        """`n` independent signs (+1.0 / -1.0)."""
        bits = np.unpackbits(np.frombuffer(self.bytes((n + 7) // 8), dtype=np.uint8))[:n]
        return bits.astype(np.float64) * 2.0 - 1.0

    def integers(self, n: int, high: int) -> np.ndarray:
        """`n` integers uniform in [0, high), without modulo bias (rejection sampling)."""
        if high < 1:
            raise InputError(f"integers() needs high >= 1. Got {high}.")
        limit = np.uint64((1 << 64) - ((1 << 64) % high) - 1) if (1 << 64) % high else None
        out: list[np.ndarray] = []
        remaining = n
        while remaining > 0:
            draw = self.uint64(remaining + 8)
            if limit is not None:
                draw = draw[draw <= limit]
            draw = draw[:remaining]
            out.append((draw % np.uint64(high)).astype(np.int64))
            remaining -= len(draw)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def permutation(self, n: int) -> np.ndarray:
        """A uniform random permutation of range(n)."""
        return self.choice(n, n)

    def choice(self, n: int, k: int) -> np.ndarray:
        """`k` distinct indices from range(n), in a secret order."""
        if not 0 <= k <= n:
            raise InputError(f"Cannot choose {k} distinct items from {n}.")
        # Sort by random 64-bit keys: a uniform permutation up to (negligible) key collisions,
        # O(n log n) instead of a Python-level Fisher-Yates loop on large pools.
        keys = self.uint64(n)
        return np.argsort(keys, kind="stable")[:k].astype(np.int64)
