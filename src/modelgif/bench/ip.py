"""`modelgif bench ip`: the ownership benchmark, with negatives held out.

Why this protocol: the published ModelGiF table (1.00 in every row) ranked anchors by
distance to the same independent models it then scored as negatives; without that leak the
reference reaches Extract-L 0.875 and Extract-Adv 0.76 at 256 anchors (its committed log, anchors
ranked without touching the negatives). Here:

- per dataset, the independents (ten-class and transfer-task) are dealt by a fixed seeded
  rule (splits.py), stratified by kind, architecture AND training data (owner or
  attacker split), into "selection" (never used here: kept out for choosing statistic
  variants) and four cross-fitting folds: fold k's negatives are scored under the null
  (`fit_calibration`, what `calibrate` fits) of the OTHER folds' negatives, and every
  positive is scored under each fold's null. No negative is scored under a null that
  contains it (compute_verdict refuses that, and the run records the split). Stratifying
  by training data matters: an independent of the source's own architecture trained on
  the owner's own data is the closest negative of all, and a null without one
  under-states the tail (an earlier split by architecture alone gave 3/96 false
  positives at a nominal 1 %);
- anchors come from the owner's secret (the fingerprint), never from any negative;
- positives of each category are dealt into "selection" (25 %) and "evaluation";
- per category and setting: AUC of the score (same-source, same-fold pairs), TPR at the
  calibrated threshold (the verdict "derived" at target FPR 1 %), the realised FPR of the
  held-out negatives, and, for the reference method (no calibration), TPR at the threshold
  set on the evaluation negatives themselves (an oracle, labelled as such); 95 % stratified
  bootstrap intervals;
- anchor counts are prefixes of the largest fingerprint (ipfields.py).

The score of a calibrated setting is the verdict's own standardised statistic
(T - null mean) / null sd, comparable across sources and folds; the reference's is minus the
mean cosine distance.

Why one file of about 400 lines: the protocol (roles, folds, which null scores whom) is the
benchmark, and a reader checking that no negative is scored against a null that contains
it needs it in one place; the tables are in ip_report.py, the fields in ipfields.py.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics as pystats
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.bench.ip_report import CATEGORY_TITLES, markdown
from modelgif.bench.ipfields import SETTINGS, Setting, owner_fingerprint, suspect_cosines
from modelgif.bench.metrics import grouped_auc, grouped_tpr_at_fpr, rate, with_ci
from modelgif.bench.splits import SELECTION, fold_name, split_models
from modelgif.errors import InputError
from modelgif.verifiers.calibration import Calibration, fit_calibration
from modelgif.verifiers.rates import clopper_pearson_upper
from modelgif.verifiers.similarity import mean_cosine_distance
from modelgif.verifiers.verdict import compute_verdict
from modelgif.zoo.manifest import DERIVED_CATEGORIES, ModelRecord, Zoo

__all__ = [
    "ANCHOR_COUNTS",
    "IPConfig",
    "PairScores",
    "Roles",
    "by_source",
    "dataset_roles",
    "negative_stratum",
    "register_cli",
    "run_ip_benchmark",
    "score_pairs",
]

ANCHOR_COUNTS = (256, 128, 64, 32)
NEGATIVE_ROLES = (fold_name(0), fold_name(1), SELECTION, fold_name(2), fold_name(3))
POSITIVE_ROLES = ("evaluation", "evaluation", SELECTION, "evaluation")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IPConfig:
    """What the benchmark runs: settings, anchor counts, seed, target FPR, bootstrap size."""

    settings: tuple[str, ...] = tuple(SETTINGS)
    anchor_counts: tuple[int, ...] = ANCHOR_COUNTS
    seed: int = 0
    target_fpr: float = 0.01
    n_bootstrap: int = 1000
    datasets: tuple[str, ...] | None = None
    max_models: int | None = None  # positives per source and category (quick runs, tests)
    negative_roles: tuple[str, ...] = NEGATIVE_ROLES  # deal pattern (splits.py)
    positive_roles: tuple[str, ...] = POSITIVE_ROLES

    def __post_init__(self) -> None:
        unknown = sorted(set(self.settings) - set(SETTINGS))
        if unknown or not self.settings:
            raise InputError(f"Unknown benchmark settings {unknown}; use {sorted(SETTINGS)}.")
        if not self.anchor_counts or min(self.anchor_counts) < 1:
            raise InputError(f"Anchor counts must be positive; got {self.anchor_counts}.")


@dataclass(frozen=True)
class Roles:
    """The split of one dataset: negatives' and positives' roles, by model id."""

    negatives: dict[str, str]
    positives: dict[str, str]


def negative_stratum(record: ModelRecord) -> str:
    """Kind, architecture and training data: negatives alike in all three share a stratum,
    so every role gets its share of each (e.g. of the source's architecture trained on the
    owner's own data, the negatives closest to the source)."""
    return f"{record.category}/{record.architecture}/{record.recipe.get('data_split')}"


def dataset_roles(
    zoo: Zoo,
    dataset: str,
    seed: int,
    negative_roles: Sequence[str] = NEGATIVE_ROLES,
    positive_roles: Sequence[str] = POSITIVE_ROLES,
) -> Roles:
    """The fixed split of `dataset`'s independents (by `negative_stratum`) and of each
    source's positives (by category). Roles of negatives: "selection", "fold-k" (scored
    under the null of the other folds' negatives)."""
    independents = zoo.independents(dataset) + zoo.independents(dataset, transfer=True)
    negatives = split_models(independents, seed, negative_roles, negative_stratum)
    derived = [m for s in zoo.sources(dataset) for m in zoo.derived_from(s.id)]
    positives = split_models(derived, seed, positive_roles, lambda r: f"{r.source}/{r.category}")
    return Roles(negatives.roles, positives.roles)


def _limit(models: list[ModelRecord], limit: int | None) -> list[ModelRecord]:
    return models if limit is None else models[:limit]


@dataclass
class PairScores:
    """Per (setting, anchor count): scored pairs. Positive rows carry the category."""

    pos_scores: list[float]
    pos_groups: list[str]
    pos_categories: list[str]
    pos_derived: list[bool]
    neg_scores: list[float]
    neg_groups: list[str]
    neg_transfer: list[bool]
    neg_derived: list[bool]
    neg_p: list[float]
    seconds: list[float]


def _empty() -> PairScores:
    return PairScores([], [], [], [], [], [], [], [], [], [])


def score_pairs(
    setting: Setting,
    n_anchors: int,
    source_id: str,
    cosines: dict[str, np.ndarray],
    negative_roles: dict[str, str],
    positives: dict[str, str],
    transfer_ids: set[str],
    target_fpr: float,
    out: PairScores,
) -> None:
    """Score one source's evaluation positives and held-out negatives into `out`.

    `cosines` maps model id -> (N_max, S) cosines to the source; `positives` maps the
    evaluation positives' ids to their category. Calibrated settings: for each fold k, a
    null fitted on the other folds' negatives scores fold k's negatives and all positives
    (score = (T - null mean) / null sd; flag = verdict "derived"). Reference: -distance.
    """
    cut = {i: np.asarray(c[:n_anchors]) for i, c in cosines.items() if len(c) >= n_anchors}
    positives = {i: c for i, c in positives.items() if i in cut}  # capped categories
    folds = sorted({r for r in negative_roles.values() if r.startswith("fold-")})
    if len(folds) < 2:
        raise InputError(f"Cross-fitting needs at least two folds of negatives; got {folds}.")
    for fold in folds:
        calibrators = sorted(i for i, r in negative_roles.items() if r in folds and r != fold)
        held_out = sorted(i for i, r in negative_roles.items() if r == fold)
        group = f"{source_id}|{fold}"
        cal = (fit_calibration(np.stack([cut[i] for i in calibrators]), calibrators,
                               target_fpr=target_fpr) if setting.calibrated else None)

        def score(model_id: str, cal: Calibration | None = cal) -> tuple[float, bool, float]:
            if cal is None:  # the reference: minus the mean cosine distance, no verdict
                return -mean_cosine_distance(cut[model_id]), False, math.nan
            verdict = compute_verdict(cut[model_id], cal, compared={"suspect": model_id})
            assert verdict.statistic is not None and verdict.p_value is not None
            z = (verdict.statistic - cal.null_mean) / cal.null_sd
            return z, verdict.decision == "derived", verdict.p_value

        for model_id, category in sorted(positives.items()):
            value, flagged, _ = score(model_id)
            out.pos_scores.append(value)
            out.pos_groups.append(group)
            out.pos_categories.append(category)
            out.pos_derived.append(flagged)
        for model_id in held_out:
            value, flagged, p = score(model_id)
            out.neg_scores.append(value)
            out.neg_groups.append(group)
            out.neg_transfer.append(model_id in transfer_ids)
            out.neg_derived.append(flagged)
            out.neg_p.append(p)


def _category_row(
    scores: PairScores, category: str, calibrated: bool, seed: int, n_boot: int
) -> dict[str, Any]:
    pos_idx = np.array([i for i, c in enumerate(scores.pos_categories) if c == category])
    transfer = category == "transfer"
    neg_idx = np.array([i for i, t in enumerate(scores.neg_transfer) if t == transfer])
    if pos_idx.size == 0 or neg_idx.size == 0:
        return {"n_pos": int(pos_idx.size), "n_neg": int(neg_idx.size)}
    ps, ns = np.asarray(scores.pos_scores), np.asarray(scores.neg_scores)
    pg, ng = np.asarray(scores.pos_groups), np.asarray(scores.neg_groups)

    def auc(p: np.ndarray, n: np.ndarray) -> float:
        pi, ni = p.astype(int), n.astype(int)
        return grouped_auc(ps[pi], list(pg[pi]), ns[ni], list(ng[ni]))

    def oracle_tpr(p: np.ndarray, n: np.ndarray) -> float:
        pi, ni = p.astype(int), n.astype(int)
        return grouped_tpr_at_fpr(ps[pi], list(pg[pi]), ns[ni], list(ng[ni]), 0.01)

    samples = [pos_idx.astype(np.float64), neg_idx.astype(np.float64)]
    row: dict[str, Any] = {
        "n_pos": int(pos_idx.size), "n_neg": int(neg_idx.size),
        "auc": with_ci(auc, samples, seed, n_boot),
        "tpr_oracle": with_ci(oracle_tpr, samples, seed + 1, n_boot),
    }
    if calibrated:
        flags = np.asarray(scores.pos_derived, dtype=np.float64)
        neg_flags = np.asarray(scores.neg_derived, dtype=np.float64)
        row["tpr"] = with_ci(lambda p: rate(flags[p.astype(int)]), samples[:1], seed + 2, n_boot)
        row["fpr"] = rate(neg_flags[neg_idx])
    return row


def _summary(scores: PairScores, calibrated: bool, target_fpr: float) -> dict[str, Any]:
    n = len(scores.neg_derived)
    k = int(sum(scores.neg_derived))
    out: dict[str, Any] = {"n_negative_pairs": n, "n_positive_pairs": len(scores.pos_scores)}
    if calibrated and n:
        out |= {"fpr_realised": k / n, "false_positives": k,
                "fpr_upper_95": clopper_pearson_upper(k, n, 0.95), "target_fpr": target_fpr}
    if scores.seconds:
        out["seconds_per_verdict_median"] = pystats.median(scores.seconds)
    if calibrated:
        out["by_source"] = by_source(scores)
    return out


def by_source(scores: PairScores) -> dict[str, dict[str, list[int]]]:
    """Per source: [flagged, scored] per category, and false positives as "negatives".

    Why: pooled rates hide where a method fails; on this zoo nearly every miss and every
    false positive comes from one source (BENCHMARKS.md), which a pooled TPR cannot show.
    """
    out: dict[str, dict[str, list[int]]] = {}
    rows = [*zip(scores.pos_groups, scores.pos_categories, scores.pos_derived, strict=True),
            *zip(scores.neg_groups, ["negatives"] * len(scores.neg_groups), scores.neg_derived,
                 strict=True)]
    for group, category, flagged in rows:
        cell = out.setdefault(group.split("|")[0], {}).setdefault(category, [0, 0])
        cell[0] += int(flagged)
        cell[1] += 1
    return out


def run_ip_benchmark(
    zoo: Zoo, folder: Path, config: IPConfig | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Compute (or reuse cached) cosines, score every setting and anchor count; a JSON dict."""
    config = config or IPConfig()
    folder.mkdir(parents=True, exist_ok=True)
    datasets = config.datasets or tuple(sorted({s.dataset for s in zoo.sources()}))
    n_max = max(config.anchor_counts)
    results: dict[str, Any] = {"settings": {}, "splits": {}, "config": {
        "seed": config.seed, "target_fpr": config.target_fpr, "anchor_counts":
        list(config.anchor_counts), "n_bootstrap": config.n_bootstrap, "zoo": str(zoo.root),
        "zoo_code_hash": zoo.manifest.code_hash, "datasets": list(datasets)}}
    plans = _plans(zoo, datasets, config)
    for name, plan in plans.items():
        results["splits"][name] = plan["sizes"]
    total = sum(len([m for m in p["models"] if m.category not in SETTINGS[s].skip_categories])
                for p in plans.values() for s in config.settings)
    done = 0
    for setting_name in config.settings:
        setting = SETTINGS[setting_name]
        started = time.perf_counter()
        n_run = min(n_max, setting.max_anchors or n_max)
        counts = [n for n in config.anchor_counts if n <= n_run]
        by_count = {n: _empty() for n in counts}
        fingerprint_bytes: dict[str, int] = {}
        for source_id, plan in plans.items():
            source = zoo.get(source_id)
            owner = owner_fingerprint(zoo, source, setting, n_run, config.seed, folder)
            fingerprint_bytes[source_id] = owner.path.stat().st_size
            capped = {c: owner_fingerprint(zoo, source, setting, min(n, n_run), config.seed,
                                           folder)
                      for c, n in setting.category_max_anchors}
            cosines: dict[str, np.ndarray] = {}
            seconds: dict[str, float] = {}
            models = [m for m in plan["models"] if m.category not in setting.skip_categories]
            for model in models:
                got = suspect_cosines(zoo, capped.get(model.category, owner), setting, model,
                                      folder)
                cosines[model.id] = got.cosines
                seconds[model.id] = got.seconds
                done += 1
                if progress is not None:
                    progress(f"{setting_name} {model.id}", done, total)
            positives = {i: c for i, c in plan["positives"].items() if i in cosines}
            for n in counts:
                score_pairs(setting, n, source_id, cosines, plan["negatives"],
                            positives, plan["transfer"], config.target_fpr, by_count[n])
                by_count[n].seconds += [s * n / len(cosines[i]) for i, s in seconds.items()
                                        if len(cosines[i]) >= n]
        results["settings"][setting_name] = _setting_result(
            setting, by_count, fingerprint_bytes, config, n_run, time.perf_counter() - started)
    return results


def _plans(zoo: Zoo, datasets: Sequence[str], config: IPConfig) -> dict[str, dict[str, Any]]:
    """Per source: the models to compare, negatives' roles, evaluation positives."""
    plans: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        roles = dataset_roles(zoo, dataset, config.seed, config.negative_roles,
                              config.positive_roles)
        independents = zoo.independents(dataset) + zoo.independents(dataset, transfer=True)
        transfer = {m.id for m in zoo.independents(dataset, transfer=True)}
        for source in zoo.sources(dataset):
            negatives = {m.id: roles.negatives[m.id] for m in independents
                         if roles.negatives[m.id] != SELECTION}
            positives: dict[str, str] = {}
            for category in DERIVED_CATEGORIES:
                members = [m for m in zoo.derived_from(source.id) if m.category == category
                           and roles.positives[m.id] == "evaluation"]
                positives |= {m.id: m.category for m in _limit(members, config.max_models)}
            models = [zoo.get(i) for i in [*sorted(negatives), *sorted(positives)]]
            sizes = {"negatives_by_role": _count(roles.negatives, independents),
                     "evaluation_negatives_used": len(negatives),
                     "positives_by_role": _count(roles.positives, zoo.derived_from(source.id)),
                     "evaluation_positives_used": len(positives)}
            plans[source.id] = {"models": models, "negatives": negatives,
                                "positives": positives, "transfer": transfer, "sizes": sizes}
    return plans


def _count(roles: dict[str, str], models: Sequence[ModelRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in models:
        out[roles[m.id]] = out.get(roles[m.id], 0) + 1
    return dict(sorted(out.items()))


def _setting_result(setting: Setting, by_count: dict[int, PairScores],
                    fingerprint_bytes: dict[str, int], config: IPConfig, n_max: int,
                    seconds: float) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for n, scores in by_count.items():
        categories = sorted(set(scores.pos_categories), key=list(CATEGORY_TITLES).index)
        counts[str(n)] = {
            "categories": {c: _category_row(scores, c, setting.calibrated, config.seed,
                                            config.n_bootstrap) for c in categories},
            "summary": _summary(scores, setting.calibrated, config.target_fpr),
            "fingerprint_bytes_estimate": int(pystats.median(fingerprint_bytes.values())
                                              * n / n_max),
        }
    return {"title": setting.title, "calibrated": setting.calibrated, "anchors": counts,
            "fingerprint_bytes_at_max": fingerprint_bytes, "wall_seconds": seconds}


def register_cli(sub: Any) -> None:
    """`modelgif bench ip --zoo DIR [--out DIR] [--json]`."""
    parser = sub.add_parser(
        "ip", help="ownership benchmark: AUC and TPR at 1 %% FPR per attack category",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", type=Path, required=True, help="a built zoo (modelgif zoo build)")
    parser.add_argument("--out", type=Path, default=Path("bench-ip"),
                        help="folder for fingerprints, cached cosines and results "
                        "(default ./bench-ip; a rerun reuses its cache)")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated subset of {','.join(SETTINGS)}")
    parser.add_argument("--anchors", default=",".join(map(str, ANCHOR_COUNTS)),
                        help="comma-separated anchor counts (prefixes of the largest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--dataset", action="append", dest="datasets",
                        help="only this dataset (repeatable)")
    parser.add_argument("--max-models", type=int, default=None,
                        help="at most this many positives per source and category (quick runs)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.set_defaults(func=_run_cli)


def _run_cli(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    try:
        counts = tuple(int(v) for v in args.anchors.split(","))
    except ValueError:
        raise InputError(
            f"--anchors must be comma-separated integers; got {args.anchors!r}") from None
    config = IPConfig(settings=tuple(args.settings.split(",")), anchor_counts=counts,
                      seed=args.seed, n_bootstrap=args.bootstrap,
                      datasets=tuple(args.datasets) if args.datasets else None,
                      max_models=args.max_models)
    zoo = Zoo.load(args.zoo)
    bar = tqdm(desc="bench ip", unit="model", file=sys.stderr, dynamic_ncols=True)

    def progress(label: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(label, refresh=False)
        bar.update(done - bar.n)

    try:
        results = run_ip_benchmark(zoo, args.out, config, progress)
    finally:
        bar.close()
    (args.out / "ip.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    table = markdown(results)
    (args.out / "IP.md").write_text(table + "\n")
    if args.json:
        json.dump(results, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(table)
    return 0
