"""`modelgif inspect`: show a fingerprint's public metadata and its signature status.

Why: before trusting (or sharing) a fingerprint, one wants to see what it claims (model
digests, config, creation time, signer) and whether the claim verifies. The anchors are never
shown: they are encrypted in the file and stay so here.

Signature status: "verified" (checked with --pub), "not checked" (no --pub given),
"INVALID" (checked and failed; exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from modelgif.errors import IntegrityError
from modelgif.fingerprint.keys import load_public_key
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
        description="Print the public metadata of a fingerprint file (model digests, config "
        "echo, arrays, anchor commitment, tool versions, signer keyid) and its signature "
        "status. With --pub the signature and every digest are checked. Never prints anchors.",
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
    print(f"file:           {report['file']}")
    print(f"signature:      {report['signature']}")
    if "fingerprint_id" not in report:
        return
    model, original = report["subject"]
    print(f"fingerprint id: {report['fingerprint_id']}")
    print(f"signer keyid:   {report['keyid']}")
    print(f"created at:     {report['created_at']}")
    print(f"model:          sha256:{model['digest']['sha256']} (normalized)")
    print(f"original file:  {original['name']} sha256:{original['digest']['sha256']}")
    print(
        f"anchors:        commitment sha256:{report['anchors']['commitment']['sha256']} "
        f"({report['anchors']['cipher']}, sealed {report['anchors']['sealed']['nbytes']} B)"
    )
    for name, info in report["arrays"].items():
        print(f"array:          {name} {info['dtype']} {tuple(info['shape'])}")
    tools = ", ".join(f"{k} {v}" for k, v in sorted(report["tools"].items()))
    print(f"tools:          {tools}")
    print("config:")
    print(json.dumps(report["config"], indent=2, sort_keys=True))


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
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print_human(report)
    if code:
        print(f"modelgif: error: {args.file}: signature INVALID", file=sys.stderr)
    return code
