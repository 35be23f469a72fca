"""A calibrated one-sided test for any scalar similarity, and a fusion of several into one.

Why: the field verdict has its own calibration (verifiers/calibration.py, on per-anchor
similarities). Output statistics, SAC and the reference's mean distance are one number per
model; to compare them with the field verdict at the SAME false-positive rule, each gets the
same threshold the field verdict uses: the largest of the one-sided Gaussian tolerance bound
(the share of the null above it is <= alpha with confidence gamma) and the largest
calibration negative.

Fusion of k statistics into ONE test (`fit_fused`, `fused_score`): each statistic is
standardised by the calibration negatives' mean and sd, and the fused score is the MAX of
the k z's (rule "max": one strong component is enough) or their MEAN (rule "mean": weak
evidence spread over several components adds up). Its null is measured, not assumed: every
calibration negative's fused score is computed with moments fitted WITHOUT it
(leave-one-out), so the null values are the scores fresh independent models would get;
the threshold is then the same tolerance rule on those values. Correlation between the
statistics is thereby accounted for.

Measured use (BENCHMARKS.md, Fashion-MNIST): fusing modelgif's log-agreement T at its
default synthetic anchors with T at anchors on the owner's own images (a second fingerprint,
`AnchorConfig(source="subset")`) raised the held-out TPR at 1 % FPR on noise thieves from
0.06 to 0.64, with fine-tunes still all flagged and no held-out negative flagged:

    null = fit_fused(np.array([[t_default_j, t_subset_j] for each calibration negative j]))
    derived = null.null.flags(fused_score(null, [t_default, t_subset]))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError
from modelgif.verifiers.tails import gaussian_tolerance_factor

__all__ = ["RULES", "FusedNull", "Rule", "ScalarNull", "fit_fused", "fit_scalar", "fused_score"]

FloatArray = npt.NDArray[np.float64]
Rule = Literal["max", "mean"]
RULES: tuple[Rule, ...] = ("max", "mean")


@dataclass(frozen=True)
class ScalarNull:
    """mean, sd and threshold of a null of scalar scores (higher = more similar)."""

    mean: float
    sd: float
    threshold: float
    n: int

    def z(self, value: float) -> float:
        return (value - self.mean) / self.sd

    def flags(self, value: float) -> bool:
        return value > self.threshold


def fit_scalar(values: npt.ArrayLike, alpha: float = 0.01, confidence: float = 0.95) -> ScalarNull:
    """The null of `values` (one per calibration negative) and its 1 - alpha threshold."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 3 or not np.all(np.isfinite(v)):
        raise InputError(f"A scalar null needs at least 3 finite values; got shape {v.shape}.")
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    sd = sd if sd > 0.0 else 1e-9
    k = gaussian_tolerance_factor(alpha, confidence, int(v.size))
    return ScalarNull(mean, sd, max(mean + k * sd, float(v.max())), int(v.size))


@dataclass(frozen=True)
class FusedNull:
    """Per-statistic moments (from all calibration negatives), the rule, and the null of the
    fused score."""

    means: FloatArray
    sds: FloatArray
    null: ScalarNull
    rule: Rule = "max"
    null_values: FloatArray = field(default_factory=lambda: np.empty(0))  # leave-one-out


def _combine(z: FloatArray, rule: Rule) -> float:
    return float(np.max(z) if rule == "max" else np.mean(z))


def fit_fused(values: npt.ArrayLike, alpha: float = 0.01, confidence: float = 0.95,
              rule: Rule = "max") -> FusedNull:
    """`values` (M, k): k statistics of M calibration negatives. See the module docstring."""
    if rule not in RULES:
        raise InputError(f"Unknown fusion rule {rule!r}; use one of {', '.join(RULES)}.")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 4 or v.shape[1] < 1 or not np.all(np.isfinite(v)):
        raise InputError(f"A fused null needs (M >= 4, k >= 1) finite values; got shape "
                         f"{v.shape}.")
    loo = np.empty(v.shape[0])
    for j in range(v.shape[0]):
        rest = np.delete(v, j, axis=0)
        sd = np.maximum(rest.std(axis=0, ddof=1), 1e-9)
        loo[j] = _combine((v[j] - rest.mean(axis=0)) / sd, rule)
    sds = np.maximum(v.std(axis=0, ddof=1), 1e-9)
    return FusedNull(v.mean(axis=0), sds, fit_scalar(loo, alpha, confidence), rule, loo)


def fused_score(null: FusedNull, values: npt.ArrayLike) -> float:
    """The suspect's k standardised statistics, combined by the null's rule."""
    v = np.asarray(values, dtype=np.float64)
    if v.shape != null.means.shape or not np.all(np.isfinite(v)):
        raise InputError(f"A fused score needs {null.means.size} finite values; got shape "
                         f"{v.shape}.")
    return _combine((v - null.means) / null.sds, null.rule)
