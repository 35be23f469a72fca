"""Benchmark metrics over (positive, negative) pairs that share a group, with bootstrap CIs.

Why groups: a benchmark pools several sources (and cross-fitting folds), and a raw distance
to source A is not on the same scale as a distance to source B. The reference AUC compares
a stolen model only with negatives scored against the same source; `grouped_auc` keeps that
rule when pooling: it is the fraction of same-group (positive, negative) pairs in which the
positive scores higher (ties count one half), i.e. the pair-weighted mean of the per-group
Mann-Whitney AUCs. With one group it is `verifiers.statistics.roc_auc` exactly.

Scores are "higher = more likely derived" (negate a distance first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError
from modelgif.verifiers.statistics import bootstrap_ci, roc_auc

__all__ = ["grouped_auc", "grouped_tpr_at_fpr", "rate", "with_ci"]

FloatArray = npt.NDArray[np.float64]


def _check(scores: npt.ArrayLike, groups: Sequence[str], name: str) -> FloatArray:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 1 or array.size != len(groups) or not np.all(np.isfinite(array)):
        raise InputError(
            f"The '{name}' scores must be finite, one per group label; got shape "
            f"{array.shape} for {len(groups)} labels."
        )
    return array


def grouped_auc(
    pos: npt.ArrayLike, pos_groups: Sequence[str], neg: npt.ArrayLike, neg_groups: Sequence[str]
) -> float:
    """P(positive > negative) over same-group pairs (+ 1/2 P(tie)); NaN when no pair exists."""
    p, n = _check(pos, pos_groups, "pos"), _check(neg, neg_groups, "neg")
    pairs, wins = 0, 0.0
    for group in sorted(set(pos_groups) & set(neg_groups)):
        pg = p[np.asarray(pos_groups) == group]
        ng = n[np.asarray(neg_groups) == group]
        pairs += pg.size * ng.size
        wins += roc_auc(pg, ng) * pg.size * ng.size
    return wins / pairs if pairs else math.nan


def grouped_tpr_at_fpr(
    pos: npt.ArrayLike,
    pos_groups: Sequence[str],
    neg: npt.ArrayLike,
    neg_groups: Sequence[str],
    fpr: float = 0.01,
) -> float:
    """TPR when each group's threshold is set on that group's own negatives.

    The threshold lets at most floor(fpr * n_neg) negatives of the group strictly above it;
    with fewer than 100 negatives per group that is zero, so this is "TPR with no observed
    false positive", and it uses the evaluation negatives themselves: the reference
    method's way (an oracle threshold), never a deployable one.
    """
    p, n = _check(pos, pos_groups, "pos"), _check(neg, neg_groups, "neg")
    hits, total = 0, 0
    for group in sorted(set(pos_groups) & set(neg_groups)):
        pg = p[np.asarray(pos_groups) == group]
        ng = np.sort(n[np.asarray(neg_groups) == group])[::-1]
        allowed = math.floor(fpr * ng.size + 1e-9)
        threshold = ng[allowed] if allowed < ng.size else -math.inf
        hits += int(np.sum(pg > threshold))
        total += pg.size
    return hits / total if total else math.nan


def rate(flags: npt.ArrayLike) -> float:
    """Fraction of true flags (NaN for none)."""
    array = np.asarray(flags, dtype=np.float64)
    return float(array.mean()) if array.size else math.nan


def with_ci(
    metric: Callable[..., float],
    samples: Sequence[FloatArray],
    seed: int,
    n_resamples: int = 1000,
) -> tuple[float, float, float]:
    """(value, low, high): `metric(*samples)` and its stratified 95 % percentile bootstrap.

    Each sample is resampled on its own (positives and negatives keep their counts). The
    samples are index arrays into the caller's tables, so group labels travel with them.
    """
    value = metric(*samples)
    if any(np.asarray(s).size < 2 for s in samples) or not math.isfinite(value):
        return value, math.nan, math.nan
    rng = np.random.default_rng(seed)

    def safe(*resampled: FloatArray) -> float:
        out = metric(*resampled)
        return out if math.isfinite(out) else value

    low, high = bootstrap_ci(safe, samples, rng=rng, n_resamples=n_resamples)
    return value, low, high
