"""modelgif.crypto: every key, derivation, cipher and signature of modelgif, in one package.

Why one package: a reviewer checking a forensic tool's cryptography should read one place.
Only the `cryptography` library's primitives are used (HKDF-SHA256, ChaCha20, AES-256-GCM,
Ed25519, ECDSA P-256); the known-answer tests in tests/crypto check them against the RFCs
through modelgif's own functions.

The key hierarchy (kdf.py):

    owner key (keys.py: Ed25519 or ECDSA P-256, PEM file, mode 0600)
      │  HKDF-SHA256, salt = fingerprint id (16 random bytes, public, one per fingerprint)
      ├── anchor secret   (never leaves the owner)
      │     └── keystream.py "anchors/..."  ──>  the secret anchors (fingerprint/anchors.py)
      └── anchor key      (revealable: opens this one fingerprint, nothing else)
            ├── sealing key: AES-256-GCM seals the anchors into the .mgf (sealing.py)
            └── HKDF-SHA256 ──> sketch secret
                  └── keystream.py "sketch/..."  ──>  the secret projection (fingerprint/sketch.py)

    signing.py: the owner key signs DSSE envelopes over in-toto statements (fingerprints,
    calibrations, verdicts, evidence); ECDSA signatures are low-S only.

keystream.py turns one 32-byte secret into independent, reproducible streams per purpose
(HKDF-SHA256 -> ChaCha20 key and nonce).
"""

from modelgif.crypto import kdf, keys, keystream, sealing, signing

__all__ = ["kdf", "keys", "keystream", "sealing", "signing"]
