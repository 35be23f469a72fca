"""The null's per-anchor moments, and a suspect's similarities standardised against them.

Why: anchors differ in how alike independent models are at them, so a similarity means
something only against the null at the same anchor. The moments are fitted from the
calibration negatives (with shrinkage: a few negatives give noisy variances), each anchor's
similarity becomes a z-score, and the z-scores are summed (Stouffer) into one statistic.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError
from modelgif.validation import FloatArray, check_array, check_float

__all__ = ["fit_null_moments", "standardise", "stouffer"]


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
