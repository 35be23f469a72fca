"""Gaussian and Student-t tails, and the one-sided Gaussian tolerance bound.

Why: the calibrated threshold must hold a target false-positive rate with stated confidence
from a few negatives. Under a Gaussian null that is a tolerance bound (mean + k sd, k from
the noncentral t), and its inverse gives the FPR bound a threshold supports. The
distribution functions come from scipy.stats, a well-kept library, rather than
hand-written approximations.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, stats

from modelgif.errors import InputError
from modelgif.validation import FloatArray, check_float, check_int

__all__ = [
    "gaussian_fpr_upper_bound",
    "gaussian_tolerance_factor",
    "normal_ppf",
    "normal_sf",
    "student_t_sf",
]


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
