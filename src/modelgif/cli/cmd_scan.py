"""`modelgif scan`: many suspects against many fingerprints, one JSON line per pair."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelgif.cli.common import add_key_arguments, owner_key, progress_bar
from modelgif.cli.output import emit
from modelgif.errors import InputError
from modelgif.scan import ScanSettings, list_suspects, scan
from modelgif.scan.jobs import open_jobs

__all__ = ["register", "run"]

EPILOG = """\
examples:
  modelgif scan --fingerprints model.mgf --suspects uploads/ --key owner.key \\
      --calibration cal.json -o week-47.jsonl
  modelgif scan --fingerprints a.mgf b.mgf --suspects manifest.jsonl --key owner.key \\
      --workers 4 --timeout-s 300 --memory-gb 6 -o week-47.jsonl
  modelgif scan ... --ray                       # the same on a local Ray
  modelgif scan ... --ray ray://head:10001      # on a Ray cluster
  modelgif report week-47.jsonl --key owner.key -o case/   # derived pairs become findings

Each line of the output is one (fingerprint, suspect) pair: the fingerprint's id, the
suspect's file sha256 and normalized digest, the verdict `modelgif verify` gives, and the
seconds spent; a suspect that crashes, exhausts memory or hangs is an 'error' line with
the reason. Lines are written and fsynced as pairs are decided: run the same command
again after an interruption and it goes on where it stopped. A scan file made for other
fingerprints or settings is refused. --calibration files are matched to the fingerprints
they were made for. Suspects in a list or manifest.jsonl ({"path": ..., "name": ...} per
line) are paths relative to that file, inside its folder.

On Ray the workers get each fingerprint's anchors and sketch secret (never the owner's
key): a compromised worker node learns those fingerprints' anchors (README, "Scanning").

exit codes: 0 the scan is complete; 1 with --fail-on derived and a derived pair;
2 error or unusable input.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scan", help="verify many suspects against many fingerprints (resumable JSONL)",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fingerprints", type=Path, nargs="+", required=True,
                        metavar="M.mgf", help="the owner's fingerprints")
    parser.add_argument("--suspects", type=Path, required=True,
                        metavar="DIR|LIST|manifest.jsonl", help="the models to scan")
    add_key_arguments(parser)
    parser.add_argument("--calibration", type=Path, nargs="+", default=[], metavar="CAL.json",
                        help="calibrations (each is matched to its fingerprint)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="SCAN.jsonl",
                        help="the results file (resumed if it exists)")
    parser.add_argument("--backend", choices=["auto", "exact", "blackbox"], default="auto")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (or local Ray CPUs) (default 1)")
    parser.add_argument("--timeout-s", type=float, default=600.0,
                        help="wall time for one suspect against one fingerprint (default 600)")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address-space limit of a local worker (default 8)")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        help="keep normalized suspects here, by file sha256, across scans")
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help="run on Ray: a local one, or the cluster at ADDRESS "
                        "(needs modelgif[ray])")
    parser.add_argument("--retries", type=int, default=2,
                        help="Ray: retries of a suspect whose worker was lost (default 2)")
    parser.add_argument("--force", action="store_true",
                        help="start OUTPUT again instead of resuming it")
    parser.add_argument("--fail-on", choices=["derived"], help="exit 1 on any derived pair")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.cache is not None and args.cache.exists() and not args.cache.is_dir():
        raise InputError(f"--cache {args.cache} is not a folder")  # else every suspect fails
    settings = ScanSettings(
        backend=args.backend, workers=args.workers, timeout_s=args.timeout_s,
        memory_gb=args.memory_gb, cache=args.cache, ray=args.ray is not None,
        ray_address=None if args.ray in (None, "local") else args.ray, retries=args.retries)
    jobs = open_jobs(args.fingerprints, owner_key(args), args.calibration)
    suspects = list_suspects(args.suspects)
    with progress_bar("pairs") as progress:
        outcome = scan(jobs, suspects, args.output, settings, force=args.force,
                       progress=progress)
    summary = {"output": str(outcome.path), "decided": outcome.decided,
               "skipped": outcome.skipped, "counts": outcome.summary}
    emit(summary, args.json, _table(summary))
    derived = any(c.get("derived", 0) for c in outcome.summary.values())
    return 1 if args.fail_on == "derived" and derived else 0


def _table(summary: dict[str, Any]) -> str:
    columns = ["derived", "inconclusive", "independent", "error"]
    counts: dict[str, dict[str, int]] = summary["counts"]
    width = max([len("fingerprint"), *(len(name) for name in counts)])
    lines = [f"{summary['output']}: {summary['decided']} pair(s) decided now, "
             f"{summary['skipped']} already done",
             "  ".join([f"{'fingerprint':<{width}}", *(f"{c:>12}" for c in columns)])]
    for name, row in counts.items():
        lines.append("  ".join([f"{name:<{width}}", *(f"{row.get(c, 0):>12}" for c in columns)]))
    return "\n".join(lines)
