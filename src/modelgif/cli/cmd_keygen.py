"""`modelgif keygen`: create an owner key pair (NAME.key, NAME.pub).

Why a command of its own: the key is the owner's identity in every later claim, so making it
right (0600, optionally passphrase-encrypted, never overwriting) should take one line.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelgif.cli.common import PASSPHRASE_ENV, paragraph, read_passphrase
from modelgif.cli.output import printable
from modelgif.crypto.keys import KEY_TYPES, generate_key, keyid, save_keypair

__all__ = ["register", "run"]

EPILOG = f"""\
examples:
  modelgif keygen --out owner                  owner.key (0600) and owner.pub, Ed25519
  modelgif keygen --out owner --passphrase     encrypt owner.key (prompts twice)
  {PASSPHRASE_ENV}=... modelgif keygen --out ci --type ecdsa-p256 --passphrase

Keep NAME.key secret and backed up: it signs your fingerprints and derives their secret
anchors. Give NAME.pub to anyone who should verify them.
"""


def register(subparsers: Any) -> None:
    """Add the `keygen` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keygen",
        help="create an owner key pair (NAME.key, NAME.pub)",
        description=paragraph(
            "Create a signing key pair: NAME.key (private, PEM, mode 0600) and "
        "NAME.pub (public, PEM). Ed25519 by default; ECDSA P-256 for interoperability "
        "with OpenSSF model-signing keys. Prints the keyid (sha256 of the public key)."),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, metavar="NAME", help="writes NAME.key, NAME.pub")
    parser.add_argument(
        "--type", dest="key_type", choices=KEY_TYPES, default="ed25519", help="key type"
    )
    parser.add_argument(
        "--passphrase",
        action="store_true",
        help=f"encrypt NAME.key with a passphrase (from ${PASSPHRASE_ENV}, else prompted)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate, save, print the paths and keyid."""
    passphrase = read_passphrase(confirm=True) if args.passphrase else None
    key = generate_key(args.key_type)
    private_path, public_path = save_keypair(key, args.out, passphrase)
    print(f"private key: {printable(private_path)} (keep secret)")
    print(f"public key:  {printable(public_path)}")
    print(f"keyid:       {keyid(key)}")
    return 0
