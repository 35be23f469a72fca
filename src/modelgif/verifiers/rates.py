"""Rates from counts, with no model of the null: Clopper-Pearson bounds, rank p-values.

Why: the Gaussian bound extrapolates the null's far tail; these say what the negatives
alone support (with none above the threshold, 20 negatives bound the FPR at 13.9 % with 95 %
confidence), so a verdict states both and a reader sees how much rests on the Gaussian.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

from modelgif.validation import check_array, check_float, check_int

__all__ = ["clopper_pearson_interval", "clopper_pearson_upper", "empirical_p_value"]


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
