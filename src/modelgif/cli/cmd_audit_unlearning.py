"""`modelgif audit-unlearning`: did the claimed model really forget the forget set?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output
from modelgif.cli.common import add_force_argument, add_key_arguments, command_line, owner_key
from modelgif.cli.output import emit
from modelgif.workflows.audit import audit_unlearning

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif audit-unlearning --original m0.onnx --unlearned mu.onnx --forget forget.npy \\
      --key auditor.key
  modelgif audit-unlearning --original m0.onnx --unlearned mu.onnx --forget forget.npy \\
      --retain retain.npy --reference r1.onnx r2.onnx r3.onnx r4.onnx r5.onnx \\
      --key auditor.key --json -o audit.json --fail-on not-forgotten

At secret anchors drawn from the forget set, the claimed model's field (for its own top-1
class) is compared with the original's field for the same class. Reference models, retrained
WITHOUT the forget set, show how far honest forgetting moves; the claimed model is 'not
forgotten' when it stays significantly closer to the original than they do. Without
references the audit is conservative: only an unchanged field is conclusive.

exit codes: 0 a verdict was reached; 1 with --fail-on not-forgotten and that verdict;
2 error or unusable input.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "audit-unlearning", help="verify or refute a claimed unlearning",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original", type=Path, required=True, help="model before unlearning")
    parser.add_argument("--unlearned", type=Path, required=True, help="the claimed model")
    parser.add_argument("--forget", type=Path, required=True, metavar="FORGET.npy",
                        help="inputs that were to be forgotten (.npy/.npz)")
    parser.add_argument("--retain", type=Path, metavar="RETAIN.npy", help="retained inputs")
    parser.add_argument("--reference", type=Path, nargs="*", default=[],
                        help="models retrained without the forget set (5 or more)")
    add_key_arguments(parser)
    parser.add_argument("--anchors-count", type=int, default=64)
    parser.add_argument("--target-fpr", type=float, default=0.01,
                        help="rate of wrongly saying 'not forgotten' to an honest unlearner, "
                        "per test (forget data; retained data when --retain): default 0.01")
    parser.add_argument("--fail-on", choices=["not-forgotten"])
    parser.add_argument("-o", "--output", type=Path, metavar="VERDICT.json",
                        help="also write the verdict record, signed with --key")
    add_force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the verdict record as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output:
        check_output(args.output, args.force)
    key = owner_key(args)
    result = audit_unlearning(original=args.original, unlearned=args.unlearned,
                              forget=args.forget, key=key, retain=args.retain,
                              references=args.reference, anchors_count=args.anchors_count,
                              target_fpr=args.target_fpr, command=command_line(args),
                              output=args.output, force=args.force)
    verdict = result.verdict
    lines = [f"{args.unlearned.name}: {verdict.decision.upper()}",
             f"  field similarity to the original on forget data "
             f"{verdict.forget_similarity:.3f}"]
    if verdict.reference_forget_similarity:
        sims = verdict.reference_forget_similarity
        lines.append(f"  retrained references: {min(sims):.3f} .. {max(sims):.3f}; "
                     f"T = {verdict.test.statistic:.3g} (threshold {verdict.test.threshold:.3g})")
    lines += [f"  rests on: {note}" for note in verdict.rests_on]
    emit(result.to_dict(), args.json, "\n".join(lines))
    failing = args.fail_on == "not-forgotten" and verdict.decision == "not forgotten"
    return 1 if failing else 0
