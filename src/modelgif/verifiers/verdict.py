"""The Verdict: a calibrated, self-describing answer to "is this suspect derived from the owner?".

Why a dataclass and not a bool: a forensic answer is only as good as the error rate behind
it, so the verdict carries the statistic, the threshold, two p-values, the false-positive
bound and its interval, the reference method's raw distance (for comparison with published
numbers), per-anchor evidence, and in words what it does not prove. A negative result is
data, never an exception.

Decision rule (calibrated), with T the statistic and p the parametric p-value:
    derived       T > threshold AND p < target_fpr
    independent   p > independent_p (default 0.5: T below the centre of the null, i.e.
                  the suspect agrees with the owner no more than a typical independent model)
    inconclusive  otherwise: above the null's centre but not beyond the threshold, where a
                  weakly derived model (heavy distillation, an adaptive thief) and an
                  unusually similar independent one cannot be told apart at this FPR.
Uncalibrated (no negatives): always "inconclusive". Without a null no cut-off on a raw
cosine has a known false-positive rate, so none is offered; the raw
mean similarity and distance are still reported, marked as uncalibrated.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError
from modelgif.validation import FloatArray, check_float
from modelgif.verifiers.calibration import Calibration, p_values, score
from modelgif.verifiers.similarity import mean_cosine_distance, per_anchor_similarity

__all__ = ["DECISIONS", "LIMITATIONS", "Decision", "Verdict", "compute_verdict", "decide"]

Decision = Literal["derived", "independent", "inconclusive"]
DECISIONS: tuple[Decision, ...] = ("derived", "independent", "inconclusive")
SCHEMA = "modelgif.verdict/v1"

LIMITATIONS: tuple[str, ...] = (
    "'derived' means: at the secret anchors the suspect's gradient field agrees with the "
    "owner's more than the calibration negatives do, at the stated false-positive rate. It "
    "does not say how the suspect was derived, nor prove intent.",
    "The false-positive rate holds for independent models like the calibration negatives "
    "(architectures, data, training recipes). Real independent models from another "
    "distribution may score differently; the rate then does not transfer.",
    "The parametric p-value and FPR bound assume the null statistic is Gaussian across "
    "independent models; anchors are correlated, so the null spread is measured, not "
    "assumed, but its far tail is extrapolated from the negatives.",
    "'independent' does not prove independence: a thief who trains against the anchors "
    "(if they leak) or a heavily distilled student can score like an independent model, "
    "and so can a copy fine-tuned on random-labelled noise by a thief who knows only how "
    "anchors are drawn (measured: BENCHMARKS.md, 'An adaptive thief').",
)


def decide(
    statistic: float, threshold: float, p_value: float, target_fpr: float, independent_p: float
) -> Decision:
    """The calibrated three-way rule of the module docstring (pure; no validation of T)."""
    if statistic > threshold and p_value < target_fpr:
        return "derived"
    if p_value > independent_p:
        return "independent"
    return "inconclusive"


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Verdict:
    """The outcome of one owner/suspect comparison. JSON via `to_dict()` / `to_json()`.

    Fields that need a calibration (statistic ... n_null) are None when `calibrated` is
    False. `compared` holds digests (owner, suspect, fingerprint...), filled by callers.
    """

    decision: Decision
    calibrated: bool
    mean_similarity: float
    mean_distance: float
    n_anchors: int
    n_steps: int
    anchor_similarity: tuple[float, ...]
    statistic: float | None = None
    threshold: float | None = None
    target_fpr: float | None = None
    p_value: float | None = None
    p_value_method: str = "none (uncalibrated)"
    p_value_empirical: float | None = None
    confidence: float | None = None
    fpr_estimate: float | None = None
    fpr_bound: float | None = None
    fpr_ci: tuple[float, float] | None = None
    fpr_bound_empirical: float | None = None
    n_null: int | None = None
    calibration_method: str | None = None
    anchor_z: tuple[float, ...] | None = None
    anchor_summary: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    compared: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise InputError(
                f"The 'decision' parameter of Verdict must be one of {', '.join(DECISIONS)}. "
                f"Got {self.decision!r}."
            )
        object.__setattr__(self, "anchor_summary", _freeze(self.anchor_summary))
        object.__setattr__(self, "compared", _freeze(self.compared))

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict (the schema name first)."""
        out: dict[str, Any] = {"schema": SCHEMA}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no NaN)."""
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)


def _check_compared(compared: Mapping[str, str] | None, owner: str) -> dict[str, str]:
    digests = dict(compared or {})
    bad = [k for k, v in digests.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise InputError(
            f"The 'compared' parameter of {owner} must map names to digest strings. "
            f"Got {bad[0]!r}: {digests[bad[0]]!r}."
        )
    return digests


def _summary(values: FloatArray, prefix: str) -> dict[str, float]:
    q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    names = ("min", "q25", "median", "q75", "max")
    return {f"{prefix}_{n}": float(v) for n, v in zip(names, q, strict=True)}


def _uncalibrated(sims: FloatArray, base: dict[str, Any]) -> Verdict:
    note = (
        "UNCALIBRATED: no negative models were supplied, so there is no threshold, no "
        "p-value and no false-positive rate; the decision is 'inconclusive' by rule and the "
        "raw similarity is for information only."
    )
    summary = _summary(sims, "similarity")
    return Verdict(
        decision="inconclusive",
        calibrated=False,
        anchor_summary=summary,
        notes=(note, *LIMITATIONS),
        **base,
    )


def _calibrated_notes(cal: Calibration) -> tuple[str, ...]:
    floor = 1.0 / (cal.n_null + 1)
    note = (
        f"Calibrated on M={cal.n_null} negatives ({cal.method}). Distribution-free, the data "
        f"support FPR <= {cal.fpr_bound_empirical:.3g} at {cal.confidence:.0%} confidence; "
        f"the empirical p-value cannot go below {floor:.3g}. FPR <= {cal.fpr_bound:.3g} "
        f"(estimate {cal.fpr_estimate:.3g}) holds under the Gaussian null model."
    )
    return (note, *LIMITATIONS)


def compute_verdict(
    cosines: npt.ArrayLike,
    calibration: Calibration | None = None,
    *,
    compared: Mapping[str, str] | None = None,
    independent_p: float = 0.5,
) -> Verdict:
    """Verdict for one suspect from its per-(anchor, step) cosines to the owner, shape (N, S).

    Raises InputError on bad cosines, on an anchor count that differs from the calibration,
    or when a digest in `compared` is one of the calibration's negatives (a negative scored
    against a null that contains it is biased towards "independent").
    """
    owner = "compute_verdict()"
    reducer = "mean" if calibration is None else calibration.reducer
    sims = per_anchor_similarity(cosines, reducer)
    if sims.ndim != 1:
        raise InputError(
            f"The 'cosines' parameter of {owner} must have shape (N anchors, S steps). "
            f"Got shape {np.shape(cosines)}."
        )
    digests = _check_compared(compared, owner)
    distance = mean_cosine_distance(cosines)
    base: dict[str, Any] = {
        "mean_similarity": 1.0 - distance,
        "mean_distance": distance,
        "n_anchors": int(sims.size),
        "n_steps": int(np.shape(cosines)[1]),
        "anchor_similarity": tuple(float(v) for v in sims),
        "compared": digests,
    }
    if calibration is None:
        return _uncalibrated(sims, base)
    p_cut = check_float(independent_p, "independent_p", owner, calibration.target_fpr, 1.0)
    leaked = sorted(set(digests.values()) & set(calibration.null_ids))
    if leaked:
        raise InputError(
            f"The 'compared' parameter of {owner} must not name a calibration negative. "
            f"Got {leaked[0]!r}."
        )
    z, statistic = score(calibration, sims)
    p_param, p_emp = p_values(calibration, statistic)
    return Verdict(
        decision=decide(statistic, calibration.threshold, p_param, calibration.target_fpr, p_cut),
        calibrated=True,
        statistic=statistic,
        threshold=calibration.threshold,
        target_fpr=calibration.target_fpr,
        p_value=p_param,
        p_value_method=calibration.p_value_method,
        p_value_empirical=p_emp,
        confidence=calibration.confidence,
        fpr_estimate=calibration.fpr_estimate,
        fpr_bound=calibration.fpr_bound,
        fpr_ci=calibration.fpr_ci,
        fpr_bound_empirical=calibration.fpr_bound_empirical,
        n_null=calibration.n_null,
        calibration_method=calibration.method,
        anchor_z=tuple(float(v) for v in z),
        anchor_summary={
            **_summary(sims, "similarity"),
            **_summary(z, "z"),
            "fraction_z_positive": float(np.mean(z > 0.0)),
            "fraction_z_above_2": float(np.mean(z > 2.0)),
        },
        notes=_calibrated_notes(calibration),
        **base,
    )
