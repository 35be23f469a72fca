"""`modelgif report`: verdicts -> a signed evidence bundle; `modelgif report verify`: check one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output_folder
from modelgif.cli.common import add_force_argument, add_key_arguments, owner_key, paragraph
from modelgif.cli.output import emit
from modelgif.errors import InputError
from modelgif.reports.evidence import BUNDLE_FILES
from modelgif.workflows.report import RecomputedMismatch, verify_report, write_report

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif report fine-tune.json extraction.json --key owner.key -o case-17/
  modelgif report fine-tune.json --key owner.key -o case-17/ --pdf   # also report.pdf
  modelgif report fine-tune.json --key expert.key --pub owner.pub -o case-17/ --force
  modelgif report verify case-17/ --pub owner.pub
  modelgif report verify case-17/ --pub owner.pub --files suspect.onnx fine-tune.json
  modelgif report verify case-17/ --pub owner.pub --reveal model.reveal \\
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
        description=paragraph(
            "Turn verdict files (from `modelgif verify --json -o` or "
        "`modelgif audit-unlearning`) into evidence others can check; or, as "
        "`modelgif report verify DIR --pub KEY.pub`, check such a bundle."),
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
    bundle = write_report(args.items, key=key, output=args.output, verdict_key=args.pub,
                          case_id=args.case_id, title=args.title, scope=args.scope,
                          force=args.force, pdf=args.pdf)
    text = f"report written: {bundle.html}\nevidence:       {bundle.evidence}"
    if bundle.pdf is not None:
        text += f"\npdf:            {bundle.pdf}"
    emit(bundle.to_dict(), args.json, text)
    return 0


def _verify(args: argparse.Namespace) -> int:
    if len(args.items) != 2 or args.pub is None:
        raise InputError("usage: modelgif report verify DIR --pub KEY.pub [--files FILE ...]")
    try:
        check = verify_report(args.items[1], key=args.pub, files=args.files,
                              reveal=args.reveal)
    except RecomputedMismatch as mismatch:
        emit(mismatch.summary, args.json, "\n".join(
            f"MISMATCH {r['suspect']}: reported {r['quantity']} {r['reported']:.6g} "
            f"({r['decision_reported']}), recomputed {r['recomputed']:.6g} "
            f"({r['decision_recomputed']})" for r in mismatch.mismatches))
        raise
    summary = check.to_dict()
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
