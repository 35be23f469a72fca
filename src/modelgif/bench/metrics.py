"""Benchmark metrics over (positive, negative) pairs that share a group, with bootstrap CIs.

Why groups: a benchmark pools several sources (and cross-fitting folds), and a raw distance
to source A is not on the same scale as a distance to source B. The reference AUC compares
a stolen model only with negatives scored against the same source; `grouped_auc` keeps that
rule when pooling: it is the fraction of same-group (positive, negative) pairs in which the
positive scores higher (ties count one half), i.e. the pair-weighted mean of the per-group
Mann-Whitney AUCs. With one group it is `roc_auc` exactly.

Scores are "higher = more likely derived" (negate a distance first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from modelgif.errors import InputError
from modelgif.validation import check_array, check_float, check_int

__all__ = [
    "bootstrap_ci",
    "grouped_auc",
    "grouped_tpr_at_fpr",
    "rate",
    "roc_auc",
    "tpr_at_fpr",
    "with_ci",
]

FloatArray = npt.NDArray[np.float64]


def _scores(value: object, name: str, owner: str) -> FloatArray:
    return check_array(value, name, owner, 1)


def roc_auc(scores_pos: npt.ArrayLike, scores_neg: npt.ArrayLike) -> float:
    """P(score of a positive > score of a negative) + 0.5 P(tie), in [0, 1].

    Higher score = more likely positive: pass -distance for the reference method. Computed
    as the Mann-Whitney U over average ranks (scipy), not scikit-learn's `roc_auc_score`:
    the value is the same, but its input checks cost ~7 ms a call, and the bootstraps call
    this thousands of times.
    """
    pos = _scores(scores_pos, "scores_pos", "roc_auc()")
    neg = _scores(scores_neg, "scores_neg", "roc_auc()")
    ranks = rankdata(np.r_[pos, neg])  # ties share their average rank: a tie counts 1/2
    wins = float(ranks[:pos.size].sum()) - pos.size * (pos.size + 1) / 2.0
    return wins / (pos.size * neg.size)


def tpr_at_fpr(scores_pos: npt.ArrayLike, scores_neg: npt.ArrayLike, fpr: float) -> float:
    """Fraction of positives strictly above the lowest threshold that lets at most
    floor(fpr * n_neg) negatives strictly above it.

    With few negatives floor(fpr * n_neg) is 0, and this is "TPR with no observed false
    positive", not a rate at `fpr`; report it as such.
    """
    owner = "tpr_at_fpr()"
    pos = _scores(scores_pos, "scores_pos", owner)
    neg = _scores(scores_neg, "scores_neg", owner)
    rate = check_float(fpr, "fpr", owner, 0.0, 1.0)
    allowed = math.floor(rate * neg.size + 1e-9)
    if allowed >= neg.size:
        return 1.0
    threshold = np.sort(neg)[::-1][allowed]
    return float(np.mean(pos > threshold))


def bootstrap_ci(
    statistic: Callable[..., float],
    samples: Sequence[npt.ArrayLike],
    *,
    rng: np.random.Generator,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(*samples), each sample resampled apart.

    Resampling each sample on its own (stratified) keeps e.g. the positive/negative counts
    of an AUC fixed. The random stream is the caller's Generator, never the global one.
    """
    owner = "bootstrap_ci()"
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"The 'rng' parameter of {owner} must be a numpy.random.Generator. "
            f"Got {type(rng).__name__}."
        )
    count = check_int(n_resamples, "n_resamples", owner, 10, 10**7)
    gamma = check_float(confidence, "confidence", owner, 0.5, 0.999999)
    if len(samples) == 0:
        raise InputError(f"The 'samples' parameter of {owner} must hold at least one array. Got 0.")
    arrays = [check_array(s, f"samples[{i}]", owner, 1) for i, s in enumerate(samples)]
    values = np.empty(count, dtype=np.float64)
    for b in range(count):
        resampled = [a[rng.integers(0, a.size, size=a.size)] for a in arrays]
        values[b] = statistic(*resampled)
    alpha = 1.0 - gamma
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


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
