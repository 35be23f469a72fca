"""`modelgif report`: verdicts -> a signed evidence bundle; `modelgif report verify`: check one."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output_folder
from modelgif.cli.common import add_force_argument, add_key_arguments, owner_key
from modelgif.cli.output import emit
from modelgif.crypto.keys import load_public_key
from modelgif.errors import InputError
from modelgif.fingerprint.reveal import read_reveal
from modelgif.reports.evidence import BUNDLE_FILES, verify_bundle, write_report
from modelgif.reports.recheck import recheck_ownership
from modelgif.safe_read import open_regular, read_json
from modelgif.scan.records import expand_scan_files

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif report fine-tune.json extraction.json --key owner.key -o case-17/
  modelgif report fine-tune.json --key owner.key -o case-17/ --pdf   # also report.pdf
  modelgif report fine-tune.json --key expert.key --pub owner.pub -o case-17/ --force
  modelgif report verify case-17/ --pub owner.pub
  modelgif report verify case-17/ --pub owner.pub --files suspect.onnx fine-tune.json
  modelgif report verify case-17/ --pub owner.pub --reveal model.reveal \
      --files model.mgf suspect.onnx           # re-compute the numbers, no private key

Writes DIR/evidence.json (canonical JSON: the signed source of truth), DIR/evidence.sig.json
(its DSSE envelope) and DIR/report.html (one offline page: no script, no network request);
with --pdf also DIR/report.pdf, the same page printed by Chromium (Debian package
`chromium`). The sha256 of report.html and report.pdf are signed in evidence.json. Every
verdict file must be signed (by --key, or by the key given with --pub) and well formed; an
edited or foreign one is refused. An existing DIR is replaced, whole, only with --force.
`report verify` checks the signature, that evidence.json is exactly what was signed, that
report.html and report.pdf are the files whose sha256 was signed, and re-hashes any files
given with --files (and the external-data files of the models among them). Exit 0 when
everything verifies, 2 otherwise.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write a signed evidence bundle and HTML report from verdict files (or verify one)",
        description="Turn verdict files (from `modelgif verify --json -o` or "
        "`modelgif audit-unlearning`) into evidence others can check; or, as "
        "`modelgif report verify DIR --pub KEY.pub`, check such a bundle.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("items", nargs="+", metavar="VERDICT.json | verify DIR",
                        help="verdict files; or the word 'verify' and a report folder")
    add_key_arguments(parser, required=False)
    parser.add_argument("--pub", type=Path, help="the signer's public key (verify: of the "
                        "bundle; report: of the verdict files, default the --key's own)")
    parser.add_argument("-o", "--output", type=Path, help="the report folder to write")
    add_force_argument(parser, "report folder")
    parser.add_argument("--case-id", default="case-1", help="case identifier")
    parser.add_argument("--title", default="modelgif forensic report", help="report title")
    parser.add_argument("--scope", default="Comparison of suspect models with the owner's "
                        "fingerprint.", help="one sentence: what was examined and why")
    parser.add_argument("--files", nargs="*", type=Path, default=[],
                        help="(verify) local files to re-hash against the evidence table")
    parser.add_argument("--reveal", type=Path, metavar="FILE.reveal",
                        help="(verify) re-compute every ownership statistic from --files "
                        "(fingerprint and suspects) with this reveal, not the private key")
    parser.add_argument("--pdf", action="store_true", help="also write report.pdf (the same "
                        "page printed by Chromium; Debian: apt-get install chromium)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.items[0] == "verify":
        return _verify(args)
    if args.key is None or args.output is None:
        raise InputError("`modelgif report` needs --key (to sign) and -o DIR.")
    check_output_folder(args.output, list(BUNDLE_FILES), args.force)
    key = owner_key(args)
    verdict_key = load_public_key(args.pub) if args.pub else None
    verdicts = expand_scan_files([Path(p) for p in args.items], args.output, key, args.force)
    bundle = write_report(verdicts, key, args.output,
                          case_id=args.case_id, title=args.title, scope=args.scope,
                          verdict_key=verdict_key, force=args.force, pdf=args.pdf)
    paths = {"evidence": str(bundle.evidence), "signature": str(bundle.signature),
             "html": str(bundle.html)}
    text = f"report written: {bundle.html}\nevidence:       {bundle.evidence}"
    if bundle.pdf is not None:
        paths["pdf"] = str(bundle.pdf)
        text += f"\npdf:            {bundle.pdf}"
    emit(paths, args.json, text)
    return 0


def _verify(args: argparse.Namespace) -> int:
    if len(args.items) != 2 or args.pub is None:
        raise InputError("usage: modelgif report verify DIR --pub KEY.pub [--files FILE ...]")
    files = {path.name: path for path in args.files}
    os.close(open_regular(args.pub, "public key"))
    public_key = load_public_key(args.pub)
    folder = Path(args.items[1])
    summary = verify_bundle(folder, public_key, files)
    if args.reveal is not None:
        statement = read_json(folder / "evidence.json", 64 << 20, "evidence file")
        rows = recheck_ownership(statement, public_key, read_reveal(args.reveal), args.files)
        summary["recomputed"] = rows
        if not all(row["match"] for row in rows):
            emit(summary, args.json, "\n".join(
                f"MISMATCH {r['suspect']}: reported {r['quantity']} {r['reported']:.6g} "
                f"({r['decision_reported']}), recomputed {r['recomputed']:.6g} "
                f"({r['decision_recomputed']})" for r in rows if not r["match"]))
            raise InputError("The recomputed numbers do not match the report.")
    decisions = ", ".join(f"{k}: {v}" for k, v in summary["decisions"].items())
    recomputed = len(summary.get("recomputed", []))
    pages = " and ".join(n for n in ("report.html", "report.pdf")
                         if summary.get(n.replace(".", "_")) == "matches the signed sha256")
    pages = f"{pages} as signed" if pages else f"report.html {summary['report_html']}"
    emit(summary, args.json, f"report verified (signed by {summary['signed_by'][:16]}); "
         f"{pages}; "
         f"{len(summary['files_rehashed'])} file(s) re-hashed; {recomputed} verdict(s) "
         f"recomputed and matching; {decisions}")
    return 0
