"""TPR at 1 % FPR against queries per verdict, for each output kind an API may return.

The output-agreement test (modelgif.verifiers.probe_verdict): the owner's outputs at secret
probe points against the suspect's answers there, one query per point, calibrated by
independent negatives queried the same way. Per zoo (small zoos, one source each):

- the independents are dealt by the IP benchmark's stratified rule (bench/splits.py,
  ip.negative_stratum) into 4 cross-fitting folds; fold k's negatives are scored under the
  null fitted on the other folds' negatives (`fit_calibration` and `compute_verdict`, as
  `calibrate` and `verify` do), and every positive under each fold's null (its rate is the
  fraction of the 4 nulls that call it derived); no negative is ever scored under a null
  that contains it; intervals are 95 % bootstraps over models;
- positives: every derived model of the source with the owner's label set (transfer
  models answer other classes and are not comparable by outputs);
- the probe points are the first n of 4,096 (n / 2 pairs) drawn from a per-zoo secret, as a
  fingerprint made with `--probes` draws them (fingerprint/probes.py); the owner's outputs
  are the source's, which is what the fingerprint seals;
- each suspect answers as an API of the kind would: raw logits, float32 softmax
  probabilities, the top-5 classes with their probabilities, or the label only.

The probe points' spread and the per-kind similarities were chosen on the seed-0 zoo;
report on other seeds (the default), which informed no choice.

    nice -n 15 python benchmarks/bench_queries.py --seeds 1 2 3 > results.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.bench.ip import negative_stratum
from modelgif.bench.splits import fold_name, split_models
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.probes import probe_points
from modelgif.verifiers.calibration import fit_calibration
from modelgif.verifiers.output_kinds import OUTPUT_KINDS, answers_from_outputs, probe_similarity
from modelgif.verifiers.rates import clopper_pearson_upper
from modelgif.verifiers.verdict import compute_verdict
from modelgif.zoo.cache import cached_small_zoo

BUDGETS = (32, 64, 128, 256, 512, 1024, 2048, 4096)
FOLDS = tuple(fold_name(i) for i in range(4))
TOP_K = 5
SKIP = ("source", "transfer", "independent-transfer")
FIELD_QUERIES = 64 * 16 * 2 * (64 + 1)  # the black-box field at the defaults: 133,120


def zoo_similarities(seed: int, n_max: int) -> dict[str, Any]:
    """Per model of the seed's small zoo: (n_max,) similarity per output kind; roles."""
    zoo = cached_small_zoo(seed=seed)
    source = zoo.sources()[0]
    owner = normalize(zoo.path(source))
    spec = owner.input_spec
    key = hashlib.sha256(f"modelgif-bench-queries:{seed}".encode()).digest()
    shape = tuple(int(d) for d in spec.shape[1:] if d is not None)
    assert spec.value_range is not None
    points = probe_points(key, n_max, shape, spec.value_range, spec.dtype)
    own = BlackBoxBackend.from_onnx(owner.model).outputs(points)
    models = [m for m in zoo.models if m.category not in SKIP]
    sims: dict[str, dict[str, np.ndarray]] = {kind: {} for kind in OUTPUT_KINDS}
    for model in models:
        out = BlackBoxBackend.from_onnx(normalize(zoo.path(model)).model).outputs(points)
        for kind in OUTPUT_KINDS:
            answers = answers_from_outputs(out, kind, TOP_K)
            sims[kind][model.id] = probe_similarity(own, answers)[:, None]
    independents = zoo.independents(source.dataset)
    negatives = split_models(independents, seed, FOLDS, negative_stratum).roles
    positives = {m.id: m.category for m in models if m.derived}
    return {"source": source.id, "sims": sims, "negatives": negatives, "positives": positives}


def score(zoo: dict[str, Any], kind: str, n: int) -> dict[str, dict[str, float]]:
    """Per model id: the fraction of folds whose null calls it "derived" (positives: all 4
    folds; negatives: their own fold only), and its category."""
    sims = {i: c[:n // 2] for i, c in zoo["sims"][kind].items()}  # n queries: n / 2 pairs
    flags: dict[str, list[bool]] = {}
    for fold in FOLDS:
        fitters = sorted(i for i, r in zoo["negatives"].items() if r != fold)
        held_out = sorted(i for i, r in zoo["negatives"].items() if r == fold)
        null = fit_calibration(np.stack([sims[i][:, 0] for i in fitters]), fitters,
                               target_fpr=0.01)
        for model_id in [*held_out, *sorted(zoo["positives"])]:
            verdict = compute_verdict(sims[model_id], null, compared={"suspect": model_id})
            flags.setdefault(model_id, []).append(verdict.decision == "derived")
    return {i: {"rate": float(np.mean(f)), "category":
                zoo["positives"].get(i, "negative")} for i, f in flags.items()}


def _interval(rates: np.ndarray, n_boot: int) -> tuple[float, float, float]:
    """Mean of per-model rates and a 95 % bootstrap interval over models (seeded)."""
    rng = np.random.default_rng(0)
    boots = rates[rng.integers(0, rates.size, size=(n_boot, rates.size))].mean(axis=1)
    low, high = np.quantile(boots, [0.025, 0.975])
    return float(rates.mean()), float(low), float(high)


def run(seeds: list[int], budgets: tuple[int, ...], n_boot: int) -> dict[str, Any]:
    started = time.perf_counter()
    zoos = []
    for seed in seeds:
        zoos.append(zoo_similarities(seed, max(budgets)))
        print(f"zoo seed {seed}: answers computed", file=sys.stderr)
    results: dict[str, Any] = {"seeds": seeds, "budgets": list(budgets), "top_k": TOP_K,
                               "field_queries_at_defaults": FIELD_QUERIES, "kinds": {}}
    for kind in OUTPUT_KINDS:
        per_budget: dict[str, Any] = {}
        for n in budgets:
            scored = [row for zoo in zoos for row in score(zoo, kind, n).values()]
            categories = sorted({r["category"] for r in scored} - {"negative"})
            cells = {}
            for category in categories:
                rates = np.array([r["rate"] for r in scored if r["category"] == category])
                cells[category] = {"tpr": _interval(rates, n_boot), "n_pos": int(rates.size)}
            negatives = [r["rate"] for r in scored if r["category"] == "negative"]
            k = round(sum(negatives))
            per_budget[str(n)] = {"categories": cells, "false_positives": k,
                                  "negative_pairs": len(negatives),
                                  "fpr_upper_95": clopper_pearson_upper(k, len(negatives), 0.95)}
        results["kinds"][kind] = per_budget
    results["seconds"] = time.perf_counter() - started
    return results


def _cell(row: dict[str, Any]) -> str:
    if "tpr" not in row:
        return "n/a"
    value, low, high = row["tpr"]
    return f"{value:.2f} [{low:.2f}, {high:.2f}] (n={row['n_pos']})"


def markdown(results: dict[str, Any]) -> str:
    budgets = results["budgets"]
    lines = []
    for kind, per_budget in results["kinds"].items():
        title = f"top-{results['top_k']}" if kind == "topk" else kind
        lines += [f"#### {title}", "",
                  "| category | " + " | ".join(f"{n} queries" for n in budgets) + " |",
                  "|---|" + "---|" * len(budgets)]
        categories = sorted({c for b in per_budget.values() for c in b["categories"]})
        for category in categories:
            cells = [_cell(per_budget[str(n)]["categories"].get(category, {})) for n in budgets]
            lines.append(f"| {category} | " + " | ".join(cells) + " |")
        fps = [f"{per_budget[str(n)]['false_positives']}/{per_budget[str(n)]['negative_pairs']}"
               for n in budgets]
        lines += ["| held-out negatives flagged | " + " | ".join(fps) + " |", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3],
                        help="small-zoo seeds to report on (0 is the development zoo)")
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    results = run(args.seeds, tuple(args.budgets), args.bootstrap)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    print(markdown(results))
    print(f"\n{results['seconds']:.0f} s; seeds {args.seeds}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
