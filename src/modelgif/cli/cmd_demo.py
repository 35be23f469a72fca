"""`modelgif demo [--out DIR]`: the whole workflow on built-in data, with reports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

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
unlearning (an honest retrain and a logit-masking cheat; their models are trained once, then
cached), and writes a signed evidence bundle, an offline HTML report and, when Chromium is
installed, its PDF. The suspects and the audit's models are copied into DIR, so every
command the report lists runs as printed from DIR. Progress bars go to stderr. The first
run trains the zoo and the audit's models (minutes); README.md's Quick start gives
measured times.
"""

LEGEND = """what the verdicts mean:
  DERIVED        the suspect's gradient field at the secret anchors agrees with the owner's
                 model beyond what independent models reach, at the stated false-positive rate
  INDEPENDENT    it agrees no more than a typical independent model (not a proof of
                 independence: a thief who learned the anchors could score like this)
  INCONCLUSIVE   in between: more alike than a typical independent model, not enough to
                 accuse. A held-out independent can land here: the threshold must hold with
                 95 % confidence from only 10 negatives, so it lies beyond where 5 % of
                 independent models score, and about 1 in 20 independents scores p < 0.05
  NOT FORGOTTEN  on the forgotten data the claimed model is closer to the original than
                 models honestly retrained without that data
  FORGOTTEN      indistinguishable from an honest retrain on the forgotten data
The report explains each finding in words: open report/report.html (or report.pdf)."""


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="run the whole workflow on the built-in small zoo",
                            description=__doc__, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("modelgif-demo"),
                        help="folder for keys, fingerprint, verdicts and report "
                        "(default: ./modelgif-demo)")
    add_force_argument(parser, "demo folder (its files are replaced)")
    parser.add_argument("--no-pdf", action="store_true", help="skip report.pdf even when "
                        "Chromium is installed")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.force:
        check_output_folder(args.out, [])  # an existing, non-empty folder needs --force
    started = time.monotonic()

    def step(message: str) -> None:
        tqdm.write(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr)

    result = run_demo(args.out, step, show_progress=True, pdf=False if args.no_pdf else None)
    lines = [f"demo finished in {time.monotonic() - started:.0f} s; everything is in "
             f"{result.folder}/"]
    lines += [f"  {name:<40} {decision.upper()}" for name, (_, decision)
              in result.verdicts.items()]
    pdf = result.report.pdf
    lines += [f"report:      {result.report.html}",
              f"pdf:         {pdf}" if pdf else "pdf:         not written (" + (
                  "--no-pdf)" if args.no_pdf else "no Chromium: apt-get install chromium)"),
              f"evidence:    {result.report.evidence} (signed: {result.report.signature.name})",
              f"check it:    cd {result.folder} && modelgif report verify report --pub "
              "owner.pub", "", LEGEND]
    summary = {"folder": str(result.folder), "report": str(result.report.html),
               "pdf": str(pdf) if pdf else None,
               "verdicts": {k: {"file": str(p), "decision": d}
                            for k, (p, d) in result.verdicts.items()}}
    emit(summary, args.json, "\n".join(lines))
    return 0
