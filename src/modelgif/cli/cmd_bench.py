"""`modelgif bench <benchmark>`: run a benchmark on a built zoo (modelgif.bench).

Each benchmark is a module of `modelgif.bench` exposing `register_cli(subparsers)`; the
modules are discovered here with pkgutil, so a new benchmark is one new module and this file
never changes (`bench ip` -> modelgif.bench.ip, `bench unlearning` ->
modelgif.bench.unlearning when it exists).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any

import modelgif.bench

__all__ = ["register"]

EPILOG = """\
examples:
  modelgif zoo build --out zoo-full --size full     the zoo the benchmarks run on
  modelgif bench ip --zoo zoo-full --out ip-out      the ownership benchmark
  modelgif bench ip --zoo zoo-full --json            the same results as JSON on stdout

exit codes: 0 done, 2 error or unusable input
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "bench", help="run a benchmark on a built model zoo",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmarks = parser.add_subparsers(dest="bench_command", metavar="<benchmark>",
                                       required=True)
    for info in sorted(pkgutil.iter_modules(modelgif.bench.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"modelgif.bench.{info.name}")
        register_cli = getattr(module, "register_cli", None)
        if callable(register_cli):
            register_cli(benchmarks)
