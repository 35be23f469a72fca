"""Benchmark: pairs per minute of `modelgif scan`, in-process, on 1 and 2 local workers and
on a local Ray, on the small zoo; and what 10,000 suspects x 10 fingerprints would cost.

Why: an owner scans a hub's uploads every week; what decides the bill is the cost of one
(fingerprint, suspect) pair once the fixed costs (imports, opening the key, starting
workers) are paid. "In-process" calls the unit of work (decide_suspect) in this process,
with no worker at all: the floor the pools are measured against. Each mode runs the same
pairs; wall times include starting the workers (and Ray), as a user would see them, and
the per-pair cost is also given from the seconds each line records.

Usage:
    python benchmarks/bench_scan.py                     # 2 fingerprints x 12 suspects
    python benchmarks/bench_scan.py --suspects 31 --anchors 64 --steps 16
    python benchmarks/bench_scan.py --node-price 0.20   # $ per node-hour for the projection
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from modelgif.cli import main as cli
from modelgif.crypto.keys import load_private_key
from modelgif.scan import ScanSettings, SuspectEntry, read_scan, scan
from modelgif.scan.jobs import open_jobs
from modelgif.scan.work import decide_suspect
from modelgif.zoo import cached_small_zoo


def _setup(folder: Path, anchors: int, steps: int, fingerprints: int) -> tuple[list[Path], Path]:
    zoo = cached_small_zoo()
    cli(["keygen", "--out", str(folder / "owner")])
    paths = []
    for index in range(fingerprints):
        path = folder / f"f{index}.mgf"
        cli(["fingerprint", str(zoo.path("mnist1d.src-cnn")), "--key", str(folder / "owner.key"),
             "-o", str(path), "--anchors-count", str(anchors), "--steps", str(steps)])
        paths.append(path)
    return paths, Path(zoo.root) / "models"


def _in_process(jobs: list[Any], suspects: list[Any]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    seconds = [line["seconds"] for s in suspects
               for line in decide_suspect(jobs, s.name, str(s.path)) if line["kind"] == "pair"]
    return time.perf_counter() - start, seconds


def _scanned(jobs: list[Any], suspects: list[Any], output: Path,
             settings: ScanSettings) -> tuple[float, list[float]]:
    start = time.perf_counter()
    scan(jobs, suspects, output, settings)
    wall = time.perf_counter() - start
    return wall, [p["seconds"] for p in read_scan(output)[1] if p["decision"] != "error"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suspects", type=int, default=12)
    parser.add_argument("--fingerprints", type=int, default=2)
    parser.add_argument("--anchors", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--node-price", type=float, default=0.20,
                        help="assumed $ per node-hour (e.g. a 2-vCPU cloud VM on demand)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/scan_results.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        mgfs, models = _setup(folder, args.anchors, args.steps, args.fingerprints)
        suspects = [SuspectEntry(p.name, p) for p in sorted(models.glob("*.onnx"))]
        suspects = suspects[: args.suspects]
        jobs = open_jobs(mgfs, load_private_key(folder / "owner.key"))
        pairs = len(jobs) * len(suspects)
        modes: dict[str, tuple[float, list[float]]] = {"in-process": _in_process(jobs, suspects)}
        for workers in (1, 2):
            modes[f"{workers} local worker(s)"] = _scanned(
                jobs, suspects, folder / f"w{workers}.jsonl", ScanSettings(workers=workers))
        if not args.skip_ray:
            modes["local Ray (2 CPUs)"] = _scanned(
                jobs, suspects, folder / "ray.jsonl", ScanSettings(ray=True, workers=2))
    rows = {name: {"wall_s": round(wall, 2), "pairs_per_minute": round(60 * pairs / wall, 1),
                   "mean_pair_s": round(sum(sec) / len(sec), 3)}
            for name, (wall, sec) in modes.items()}
    per_pair = min(sum(sec) / len(sec) for _, sec in modes.values())  # one core, warm
    cores = os.cpu_count() or 1
    projected = {}
    for nodes in (1, 10, 100):
        hours = 10_000 * 10 * per_pair / (nodes * cores) / 3600
        projected[f"{nodes} node(s)"] = {"hours": round(hours, 2),
                                         "cost_usd": round(hours * nodes * args.node_price, 2)}
    result = {"machine": f"{platform.system()} {platform.machine()}, {cores} cores",
              "python": sys.version.split()[0], "pairs": pairs, "anchors": args.anchors,
              "steps": args.steps, "modes": rows, "per_pair_s": round(per_pair, 3),
              "projection_10k_x_10": {"assumes": f"{cores} cores per node, one worker per "
                                      f"core, ${args.node_price}/node-hour", **projected}}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
