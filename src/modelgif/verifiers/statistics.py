"""Pure statistics behind a ModelGiF verdict: similarity, standardisation, tails.

Why this module exists: the reference method ends at a mean cosine distance and a ROC AUC;
it has no threshold, no false-positive rate and no p-value. The pieces needed to fix that
are ordinary statistics, kept here as pure functions on numpy arrays, with no models, files
or hidden random state, so that each can be checked by simulation.

Distribution functions (normal and Student-t tails, the exact one-sided Gaussian tolerance
factor through the noncentral t, Clopper-Pearson bounds through the beta quantile) come from
scipy.stats, a well-kept library, rather than hand-written approximations. Benchmark metrics
(AUC, TPR at a fixed FPR, bootstrap intervals) live in `modelgif.bench.metrics`.

Conventions: a cosine array has shape (N anchors, S path steps); "similarity" is a cosine
(higher = more alike).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, stats

from modelgif.errors import InputError
from modelgif.validation import check_choice, check_float, check_int

__all__ = [
    "REDUCERS",
    "check_array",
    "clopper_pearson_interval",
    "clopper_pearson_upper",
    "empirical_p_value",
    "fit_null_moments",
    "gaussian_fpr_upper_bound",
    "gaussian_tolerance_factor",
    "log_distance",
    "mean_cosine_distance",
    "normal_ppf",
    "normal_sf",
    "per_anchor_similarity",
    "standardise",
    "stouffer",
    "student_t_sf",
]

FloatArray = npt.NDArray[np.float64]

REDUCERS: tuple[str, ...] = ("mean", "median")
DISTANCE_FLOOR = 1e-4  # float16 sketches resolve a cosine to ~1e-4; below that is noise
_COSINE_SLACK = 1e-5  # float32 fields can round a cosine a hair past +-1


# ----------------------------------------------------------------------------- validation


def check_array(
    value: object, name: str, owner: str, ndim: int, *, what: str = "a finite real array"
) -> FloatArray:
    """Return `value` as a float64 array with `ndim` dimensions, none empty, all finite.

    Raises InputError with the project's template otherwise.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"The '{name}' parameter of {owner} must be {what} with {ndim} dimension(s). "
            f"Got {type(value).__name__}."
        ) from None
    if array.ndim != ndim or 0 in array.shape:
        raise InputError(
            f"The '{name}' parameter of {owner} must be {what} with {ndim} non-empty "
            f"dimension(s). Got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise InputError(
            f"The '{name}' parameter of {owner} must be {what} with no NaN or infinity. "
            f"Got {int(np.sum(~np.isfinite(array)))} non-finite value(s)."
        )
    return array


def _check_cosines(value: object, name: str, owner: str, ndim: int) -> FloatArray:
    array = check_array(value, name, owner, ndim, what="an array of cosines in [-1, 1]")
    worst = float(np.max(np.abs(array)))
    if worst > 1.0 + _COSINE_SLACK:
        raise InputError(
            f"The '{name}' parameter of {owner} must be an array of cosines in [-1, 1]. "
            f"Got a value of magnitude {worst:.6g}."
        )
    return np.clip(array, -1.0, 1.0)


# ----------------------------------------------------------------------------- similarity


def per_anchor_similarity(cosines: npt.ArrayLike, reducer: str = "mean") -> FloatArray:
    """Reduce per-(anchor, step) cosines of shape (N, S), or (M, N, S), over the steps.

    "mean" (default) keeps the exact link to the reference distance:
    mean(1 - c) = 1 - mean_n s_n. "median" resists a few degenerate steps (e.g. a step where
    the accumulated gradient is nearly zero), but the steps of one path are strongly
    correlated (the field is a cumulative sum), so it rarely changes anything.
    """
    owner = "per_anchor_similarity()"
    check_choice(reducer, "reducer", owner, REDUCERS)
    array = np.asarray(cosines)
    ndim = 3 if array.ndim == 3 else 2
    checked = _check_cosines(cosines, "cosines", owner, ndim)
    if reducer == "median":
        return np.asarray(np.median(checked, axis=-1), dtype=np.float64)
    return np.asarray(checked.mean(axis=-1), dtype=np.float64)


def log_distance(similarities: npt.ArrayLike) -> float | FloatArray:
    """mean_n log max(1 - s_n, DISTANCE_FLOOR) of per-anchor similarities (N,) or (M, N).

    Why logs: a similarity is bounded by 1, so on the raw scale a copy (s = 1) is only a
    couple of null spreads above independent models when those are heterogeneous, and no
    calibrated threshold can be reached with a few negatives. Distances to the owner spread
    multiplicatively; on the log scale a copy or a fine-tune sits many null spreads away
    (measured on the benchmark's selection split: median 5-7 null sds for fine-tunes,
    against 2-2.5 for the mean similarity) and the null is close to Gaussian.
    """
    sims = np.asarray(similarities, dtype=np.float64)
    logs = np.log(np.maximum(1.0 - sims, DISTANCE_FLOOR))
    if logs.ndim == 1:
        return float(np.mean(logs))
    return np.asarray(np.mean(logs, axis=-1), dtype=np.float64)


def mean_cosine_distance(cosines: npt.ArrayLike) -> float:
    """The reference method's number: mean over anchors and steps of (1 - cosine), in [0, 2]."""
    checked = _check_cosines(cosines, "cosines", "mean_cosine_distance()", 2)
    return float(np.mean(1.0 - checked))


def fit_null_moments(
    null_similarities: npt.ArrayLike, prior_df: float = 4.0, sd_floor: float = 1e-6
) -> tuple[FloatArray, FloatArray]:
    """Per-anchor null mean and shrunken standard deviation from (M, N) null similarities.

    With M = 10 to 40 negatives a per-anchor sd has 10-25 % relative error, and an anchor
    whose sd happens to come out tiny would dominate any z-sum. Each variance is therefore
    shrunk towards the median variance over anchors, like a prior worth `prior_df` models:
        var_n = ((M - 1) v_n + prior_df * median_n v_n) / (M - 1 + prior_df),
    then floored at `sd_floor` so no division is ever by zero.
    """
    owner = "fit_null_moments()"
    sims = check_array(null_similarities, "null_similarities", owner, 2)
    if sims.shape[0] < 2:
        raise InputError(
            f"The 'null_similarities' parameter of {owner} must have at least 2 rows "
            f"(null models). Got {sims.shape[0]}."
        )
    prior = check_float(prior_df, "prior_df", owner, 0.0, 1e6)
    floor = check_float(sd_floor, "sd_floor", owner, 1e-12, 1.0)
    m = sims.shape[0]
    mu = sims.mean(axis=0)
    var = sims.var(axis=0, ddof=1)
    pooled = float(np.median(var))
    shrunk = ((m - 1) * var + prior * pooled) / (m - 1 + prior)
    sd = np.maximum(np.sqrt(shrunk), floor)
    return np.asarray(mu, dtype=np.float64), np.asarray(sd, dtype=np.float64)


def standardise(
    similarities: npt.ArrayLike,
    mu: npt.ArrayLike,
    sd: npt.ArrayLike,
    z_clip: float | None = None,
) -> FloatArray:
    """z_n = (s_n - mu_n) / sd_n, optionally clipped to [-z_clip, z_clip].

    Clipping bounds what one anchor can contribute, so evidence has to come from many
    anchors; the calibration clips its null models identically, so the test stays exact.
    Works on (N,) or (K, N) similarities.
    """
    s = np.asarray(similarities, dtype=np.float64)
    z = (s - np.asarray(mu, dtype=np.float64)) / np.asarray(sd, dtype=np.float64)
    if z_clip is not None:
        z = np.clip(z, -z_clip, z_clip)
    return np.asarray(z, dtype=np.float64)


def stouffer(z: npt.ArrayLike) -> float:
    """T = sum_n z_n / sqrt(N). N(0, 1) only for independent anchors, so never read it so."""
    values = np.asarray(z, dtype=np.float64)
    return float(values.sum() / math.sqrt(values.size))


# ----------------------------------------------------------------------------- distributions


def normal_sf(x: npt.ArrayLike) -> FloatArray:
    """P(Z > x) for a standard normal Z, accurate in the far tail."""
    return np.asarray(stats.norm.sf(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def normal_ppf(p: float) -> float:
    """The p-quantile of the standard normal, p in (0, 1)."""
    return float(stats.norm.ppf(check_float(p, "p", "normal_ppf()", 1e-300, 1.0 - 1e-16)))


def student_t_sf(x: float, df: float) -> float:
    """P(t_df > x)."""
    return float(stats.t.sf(x, df))


def _coverage(k: float, z: float, n: int) -> float:
    """P(m + k s >= z) for the mean m and sd s (ddof=1) of n standard normal draws.

    This is the noncentral-t cdf P(t'(n - 1, z sqrt(n)) <= k sqrt(n)). scipy's `nct`
    returns NaN for some negative noncentralities; there the same probability is integrated
    directly, E[Phi(sqrt(n) (k W / sqrt(n - 1) - z))] with W ~ chi(n - 1).
    """
    nu = n - 1
    root_n, root_nu = math.sqrt(n), math.sqrt(nu)
    fast = float(stats.nct.cdf(k * root_n, nu, z * root_n))
    if math.isfinite(fast):
        return min(1.0, max(0.0, fast))
    low, high = (float(w) for w in stats.chi.ppf([1e-15, 1.0 - 1e-15], nu))

    def integrand(w: float) -> float:
        return float(stats.norm.cdf(root_n * (k * w / root_nu - z)) * stats.chi.pdf(w, nu))

    value, _ = integrate.quad(integrand, low, high, epsabs=1e-13, epsrel=1e-10, limit=200)
    return min(1.0, max(0.0, float(value)))


def gaussian_tolerance_factor(fpr: float, confidence: float, n: int) -> float:
    """Exact one-sided normal tolerance factor k.

    With mean m and sd s (ddof=1) of n Gaussian draws, P(true FPR at m + k s <= fpr) equals
    `confidence` (k = nct.ppf(confidence, n - 1, z_(1-fpr) sqrt(n)) / sqrt(n)).
    """
    owner = "gaussian_tolerance_factor()"
    p = check_float(fpr, "fpr", owner, 1e-12, 0.5)
    gamma = check_float(confidence, "confidence", owner, 0.5, 0.999999)
    count = check_int(n, "n", owner, 3, 10**7)
    return _tolerance_factor(p, gamma, count)


@lru_cache(maxsize=256)
def _tolerance_factor(p: float, gamma: float, count: int) -> float:
    z_p = -normal_ppf(p)
    high = z_p + 1.0
    while _coverage(high, z_p, count) < gamma:
        high *= 2.0
    return float(
        optimize.brentq(lambda k: _coverage(k, z_p, count) - gamma, z_p - 10.0, high, xtol=1e-12)
    )


def gaussian_fpr_upper_bound(k: float, n: int, confidence: float) -> float:
    """Upper confidence bound on the FPR of the threshold m + k s (Gaussian null, n draws).

    The inverse of `gaussian_tolerance_factor`: the smallest fpr whose tolerance factor at
    `confidence` is <= k, i.e. the largest z with P(m + k s >= z) >= confidence (the coverage
    falls as z grows), found by Brent's method; fpr = P(Z > z).
    """
    owner = "gaussian_fpr_upper_bound()"
    gamma = check_float(confidence, "confidence", owner, 0.5, 0.999999)
    count = check_int(n, "n", owner, 3, 10**7)
    if not math.isfinite(k):
        raise InputError(f"The 'k' parameter of {owner} must be a finite number. Got {k!r}.")

    def excess(z: float) -> float:
        return _coverage(k, z, count) - gamma

    low, high = -8.3, 37.0  # fpr from 1 - 5e-17 to ~1e-300
    if excess(high) >= 0.0:
        return 0.0
    if excess(low) < 0.0:
        return 1.0
    z = float(optimize.brentq(excess, low, high, xtol=1e-12))
    return float(stats.norm.sf(z))


def _check_counts(k: int, n: int, confidence: float, owner: str) -> float:
    check_int(n, "n", owner, 1, 10**7)
    check_int(k, "k", owner, 0, n)
    return check_float(confidence, "confidence", owner, 0.5, 0.999999)


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided exact upper confidence bound on a rate from k events in n trials.

    k = 0 gives 1 - (1 - confidence)^(1/n): with 20 negatives and none above the threshold,
    all the data can say at 95 % is FPR <= 13.9 %.
    """
    gamma = _check_counts(k, n, confidence, "clopper_pearson_upper()")
    if k == n:
        return 1.0
    return float(stats.beta.ppf(gamma, k + 1, n - k))


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact (Clopper-Pearson) interval for a rate from k events in n trials."""
    gamma = _check_counts(k, n, confidence, "clopper_pearson_interval()")
    side = 0.5 * (1.0 + gamma)
    upper = clopper_pearson_upper(k, n, side)
    lower = 0.0 if k == 0 else float(stats.beta.ppf(1.0 - side, k, n - k + 1))
    return lower, upper


def empirical_p_value(statistic: float, null_statistics: npt.ArrayLike) -> float:
    """Rank p-value (1 + #{T_null >= T}) / (M + 1): valid for exchangeable nulls, no model.

    Its smallest possible value is 1 / (M + 1), so with M = 20 negatives it can never go
    below 0.048: say so rather than pretend to a 1 % test.
    """
    null = check_array(null_statistics, "null_statistics", "empirical_p_value()", 1)
    return float((1 + np.sum(null >= statistic)) / (null.size + 1))
