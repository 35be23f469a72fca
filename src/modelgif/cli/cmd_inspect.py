"""`modelgif inspect`: show a fingerprint's public metadata and its signature status.

Why: before trusting (or sharing) a fingerprint, one wants to see what it claims (model
digests, config, creation time, signer) and whether the claim verifies. The anchors are never
shown: they are encrypted in the file and stay so here.

Signature status: "verified" (checked with --pub), "not checked" (no --pub given),
"INVALID" (checked and failed; exit code 2).

Every string from the file is printed escaped (cli.output.printable: ESC shows as \\x1b):
an unverified file is anyone's, and raw terminal control codes in its names could overwrite
the "signature INVALID" line with "verified". JSON output keeps every control character
\\u-escaped, so it decodes to the file's exact strings.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from modelgif.cli.common import paragraph
from modelgif.cli.output import printable, printable_json
from modelgif.crypto.keys import load_public_key
from modelgif.errors import IntegrityError
from modelgif.fingerprint.record import (
    Fingerprint,
    load_fingerprint,
    read_fingerprint_unverified,
)
from modelgif.safe_read import open_regular

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif inspect model.mgf                       metadata; signature "not checked"
  modelgif inspect model.mgf --pub owner.pub       and check the signature and digests
  modelgif inspect model.mgf --pub owner.pub --json | jq .signature

exit codes: 0 readable (and verified, with --pub); 2 INVALID signature or unreadable file
"""


def register(subparsers: Any) -> None:
    """Add the `inspect` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inspect",
        help="show a fingerprint's metadata and signature status",
        description=paragraph(
            "Print the public metadata of a fingerprint file (model digests, config "
        "echo, arrays, anchor commitment, tool versions, signer keyid) and its signature "
        "status. With --pub the signature and every digest are checked. Never prints anchors."),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="fingerprint file (.mgf)")
    parser.add_argument("--pub", metavar="NAME.pub", help="owner public key to verify with")
    parser.add_argument("--json", action="store_true", help="print pure JSON on stdout")
    parser.set_defaults(func=run)


def _describe(path: str, status: str, fingerprint: Fingerprint | None) -> dict[str, Any]:
    report: dict[str, Any] = {"file": path, "signature": status}
    if fingerprint is not None:
        report.update(fingerprint.public_metadata())
    return report


def _print_human(report: dict[str, Any]) -> None:
    p = printable  # every value below may come from an unverified file
    print(f"file:           {p(report['file'])}")
    print(f"signature:      {p(report['signature'])}")
    if "fingerprint_id" not in report:
        return
    model, original = report["subject"]
    anchors = report["anchors"]
    print(f"fingerprint id: {p(report['fingerprint_id'])}")
    print(f"signer keyid:   {p(report['keyid'])}")
    print(f"created at:     {p(report['created_at'])}")
    print(f"model:          sha256:{p(model['digest']['sha256'])} (normalized)")
    print(f"original file:  {p(original['name'])} sha256:{p(original['digest']['sha256'])}")
    print(
        f"anchors:        commitment sha256:{p(anchors['commitment']['sha256'])} "
        f"({p(anchors.get('cipher'))}, sealed {p(anchors['sealed']['nbytes'])} B)"
    )
    for name, info in report["arrays"].items():
        print(f"array:          {p(name)} {p(info['dtype'])} {p(tuple(info['shape']))}")
    tools = ", ".join(f"{p(k)} {p(v)}" for k, v in sorted(report["tools"].items()))
    print(f"tools:          {tools}")
    print("config:")
    print(printable_json(report["config"]))


def run(args: argparse.Namespace) -> int:
    """Read (and with --pub verify) the file; print; exit 2 if the signature is INVALID."""
    code = 0
    if args.pub is None:
        status, fingerprint = "not checked", read_fingerprint_unverified(args.file)
    else:
        os.close(open_regular(args.pub, "public key"))
        public_key = load_public_key(args.pub)
        try:
            status, fingerprint = "verified", load_fingerprint(args.file, public_key)
        except IntegrityError:
            status, code = "INVALID", 2
            try:
                fingerprint = read_fingerprint_unverified(args.file)
            except IntegrityError:
                fingerprint = None
    report = _describe(args.file, status, fingerprint)
    if args.json:
        print(printable_json(report))
    else:
        _print_human(report)
    if code:
        print(f"modelgif: error: {printable(args.file)}: signature INVALID", file=sys.stderr)
    return code
