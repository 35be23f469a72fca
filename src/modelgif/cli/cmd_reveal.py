"""`modelgif reveal`: export one fingerprint's anchor key for a third party.

Why: in a dispute an arbiter may need the secret anchors. A reveal file opens exactly one
fingerprint (its anchors decrypt and are checked against the signed commitment), and nothing
else: not the owner's other fingerprints, not the private key.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli.common import (
    PASSPHRASE_ENV,
    add_force_argument,
    add_key_arguments,
    owner_key,
    paragraph,
)
from modelgif.cli.output import printable
from modelgif.fingerprint.record import load_fingerprint
from modelgif.fingerprint.reveal import write_reveal

__all__ = ["register", "run"]

EPILOG = f"""\
examples:
  modelgif reveal model.mgf --key owner.key -o model.mgf.reveal
  {PASSPHRASE_ENV}=... modelgif reveal model.mgf --key owner.key --passphrase -o r.reveal

Anyone holding the reveal file can decrypt THIS fingerprint's anchors. Once revealed, these
anchors are no longer secret: fingerprint the model again (new anchors) for future claims.
"""


def register(subparsers: Any) -> None:
    """Add the `reveal` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reveal",
        help="export one fingerprint's anchor key (for an arbiter)",
        description=paragraph(
            "Verify FILE with the owner's key, then write a small JSON reveal file "
        "holding the fingerprint id and its anchor key, so a third party can decrypt the "
        "anchors and check them against the signed commitment without the private key."),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="fingerprint file (.mgf)")
    add_key_arguments(parser)
    parser.add_argument("-o", "--out", required=True, metavar="FILE.reveal", help="output")
    add_force_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the key, verify the fingerprint with it, write the reveal."""
    check_output(args.out, args.force)
    key = owner_key(args)
    fingerprint = load_fingerprint(args.file, key.public_key())
    path = write_reveal(fingerprint, key, args.out, args.force)
    print(f"wrote {printable(path)}: it opens the anchors of fingerprint "
          f"{fingerprint.fingerprint_id.hex()}")
    return 0
