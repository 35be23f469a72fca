"""`modelgif bench unlearning`: the benchmark of the unlearning audit, measured.

    settings (dataset/architecture) x seeds x scenarios (class | random 10 %)
      ──> honest, approximate and cheating unlearners (zoo/unlearners.py), each claim
          audited against M retrained references (verifiers/unlearning.py)
      ──> per unlearner: acceptance rate ("forgotten") with Clopper-Pearson 95 % intervals,
          the targets (honest >= 95 %, every cheat <= 5 %), and the curve of field distance
          to the original across unlearning epochs (the reference paper's figure)
      ──> OUT/UNLEARNING.md, OUT/unlearning_curve.svg, OUT/unlearning_results.json

Why three settings: a 2-D CNN and an MLP on real 8x8 digits, and a 1-D CNN on MNIST-1D,
so the rates are not one architecture's accident. The MLP trains ten times faster, so it
runs three times the seeds, which is what tightens the cheats' intervals. Why M = 10
references: each costs a full training; with 5 the Student-t tails (4 freedoms) let a
last-layer retrain through, with 10 it is caught while the whole run takes about 10
minutes on 2 CPU cores (measured 10.4).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelgif.bench.unlearning_report import (
    acceptance_rows,
    curve_svg,
    markdown_tables,
    targets,
)
from modelgif.bench.unlearning_run import SCENARIOS, Claim, RunConfig, run_seed
from modelgif.zoo.unlearners import UNLEARNERS

__all__ = [
    "SETTINGS",
    "BenchSetting",
    "markdown",
    "register_cli",
    "run_benchmark",
    "run_cli",
    "write_outputs",
]

SCHEMA = "modelgif.bench-unlearning/v1"


@dataclass(frozen=True)
class BenchSetting:
    """One (dataset, architecture), how many seeds per --seeds, and whether to draw curves."""

    dataset: str
    architecture: str
    seed_factor: int = 1
    curve_seeds: int = 0


SETTINGS: tuple[BenchSetting, ...] = (
    BenchSetting("digits", "cnn", 1, curve_seeds=3),
    BenchSetting("digits", "mlp", 3),
    BenchSetting("mnist1d", "cnn-wide", 1),
)
Progress = Callable[[str], None]


def run_benchmark(
    seeds: int = 6,
    *,
    settings: Sequence[BenchSetting] = SETTINGS,
    n_references: int = 10,
    n_anchors: int = 64,
    target_fpr: float = 0.01,
    epochs: int = 30,
    progress: Progress = lambda _: None,
    unit_done: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Run every (setting, seed) and return the results as one JSON-able dict.

    Torch runs on one thread for the duration (deterministic kernels), then is restored.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started = time.monotonic()
    claims: list[Claim] = []
    curves: dict[str, dict[str, dict[str, list[list[tuple[int, float]]]]]] = {}
    bands: dict[str, dict[str, list[float]]] = {}
    try:
        for setting in settings:
            for seed in range(seeds * setting.seed_factor):
                config = RunConfig(setting.dataset, setting.architecture, n_references,
                                   n_anchors, epochs=epochs, target_fpr=target_fpr,
                                   curves=seed < setting.curve_seeds)
                result = run_seed(config, seed, progress)
                claims += result.claims
                for scenario, by_unlearner in result.curves.items():
                    mine = curves.setdefault(config.name, {}).setdefault(scenario, {})
                    for unlearner, points in by_unlearner.items():
                        mine.setdefault(unlearner, []).append(points)
                    if by_unlearner:
                        bands.setdefault(config.name, {}).setdefault(scenario, []).extend(
                            result.reference_distances[scenario])
                unit_done()
    finally:
        torch.set_num_threads(threads)
    return {
        "schema": SCHEMA,
        "config": {"seeds": seeds, "settings": [asdict(s) for s in settings],
                   "n_references": n_references, "n_anchors": n_anchors,
                   "target_fpr": target_fpr, "epochs": epochs, "scenarios": list(SCENARIOS)},
        "runtime_s": time.monotonic() - started,
        "rows": acceptance_rows(claims),
        "targets": targets(claims),
        "claims": [c.to_dict() for c in claims],
        "curves": curves,
        "reference_bands": {name: {s: [float(np.min(v)), float(np.max(v))]
                                   for s, v in by_scenario.items()}
                            for name, by_scenario in bands.items()},
    }


def _claims(results: dict[str, Any]) -> list[Claim]:
    return [Claim(**c) for c in results["claims"]]


def _targets_text(results: dict[str, Any]) -> str:
    lines = []
    for unlearner in (u for u in UNLEARNERS if u in results["targets"]):
        t = results["targets"][unlearner]
        verdict = "met" if t["met"] else "MISSED"
        lines.append(f"- {unlearner}: accepted {t['k']}/{t['n']} = {t['rate']:.1%} "
                     f"(95 % CI {t['low']:.1%} to {t['high']:.1%}); target {t['target']}: "
                     f"**{verdict}**")
    return "\n".join(lines)


def markdown(results: dict[str, Any], curve_file: str, command: str) -> str:
    """UNLEARNING.md: how it was run, the table, the targets and the curve."""
    config = results["config"]
    settings = [f"{s['dataset']}/{s['architecture']}" for s in config["settings"]]
    seeds = ", ".join(f"{name} x {config['seeds'] * s['seed_factor']}"
                      for name, s in zip(settings, config["settings"], strict=True))
    claims = _claims(results)
    return f"""# Unlearning audit benchmark, measured

Generated by `{command}` in {results['runtime_s'] / 60:.1f} min (2 CPU cores, shared).
Settings and seeds: {seeds}. Per seed: an original trained {config['epochs']} epochs on the
owner's split; for each scenario (a whole class forgotten, class = seed mod 10; a random
10 % of the owner's split forgotten) {config['n_references'] + 1} honest retrains without the
forget set and every other unlearner applied to the original. Audit
(`verifiers/unlearning.py`): {config['n_anchors']} secret anchors from the forget set and
{config['n_anchors']} from retained data, 8 path steps, paired classes, log field distance
against M = {config['n_references']} retrained references, Student-t predictive p-value,
target false-alarm rate {config['target_fpr']} per test.

"Accepted" means the audit said **forgotten**. Honest runs: each of the
{config['n_references'] + 1} retrains of a seed is audited in turn against the other
{config['n_references']} (exchangeable with a fresh honest retrain). Every other claim is
audited against the same {config['n_references']} references. Intervals are exact
Clopper-Pearson 95 %; runs of one seed share the original, so they are not fully
independent and the intervals are somewhat optimistic. mask-logit is n/a in the random
scenario: there is no class to mask.

## Targets

{_targets_text(results)}

With 60 runs a cheat accepted in none of them is bounded only to <= 6 % at 95 % (two-sided;
30 runs: <= 11.6 %): the point estimates meet the targets, the intervals cannot yet exclude
5 %. How far inside the threshold the cheats sit is the "largest forget-test p" column
(refused when p < {config['target_fpr']}).

## Acceptance per unlearner

{markdown_tables(claims, settings)}

## Distance to the original across unlearning epochs

![field distance to the original across unlearning epochs]({curve_file})

Mean over the first seeds of {settings[0]}: mean cosine distance (the reference method's
number) between each unlearner's field and the original's on the forget anchors, after
every epoch of the unlearner's own optimisation (epoch 0: its starting point; for the
retrain a fresh initialisation, for last-layer the original with a re-initialised head).
Shaded: the range of the retrained references' final distances. Cheats are dashed;
distances below {1e-3:g} are drawn at that floor (an unchanged field has distance 0).

## Reading

- The audit tests *equivalence to retraining without the forget set*, the only definition
  of forgetting a field can check. Approximate unlearners derived from the original keep
  most of its field (the reference paper's figure: approximate 0.41 vs exact 1.00 distance
  on CIFAR-10) and are mostly refused ('not forgotten') even when their forget-set accuracy
  has dropped; one whose forget-data field moved as far as a retrain's while its
  retained-data field stayed the original's is 'inconclusive' (not retrained, not refuted).
  The targets constrain only the honest retrain and the cheats.
- "Accepted on forget data alone" is what the audit would accept without `--retain`: the
  retained-data test turns a pass into 'inconclusive' when the claimed model's field on
  retained data is still the original's. It is what stops the last-layer cheat in the runs
  where its forget-data field happened to drift as far as a retrain's (the head is
  re-initialised; the forgotten class's neighbours are scored through new head rows).
- Without reference models the audit only refutes unchanged fields ('not forgotten' at
  similarity >= 0.99) and otherwise answers 'inconclusive'; it never accepts.
- The honest retrains here use fresh seeds, like the references. A provider who retrains
  with the original's seed and data order produces a model closer to the original than the
  references, which the audit may refuse: references must be trained the way the provider
  says it retrained.
"""


def write_outputs(results: dict[str, Any], out: Path, command: str) -> dict[str, Path]:
    """Write UNLEARNING.md, unlearning_curve.svg and unlearning_results.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"report": out / "UNLEARNING.md", "curve": out / "unlearning_curve.svg",
             "results": out / "unlearning_results.json"}
    curves = results["curves"]
    setting = next(iter(curves), "")
    bands = {s: (b[0], b[1]) for s, b in results["reference_bands"].get(setting, {}).items()}
    files["curve"].write_text(curve_svg(curves.get(setting, {}), bands, setting))
    files["report"].write_text(markdown(results, files["curve"].name, command))
    files["results"].write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return files


# ----------------------------------------------------------------------------- CLI

EPILOG = """\
examples:
  modelgif bench unlearning                       the full benchmark (~10 min, 2 cores)
  modelgif bench unlearning --seeds 1 --out /tmp/u --json   a quick smoke run

Writes OUT/UNLEARNING.md (tables and targets), OUT/unlearning_curve.svg (distance to the
original across unlearning epochs) and OUT/unlearning_results.json (every claim).
"""


def register_cli(subparsers: Any) -> None:
    """Add `unlearning` to the `modelgif bench` subcommands."""
    parser = subparsers.add_parser(
        "unlearning", help="unlearning audit: acceptance of honest, approximate and cheating "
        "unlearners", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks"), metavar="DIR",
                        help="output folder (default: benchmarks)")
    parser.add_argument("--seeds", type=int, default=6,
                        help="seeds per setting (the MLP setting runs 3x; default 6)")
    parser.add_argument("--references", type=int, default=10,
                        help="retrained reference models per audit (default 10)")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the report and figure from OUT/unlearning_results.json")
    parser.add_argument("--json", action="store_true",
                        help="print the summary (config, rows, targets, files) as JSON")
    parser.set_defaults(func=run_cli)


def _tick(bar: Any) -> None:
    bar.update(1)


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark with a tqdm bar on stderr; print the summary."""
    from tqdm import tqdm

    if args.render_only:
        results = json.loads((args.out / "unlearning_results.json").read_text())
    else:
        units = sum(args.seeds * s.seed_factor for s in SETTINGS)
        with tqdm(total=units, desc="bench unlearning", unit="seed", file=sys.stderr) as bar:
            results = run_benchmark(args.seeds, n_references=args.references,
                                    progress=lambda message: bar.set_postfix_str(message),
                                    unit_done=lambda: _tick(bar))
    config = results["config"]
    command = (f"modelgif bench unlearning --seeds {config['seeds']} "
               f"--references {config['n_references']}")
    files = write_outputs(results, args.out, command)
    summary = {key: results[key] for key in ("schema", "config", "runtime_s", "rows",
                                             "targets")}
    summary["files"] = {k: str(v) for k, v in files.items()}
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stderr.write(_targets_text(results).replace("**", "") + "\n")
        sys.stderr.write(f"wrote {', '.join(str(p) for p in files.values())}\n")
    return 0
