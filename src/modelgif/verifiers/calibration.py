"""Calibration of the ownership test against independent negative models.

Why: a field similarity is only evidence relative to what independent models score at the
same anchors. M negatives, which must never be the evaluation negatives, give M draws of the
statistic an independent suspect would score, and the threshold is set from them.

Recipe (docs/STATISTICS.md gives the formulas), for the default statistic, log-agreement
T = -mean_n log max(1 - s_n, floor) (one number per model, so each negative is an
independent draw of the null):
1. T of each of the M negatives.
2. Threshold = the most conservative of (a) the exact Gaussian tolerance bound
   mean + k sd of the null T's (true FPR <= target with probability `confidence` if the null
   T is Gaussian), (b) the bootstrap upper bound of the Gaussian (1 - target) quantile, and
   (c) the largest null T (no observed false positive).
3. What the data supports is reported next to it: the predictive Student-t estimate and the
   Gaussian upper bound of the FPR, a bootstrap interval, and the distribution-free
   Clopper-Pearson bound, which with M = 20 can never go below 13.9 % at 95 %: that is the
   honest price of 20 negatives.
The named option `statistic="anchor-z"` (the per-anchor Stouffer sum of z-scores against
per-anchor null moments) needs each negative's T scored leave-one-out and is kept for
comparison only. Every label a verdict prints (`method`, `p_value_method`) comes from the
Calibration it was scored against, so it always names the statistic actually used.

The record is a frozen dataclass that validates itself, so a Calibration read back from
JSON (`from_dict`) satisfies the same invariants as a fitted one.

Why one file of about 400 lines: the fit and the record it produces are checked against
each other (every field the fit writes, `from_dict` validates), so they are read together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError
from modelgif.validation import FloatArray, check_array, check_choice, check_float, check_int
from modelgif.verifiers.null_moments import fit_null_moments, standardise, stouffer
from modelgif.verifiers.rates import clopper_pearson_upper, empirical_p_value
from modelgif.verifiers.similarity import REDUCERS, log_distance, per_anchor_similarity
from modelgif.verifiers.tails import (
    gaussian_fpr_upper_bound,
    gaussian_tolerance_factor,
    normal_ppf,
    normal_sf,
    student_t_sf,
)

__all__ = [
    "LOG_METHOD",
    "METHOD",
    "MIN_NULL_MODELS",
    "P_VALUE_METHODS",
    "STATISTICS",
    "Calibration",
    "fit_calibration",
    "loo_null_statistics",
    "null_scale",
    "p_values",
    "score",
]

METHOD = "anchor-z-stouffer/loo-gaussian-tolerance/v1"
LOG_METHOD = "log-agreement/gaussian-tolerance/v1"
STATISTICS = {"log-agreement": LOG_METHOD, "anchor-z": METHOD}
"""The test statistics a calibration can use, by name. Default: log-agreement,
T = -mean_n log max(1 - s_n, floor), one number per model, so each negative is an
independent draw of the null (no leave-one-out); anchor-z is the per-anchor Stouffer sum."""
P_VALUE_METHODS = {
    LOG_METHOD: "predictive Student-t (M - 1 freedoms) of the negatives' log-agreement "
                "statistics",
    METHOD: "predictive Student-t (M - 1 freedoms) of the negatives' leave-one-out "
            "anchor-z statistics",
}
"""How the parametric p-value is computed, in words, for each calibration method."""
MIN_NULL_MODELS = 5
_OWNER = "Calibration"


def _vector(value: object, name: str, length: int | None = None) -> FloatArray:
    array = check_array(value, name, _OWNER, 1)
    if length is not None and array.size != length:
        raise InputError(
            f"The '{name}' parameter of {_OWNER} must have length {length}. Got {array.size}."
        )
    array = array.copy()
    array.setflags(write=False)
    return array


def _fail(name: str, what: str, got: object) -> InputError:
    return InputError(f"The '{name}' parameter of {_OWNER} must be {what}. Got {got!r}.")


@dataclass(frozen=True, eq=False)
class Calibration:
    """A fitted null for one owner fingerprint and one anchor set. JSON via to_dict/from_dict.

    mu, sd: per-anchor null mean and (shrunken) sd of the similarity, shape (N,).
    null_statistics: leave-one-out T of each negative, shape (M,); null_ids: their digests.
    threshold: T above which a suspect is called derived; threshold_parametric and
    threshold_bootstrap are two of its three candidates (the third is max(null_statistics)).
    null_mean, null_sd: Gaussian fit of null_statistics; null_sd is their sd times
    (M - 1) / M (see `null_scale`), the scale of the suspect's own statistic.
    fpr_estimate: predictive Gaussian FPR at the threshold; fpr_bound: its upper bound at
    `confidence`; fpr_ci: bootstrap interval; fpr_bound_empirical: Clopper-Pearson upper
    bound from n_null_exceeding of M (distribution-free).
    """

    mu: FloatArray
    sd: FloatArray
    null_statistics: FloatArray
    null_ids: tuple[str, ...]
    target_fpr: float
    confidence: float
    threshold: float
    threshold_parametric: float
    threshold_bootstrap: float
    null_mean: float
    null_sd: float
    fpr_estimate: float
    fpr_bound: float
    fpr_ci: tuple[float, float]
    fpr_bound_empirical: float
    n_null_exceeding: int
    reducer: str = "mean"
    prior_df: float = 4.0
    z_clip: float | None = 10.0
    n_bootstrap: int = 2000
    seed: int = 0
    anchor_commitment: str = ""
    method: str = LOG_METHOD

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "mu", _vector(self.mu, "mu"))
        set_(self, "sd", _vector(self.sd, "sd", self.mu.size))
        set_(self, "null_statistics", _vector(self.null_statistics, "null_statistics"))
        if np.any(self.sd <= 0.0):
            raise _fail("sd", "positive everywhere", float(np.min(self.sd)))
        self._check_ids()
        self._check_numbers()

    def _check_ids(self) -> None:
        ids = self.null_ids
        m = self.null_statistics.size
        if m < MIN_NULL_MODELS:
            raise _fail("null_statistics", f"of length >= {MIN_NULL_MODELS}", m)
        if not isinstance(ids, tuple | list) or not all(isinstance(i, str) and i for i in ids):
            raise _fail("null_ids", "a sequence of non-empty strings", ids)
        if len(ids) != m or len(set(ids)) != m:
            raise _fail("null_ids", f"{m} distinct digests (one per null statistic)", len(ids))
        object.__setattr__(self, "null_ids", tuple(ids))

    def _check_numbers(self) -> None:
        check_float(self.target_fpr, "target_fpr", _OWNER, 1e-6, 0.5)
        check_float(self.confidence, "confidence", _OWNER, 0.5, 0.999999)
        for name in ("threshold", "threshold_parametric", "threshold_bootstrap", "null_mean"):
            check_float(getattr(self, name), name, _OWNER, -1e12, 1e12)
        check_float(self.null_sd, "null_sd", _OWNER, 1e-300, 1e12)
        for name in ("fpr_estimate", "fpr_bound", "fpr_bound_empirical"):
            check_float(getattr(self, name), name, _OWNER, 0.0, 1.0)
        ci = self.fpr_ci
        if not (isinstance(ci, tuple | list) and len(ci) == 2):
            raise _fail("fpr_ci", "a pair (low, high)", ci)
        low = check_float(ci[0], "fpr_ci", _OWNER, 0.0, 1.0)
        high = check_float(ci[1], "fpr_ci", _OWNER, low, 1.0)
        object.__setattr__(self, "fpr_ci", (low, high))
        check_int(self.n_null_exceeding, "n_null_exceeding", _OWNER, 0, self.null_statistics.size)
        if self.threshold < float(np.max(self.null_statistics)):
            raise _fail("threshold", "at least the largest null statistic", self.threshold)
        spread = (null_scale(self.null_statistics) if self.method == METHOD
                  else float(np.std(self.null_statistics, ddof=1)))
        fitted = (float(np.mean(self.null_statistics)), spread)
        for name, expected in zip(("null_mean", "null_sd"), fitted, strict=True):
            if not math.isclose(getattr(self, name), expected, rel_tol=1e-9, abs_tol=1e-12):
                raise _fail(
                    name, f"consistent with null_statistics ({expected!r})", getattr(self, name)
                )
        check_choice(self.reducer, "reducer", _OWNER, REDUCERS)
        check_float(self.prior_df, "prior_df", _OWNER, 0.0, 1e6)
        if self.z_clip is not None:
            check_float(self.z_clip, "z_clip", _OWNER, 0.5, 1e6)
        check_int(self.n_bootstrap, "n_bootstrap", _OWNER, 10, 10**7)
        check_int(self.seed, "seed", _OWNER, 0, 2**63 - 1)
        if not isinstance(self.anchor_commitment, str):
            raise _fail("anchor_commitment", "a string", self.anchor_commitment)
        check_choice(self.method, "method", _OWNER, tuple(STATISTICS.values()))

    @property
    def p_value_method(self) -> str:
        """The parametric p-value's method in words, for this calibration's statistic."""
        return P_VALUE_METHODS[self.method]

    @property
    def n_anchors(self) -> int:
        return int(self.mu.size)

    @property
    def n_null(self) -> int:
        return int(self.null_statistics.size)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (floats, lists, strings); `from_dict` inverts it exactly."""
        out: dict[str, Any] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value = [float(v) for v in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Rebuild and validate a Calibration; raise InputError on any bad key or value."""
        if not isinstance(data, Mapping):
            raise InputError(
                f"The 'data' parameter of Calibration.from_dict() must be a mapping. "
                f"Got {type(data).__name__}."
            )
        unknown = sorted(set(data) - set(_FIELDS))
        missing = sorted(set(_FIELDS) - set(data))
        if unknown or missing:
            raise InputError(
                "The 'data' parameter of Calibration.from_dict() must have exactly the "
                f"calibration fields. Got unknown {unknown} and missing {missing}."
            )
        kwargs = dict(data)
        for name in ("null_ids", "fpr_ci"):
            if isinstance(kwargs[name], list):
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)


_FIELDS: tuple[str, ...] = tuple(Calibration.__dataclass_fields__)


def _null_similarities(null: npt.ArrayLike, reducer: str, owner: str) -> FloatArray:
    if np.ndim(null) == 3:
        sims = per_anchor_similarity(null, reducer)
    else:
        sims = check_array(null, "null_similarities", owner, 2)
    if sims.shape[0] < MIN_NULL_MODELS:
        raise InputError(
            f"The 'null_similarities' parameter of {owner} must hold at least "
            f"{MIN_NULL_MODELS} null models (rows). Got {sims.shape[0]}."
        )
    return sims


def loo_null_statistics(
    null_similarities: npt.ArrayLike, prior_df: float = 4.0, z_clip: float | None = 10.0
) -> FloatArray:
    """T of each null model with mu/sd fitted on the other M - 1 (leave-one-out)."""
    sims = check_array(null_similarities, "null_similarities", "loo_null_statistics()", 2)
    out = np.empty(sims.shape[0], dtype=np.float64)
    for j in range(sims.shape[0]):
        mu, sd = fit_null_moments(np.delete(sims, j, axis=0), prior_df)
        out[j] = stouffer(standardise(sims[j], mu, sd, z_clip))
    return out


def null_scale(null_statistics: FloatArray) -> float:
    """The sd of a fresh null T, estimated from the M leave-one-out T's: sd * (M - 1) / M.

    Why the factor: a leave-one-out residual s_j - mean_(-j) is exactly M / (M - 1) times
    the in-sample residual s_j - mean, so LOO T's are spread wider, by that factor, than the
    statistic of a suspect scored against all M. With the factor, the pivot
    (T - mean) / (scale sqrt(1 + 1/M)) is exactly Student-t with M - 1 freedoms when the
    per-anchor sds are held fixed (Gaussian nulls); re-fitting the sds leave-one-out leaves
    a small conservative excess.
    """
    m = null_statistics.size
    return float(null_statistics.std(ddof=1)) * (m - 1) / m


def _bootstrap(null_t: FloatArray, n_boot: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """Bootstrap means and sds (ddof=1) of the null T's, from a seeded Generator."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, null_t.size, size=(n_boot, null_t.size))
    resampled = null_t[idx]
    return resampled.mean(axis=1), resampled.std(axis=1, ddof=1)


def fit_calibration(
    null_similarities: npt.ArrayLike,
    null_ids: Sequence[str],
    *,
    target_fpr: float = 0.01,
    confidence: float = 0.95,
    prior_df: float = 4.0,
    z_clip: float | None = 10.0,
    reducer: str = "mean",
    n_bootstrap: int = 2000,
    seed: int = 0,
    anchor_commitment: str = "",
    statistic: str = "log-agreement",
) -> Calibration:
    """Fit a Calibration from null models' per-anchor similarities (M, N) or cosines (M, N, S).

    `null_ids` are the negatives' digests (recorded so a benchmark can prove they are not
    its evaluation negatives). `seed` drives the bootstrap only; it is recorded.
    """
    owner = "fit_calibration()"
    check_choice(reducer, "reducer", owner, REDUCERS)
    alpha = check_float(target_fpr, "target_fpr", owner, 1e-6, 0.5)
    gamma = check_float(confidence, "confidence", owner, 0.5, 0.999999)
    n_boot = check_int(n_bootstrap, "n_bootstrap", owner, 10, 10**7)
    check_int(seed, "seed", owner, 0, 2**63 - 1)
    check_float(prior_df, "prior_df", owner, 0.0, 1e6)
    if z_clip is not None:
        check_float(z_clip, "z_clip", owner, 0.5, 1e6)
    if isinstance(null_ids, str) or not isinstance(null_ids, Sequence):
        raise InputError(
            f"The 'null_ids' parameter of {owner} must be a sequence of digest strings. "
            f"Got {type(null_ids).__name__}."
        )
    check_choice(statistic, "statistic", owner, tuple(STATISTICS))
    sims = _null_similarities(null_similarities, reducer, owner)
    mu, sd = fit_null_moments(sims, prior_df)
    loo = statistic == "anchor-z"
    null_t = (loo_null_statistics(sims, prior_df, z_clip) if loo
              else -np.asarray(log_distance(sims)))
    m = null_t.size
    shrink = (m - 1) / m if loo else 1.0  # a LOO statistic is M/(M-1) times wider
    mean, spread = float(null_t.mean()), float(null_t.std(ddof=1)) * shrink
    if not spread > 0.0:
        raise InputError(
            f"The 'null_similarities' parameter of {owner} must vary across null models. "
            "Got identical null statistics."
        )
    z_alpha = -normal_ppf(alpha)
    threshold_parametric = mean + gaussian_tolerance_factor(alpha, gamma, m) * spread
    boot_mean, boot_sd = _bootstrap(null_t, n_boot, seed)
    boot_sd *= shrink
    threshold_bootstrap = float(np.quantile(boot_mean + z_alpha * boot_sd, gamma))
    threshold = max(threshold_parametric, threshold_bootstrap, float(null_t.max()))
    k = (threshold - mean) / spread
    safe_sd = np.where(boot_sd > 0.0, boot_sd, 1.0)
    boot_fpr = np.where(boot_sd > 0.0, normal_sf((threshold - boot_mean) / safe_sd), 0.0)
    lo, hi = np.quantile(boot_fpr, [(1.0 - gamma) / 2.0, (1.0 + gamma) / 2.0])
    exceeding = int(np.sum(null_t > threshold))
    return Calibration(
        mu=mu,
        sd=sd,
        null_statistics=null_t,
        null_ids=tuple(null_ids),
        target_fpr=alpha,
        confidence=gamma,
        threshold=threshold,
        threshold_parametric=threshold_parametric,
        threshold_bootstrap=threshold_bootstrap,
        null_mean=mean,
        null_sd=spread,
        fpr_estimate=student_t_sf(k / math.sqrt(1.0 + 1.0 / m), m - 1),
        fpr_bound=gaussian_fpr_upper_bound(k, m, gamma),
        fpr_ci=(float(lo), float(hi)),
        fpr_bound_empirical=clopper_pearson_upper(exceeding, m, gamma),
        n_null_exceeding=exceeding,
        reducer=reducer,
        prior_df=float(prior_df),
        z_clip=None if z_clip is None else float(z_clip),
        n_bootstrap=n_boot,
        seed=seed,
        anchor_commitment=anchor_commitment,
        method=STATISTICS[statistic],
    )


def score(calibration: Calibration, similarities: npt.ArrayLike) -> tuple[FloatArray, float]:
    """Per-anchor z and the statistic T of a suspect's (N,) per-anchor similarities."""
    sims = check_array(similarities, "similarities", "score()", 1)
    if sims.size != calibration.n_anchors:
        raise InputError(
            f"The 'similarities' parameter of score() must have one value per calibrated "
            f"anchor ({calibration.n_anchors}). Got {sims.size}."
        )
    z = standardise(sims, calibration.mu, calibration.sd, calibration.z_clip)
    if calibration.method == LOG_METHOD:
        return z, -float(log_distance(sims))
    return z, stouffer(z)


def p_values(calibration: Calibration, statistic: float) -> tuple[float, float]:
    """(parametric, empirical) one-sided p-values of T against the calibrated null.

    Parametric: the predictive Student-t of a new Gaussian draw given the M null T's,
    P(t_(M-1) > (T - mean) / (sd sqrt(1 + 1/M))); exact if the null T is Gaussian.
    Empirical: (1 + #{T_null >= T}) / (M + 1); assumption-free but >= 1 / (M + 1).
    """
    m = calibration.n_null
    x = (statistic - calibration.null_mean) / (calibration.null_sd * math.sqrt(1.0 + 1.0 / m))
    parametric = min(1.0, max(0.0, student_t_sf(x, m - 1)))
    return parametric, empirical_p_value(statistic, calibration.null_statistics)
