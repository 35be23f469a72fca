"""The owner's key as every workflow takes it: a loaded key, or a key file and its passphrase.

Why one helper: every workflow accepts both forms, and a key file is hostile input like any
other; crypto.keys reads it bounded, as a regular file (a FIFO never blocks) holding one PEM
block, with its mode checked. Asking for a passphrase is the caller's business (the CLI
prompts or reads $MODELGIF_KEY_PASSPHRASE); a workflow only ever receives it.
"""

from __future__ import annotations

import os

from modelgif.crypto.keys import (
    Passphrase,
    PrivateKey,
    PublicKey,
    load_private_key,
    load_public_key,
)

__all__ = ["KeySource", "PublicKeySource", "owner_key", "public_key"]

KeySource = PrivateKey | str | os.PathLike[str]
PublicKeySource = PublicKey | str | os.PathLike[str]


def owner_key(key: KeySource, passphrase: Passphrase = None) -> PrivateKey:
    """`key` itself when already loaded, else the private key read from that file."""
    if not isinstance(key, str | os.PathLike):
        return key
    return load_private_key(key, passphrase)


def public_key(key: PublicKeySource) -> PublicKey:
    """`key` itself when already loaded, else the public key read from that file."""
    if not isinstance(key, str | os.PathLike):
        return key
    return load_public_key(key)
