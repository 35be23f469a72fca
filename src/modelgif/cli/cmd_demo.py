"""`modelgif demo [--out DIR]`: the whole workflow on built-in data, with reports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from modelgif.atomic_write import check_output_folder
from modelgif.cli.common import add_force_argument
from modelgif.cli.output import emit
from modelgif.demo import run_demo

__all__ = ["register", "run"]

EPILOG = """\
example:
  modelgif demo --out modelgif-demo

Builds (once, then cached) the small model zoo from MNIST-1D and scikit-learn's digits, makes
an owner key, fingerprints a source model, calibrates on independent models, verifies a
fine-tune, an extraction, a quantized copy and a held-out independent, audits two claims of
unlearning (an honest retrain and a logit-masking cheat), and writes a signed evidence bundle
and an offline HTML report. A few minutes on 2 CPU cores.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="run the whole workflow on the built-in small zoo",
                            description=__doc__, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("modelgif-demo"),
                        help="folder for keys, fingerprint, verdicts and report "
                        "(default: ./modelgif-demo)")
    add_force_argument(parser, "demo folder (its files are replaced)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.force:
        check_output_folder(args.out, [])  # an existing, non-empty folder needs --force
    started = time.monotonic()

    def step(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr)

    result = run_demo(args.out, step)
    lines = [f"demo finished in {time.monotonic() - started:.0f} s; everything is in "
             f"{result.folder}/"]
    lines += [f"  {name:<40} {decision.upper()}" for name, (_, decision)
              in result.verdicts.items()]
    lines += [f"report:      {result.report.html}",
              f"evidence:    {result.report.evidence} (signed: {result.report.signature.name})",
              f"check it:    modelgif report verify {result.report.folder} --pub "
              f"{result.folder / 'owner.pub'}"]
    summary = {"folder": str(result.folder), "report": str(result.report.html),
               "verdicts": {k: {"file": str(p), "decision": d}
                            for k, (p, d) in result.verdicts.items()}}
    emit(summary, args.json, "\n".join(lines))
    return 0
