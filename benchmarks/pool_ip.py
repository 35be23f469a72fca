"""Pool `modelgif bench ip` results of several zoos: flagged / scored per setting and category.

Why: a zoo has one source per architecture and dataset, so one zoo's table moves with its
few sources; choosing a default (anchor source, scalar) on one zoo and confirming it on
another exposed exactly that (docs/STATISTICS.md). Pooling the per-source verdict counts of
the development zoos is how the defaults were chosen; the held-out zoo is reported alone.

Usage:
    python benchmarks/pool_ip.py bench-seed0/ip.json bench-seed1-digits/ip.json ... \
        [--anchors 64] [--settings whitebox,whitebox-logsumexp,whitebox-augmented]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from modelgif.bench.ip_report import counts_markdown


def pooled(results: list[dict[str, Any]], settings: list[str], anchors: str) -> dict[str, Any]:
    """setting -> category -> [flagged, scored], summed over every source of every run."""
    out: dict[str, dict[str, list[int]]] = {}
    for result in results:
        for setting in settings:
            summary = result["settings"][setting]["anchors"][anchors]["summary"]
            for row in summary["by_source"].values():
                for category, (flagged, scored) in row.items():
                    cell = out.setdefault(setting, {}).setdefault(category, [0, 0])
                    cell[0] += flagged
                    cell[1] += scored
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="ip.json files")
    parser.add_argument("--anchors", default="64")
    parser.add_argument("--settings", default="whitebox,whitebox-logsumexp,whitebox-augmented")
    args = parser.parse_args()
    results = [json.loads(p.read_text()) for p in args.results]
    table = pooled(results, args.settings.split(","), args.anchors)
    print("\n".join(counts_markdown(table, "setting", with_rate=True)))


if __name__ == "__main__":
    main()
