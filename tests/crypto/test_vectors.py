"""Known-answer tests: modelgif's own KDF and keystream functions against the RFC vectors.

Why: every fingerprint's keys and anchors come out of these two functions; a wrong parameter
(a swapped salt and info, a nonce laid out the other way round) would still look random and
still round-trip, so only published vectors can show that they compute the standard thing.
"""

from __future__ import annotations

import pytest

from modelgif.crypto.kdf import hkdf_sha256
from modelgif.crypto.keystream import chacha20_keystream
from modelgif.errors import InputError


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5869, Appendix A.1-A.3 (HKDF-SHA256): (IKM, salt, info, L, OKM)
RFC5869 = {
    "case 1": (
        bytes([0x0B] * 22),
        _hex("000102030405060708090a0b0c"),
        _hex("f0f1f2f3f4f5f6f7f8f9"),
        42,
        _hex(
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        ),
    ),
    "case 2": (
        bytes(range(0x00, 0x50)),
        bytes(range(0x60, 0xB0)),
        bytes(range(0xB0, 0x100)),
        82,
        _hex(
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87"
        ),
    ),
    "case 3": (
        bytes([0x0B] * 22),
        b"",
        b"",
        42,
        _hex(
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(RFC5869))
def test_hkdf_sha256_matches_rfc5869(case: str) -> None:
    ikm, salt, info, length, okm = RFC5869[case]
    assert hkdf_sha256(ikm, info, length, salt=salt) == okm


def test_hkdf_without_salt_is_the_zero_salt() -> None:
    # RFC 5869 section 2.2: a missing salt is HashLen zero bytes (what case 3 relies on).
    ikm, _, info, length, _ = RFC5869["case 1"]
    assert hkdf_sha256(ikm, info, length) == hkdf_sha256(ikm, info, length, salt=bytes(32))
    assert hkdf_sha256(ikm, info, length) != hkdf_sha256(ikm, info, length, salt=bytes(31) + b"1")


@pytest.mark.parametrize("length", [0, 255 * 32 + 1])
def test_hkdf_refuses_lengths_outside_the_rfc(length: int) -> None:
    with pytest.raises(InputError, match="HKDF-SHA256 gives 1 to 8160 bytes"):
        hkdf_sha256(b"k", b"i", length)


# RFC 8439 section 2.4.2: key 00..1f, nonce 00:00:00:00:00:00:00:4a:00:00:00:00, counter 1.
RFC8439_KEY = bytes(range(32))
RFC8439_NONCE = _hex("000000000000004a00000000")
RFC8439_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    b"future, sunscreen would be it."
)
RFC8439_CIPHERTEXT = _hex(
    """
    6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81 e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
    f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57 16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
    07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e 52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
    5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42 87 4d
    """
)


def test_chacha20_keystream_matches_rfc8439() -> None:
    counter = (1).to_bytes(4, "little")
    stream = chacha20_keystream(RFC8439_KEY, counter + RFC8439_NONCE, len(RFC8439_PLAINTEXT))
    ciphertext = bytes(p ^ s for p, s in zip(RFC8439_PLAINTEXT, stream, strict=True))
    assert ciphertext == RFC8439_CIPHERTEXT


def test_chacha20_block_counter_continues_the_stream() -> None:
    # Block 2 of the stream at counter 1 is block 1 of the stream started at counter 2.
    nonce = RFC8439_NONCE
    long = chacha20_keystream(RFC8439_KEY, (1).to_bytes(4, "little") + nonce, 128)
    assert chacha20_keystream(RFC8439_KEY, (2).to_bytes(4, "little") + nonce, 64) == long[64:]
