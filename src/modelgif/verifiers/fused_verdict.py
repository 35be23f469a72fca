"""One calibrated verdict from several fingerprints of the same owner model (an option).

Why: one field misses what another sees. Measured on Fashion-MNIST (BENCHMARKS.md,
"Distillation and the noise thief"): a thief who fine-tunes on its own data plus
random-labelled uniform noise scrubs the field at the default synthetic anchors (uniform
inputs, exactly what it trained on) but not the field at anchors on the owner's own images;
fusing the two raised the held-out TPR at 1 % FPR on such thieves from 0.06 to 0.64, with
every plain fine-tune still flagged and no held-out negative flagged. It is an option, not
the default: it needs a second fingerprint (owner data for its anchors) and its gain is
on one zoo.

How (verifiers/fused.py): each component is one fingerprint and a statistic of the
suspect's cosines to it ("log-agreement": minus the library's log distance T;
"mean-cosine": minus the reference's mean cosine distance). Each statistic is standardised
by the calibration negatives' mean and sd and the rule combines the k z's ("max" or
"mean"); the null is the negatives' own fused scores, each with moments fitted without it
(leave-one-out), and the threshold is the largest of the one-sided Gaussian tolerance bound
(at most `target_fpr` of the null above it, with `confidence`) and the largest negative.
"derived" needs the fused score above the threshold and its Gaussian p below target_fpr.

    components = [FusedComponent(fp_default, secrets_default),
                  FusedComponent(fp_owner_data, secrets_owner_data)]
    calibration = calibrate_fused(components, negative_models, rule="max")
    verdict = fused_verdict(components, suspect_model, calibration)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelgif.digests import is_sha256
from modelgif.errors import InputError
from modelgif.fingerprint.create import FingerprintSecrets
from modelgif.fingerprint.model_output import recorded_output
from modelgif.fingerprint.normalize import NormalizedModel, normalize
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.fused import RULES, FusedNull, Rule, fit_fused, fused_score
from modelgif.verifiers.ownership import compare_suspect
from modelgif.verifiers.rates import clopper_pearson_upper
from modelgif.verifiers.similarity import log_distance, mean_cosine_distance, per_anchor_similarity
from modelgif.verifiers.tails import normal_sf
from modelgif.verifiers.verdict import LIMITATIONS, Verdict, decide

__all__ = [
    "STATISTICS",
    "FusedCalibration",
    "FusedComponent",
    "Statistic",
    "calibrate_fused",
    "calibration_from_cosines",
    "component_cosines",
    "fused_verdict",
    "fused_verdict_from_cosines",
    "statistic",
]

Statistic = Literal["log-agreement", "mean-cosine"]
STATISTICS: tuple[Statistic, ...] = ("log-agreement", "mean-cosine")
MAX_NEGATIVES = 100_000


def statistic(name: Statistic, cosines: npt.ArrayLike) -> float:
    """Higher = more similar: minus T (log distance) or minus the mean cosine distance."""
    if name == "log-agreement":
        return -float(log_distance(per_anchor_similarity(cosines)))
    if name == "mean-cosine":
        return -mean_cosine_distance(cosines)
    raise InputError(f"Unknown fused statistic {name!r}; use one of {', '.join(STATISTICS)}.")


@dataclass(frozen=True)
class FusedComponent:
    """One fingerprint of the owner's model, its opened secrets, and the statistic read."""

    fingerprint: Fingerprint
    secrets: FingerprintSecrets
    statistic: Statistic = "log-agreement"


@dataclass(frozen=True)
class FusedCalibration:
    """The negatives' component statistics and what they are bound to. JSON via to_dict.

    Nothing fitted is stored: the null is refitted from `values` on load (fit_fused is
    deterministic), so a signed file cannot carry a threshold its values do not give.
    """

    rule: Rule
    statistics: tuple[Statistic, ...]
    fingerprint_ids: tuple[str, ...]  # hex, one per component
    commitments: tuple[str, ...]  # anchor commitments, one per component
    negatives: tuple[str, ...]  # "sha256:<hex>" of each negative's normalized model
    values: tuple[tuple[float, ...], ...]  # (M, k)
    target_fpr: float = 0.01
    confidence: float = 0.95

    def __post_init__(self) -> None:
        k, m = len(self.statistics), len(self.negatives)
        if self.rule not in RULES:
            raise InputError(f"Unknown fusion rule {self.rule!r}; use one of {', '.join(RULES)}.")
        if k < 1 or any(s not in STATISTICS for s in self.statistics):
            raise InputError(f"Fused statistics must be among {', '.join(STATISTICS)}.")
        if len(self.fingerprint_ids) != k or len(self.commitments) != k:
            raise InputError("A fused calibration needs one fingerprint id and commitment per "
                             "component.")
        if not all(is_sha256(c) for c in self.commitments) or not all(
                isinstance(i, str) and len(i) == 32 and all(ch in "0123456789abcdef" for ch in i)
                for i in self.fingerprint_ids):
            raise InputError("A fused calibration's fingerprint ids and commitments must be hex.")
        if not 4 <= m <= MAX_NEGATIVES or len(set(self.negatives)) != m or not all(
                isinstance(n, str) and n.startswith("sha256:") and is_sha256(n[7:])
                for n in self.negatives):
            raise InputError("A fused calibration needs 4 or more distinct negatives, each a "
                             "sha256 digest.")
        if len(self.values) != m or any(len(row) != k for row in self.values) or not all(
                isinstance(v, int | float) and math.isfinite(v)
                for row in self.values for v in row):
            raise InputError(f"A fused calibration needs {m} rows of {k} finite values.")
        if not (1e-6 <= self.target_fpr <= 0.5 and 0.5 <= self.confidence < 1.0):
            raise InputError("A fused calibration's target FPR must be in [1e-6, 0.5] and its "
                             "confidence in [0.5, 1).")

    @property
    def null(self) -> FusedNull:
        return fit_fused(np.array(self.values, dtype=np.float64), self.target_fpr,
                         self.confidence, self.rule)

    @property
    def method(self) -> str:
        """The label a verdict carries: the rule and what it fuses."""
        parts = ", ".join(f"{s} @ {i[:8]}" for s, i in zip(self.statistics, self.fingerprint_ids,
                                                             strict=True))
        return (f"fused-{self.rule}: {self.rule} of z over ({parts}); leave-one-out null of "
                f"{len(self.negatives)} negatives, Gaussian tolerance bound")

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "statistics": list(self.statistics),
                "fingerprint_ids": list(self.fingerprint_ids),
                "commitments": list(self.commitments), "negatives": list(self.negatives),
                "values": [list(r) for r in self.values], "target_fpr": self.target_fpr,
                "confidence": self.confidence}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FusedCalibration:
        """Re-validated (hostile input): exactly the fields of to_dict, every one checked."""
        keys = {"rule", "statistics", "fingerprint_ids", "commitments", "negatives", "values",
                "target_fpr", "confidence"}
        if not isinstance(data, Mapping) or set(data) != keys:
            raise InputError(f"A fused calibration has exactly the fields {sorted(keys)}.")
        lists = ("statistics", "fingerprint_ids", "commitments", "negatives", "values")
        if not all(isinstance(data[f], list) for f in lists) or not all(
                isinstance(r, list) for r in data["values"]):
            raise InputError("A fused calibration's lists must be JSON arrays.")
        numbers = (data["target_fpr"], data["confidence"])
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
            raise InputError("A fused calibration's target_fpr and confidence are numbers.")
        if any(isinstance(v, bool) for r in data["values"] for v in r):
            raise InputError("A fused calibration's values are numbers.")
        return cls(data["rule"], tuple(data["statistics"]), tuple(data["fingerprint_ids"]),
                   tuple(data["commitments"]), tuple(data["negatives"]),
                   tuple(tuple(r) for r in data["values"]), float(data["target_fpr"]),
                   float(data["confidence"]))

    def check_components(self, components: Sequence[FusedComponent]) -> None:
        """Refuse components other than the ones this calibration was fitted on."""
        got = [(c.fingerprint.fingerprint_id.hex(), c.fingerprint.commitment, c.statistic)
               for c in components]
        if got != list(zip(self.fingerprint_ids, self.commitments, self.statistics,
                           strict=True)):
            raise InputError("The fused calibration was fitted on other fingerprints or "
                             "statistics (give the same fingerprints, in the same order).")


def _model(item: str | Path | NormalizedModel, component: FusedComponent) -> NormalizedModel:
    if isinstance(item, NormalizedModel):
        return item
    return normalize(Path(item), output=recorded_output(component.fingerprint.config),
                     strict_output=False)


def component_cosines(components: Sequence[FusedComponent], suspect: str | Path |
                      NormalizedModel, backend: str = "auto") -> tuple[str, list[np.ndarray]]:
    """(the suspect's digest, its (N, S) cosines to each component's fingerprint)."""
    if not components:
        raise InputError("A fused verdict needs at least one fingerprint.")
    model = _model(suspect, components[0])
    comparisons = [compare_suspect(c.fingerprint, c.secrets, model, backend=backend)
                   for c in components]
    sketches = {c.sketch for c in comparisons}
    if sketches != {"sketch"}:
        raise InputError("The fused verdict compares float models on the fine sketch; this "
                         f"suspect was compared on {sorted(sketches)} (a quantized model).")
    return model.digest, [c.cosines for c in comparisons]


def calibrate_fused(
    components: Sequence[FusedComponent],
    negatives: Sequence[str | Path | NormalizedModel],
    rule: Rule = "max",
    target_fpr: float = 0.01,
    confidence: float = 0.95,
    backend: str = "auto",
) -> FusedCalibration:
    """Compare every negative with every component and keep their statistics."""
    compared = [component_cosines(components, item, backend) for item in negatives]
    return calibration_from_cosines(components, compared, rule, target_fpr, confidence)


def calibration_from_cosines(
    components: Sequence[FusedComponent],
    negatives: Sequence[tuple[str, Sequence[npt.ArrayLike]]],
    rule: Rule = "max",
    target_fpr: float = 0.01,
    confidence: float = 0.95,
) -> FusedCalibration:
    """The calibration from each negative's (digest, cosines to each component)."""
    owners = {"sha256:" + c.fingerprint.model_digest for c in components}
    digests = [digest for digest, _ in negatives]
    if owners & set(digests):
        raise InputError("The fingerprinted model itself is among the negatives.")
    if len(set(digests)) != len(digests):
        raise InputError("Two calibration negatives compute the same function (same digest).")
    values = tuple(tuple(statistic(c.statistic, x) for c, x in zip(components, cosines,
                                                                   strict=True))
                   for _, cosines in negatives)
    return FusedCalibration(rule, tuple(c.statistic for c in components),
                            tuple(c.fingerprint.fingerprint_id.hex() for c in components),
                            tuple(c.fingerprint.commitment for c in components),
                            tuple(digests), values, target_fpr, confidence)


def fused_verdict_from_cosines(
    cosines: Sequence[npt.ArrayLike],
    calibration: FusedCalibration,
    *,
    compared: Mapping[str, str] | None = None,
    independent_p: float = 0.5,
) -> Verdict:
    """The verdict from the suspect's cosines to each component (in the calibration's order).

    The similarity fields (mean_similarity, anchor_similarity...) are the FIRST
    component's; statistic, threshold and p-values are the fused test's. A suspect whose
    digest (any value of `compared`) is one of the negatives is refused: it would be scored
    against a null that contains it.
    """
    if len(cosines) != len(calibration.statistics):
        raise InputError(f"The fused calibration has {len(calibration.statistics)} "
                         f"components; got cosines for {len(cosines)}.")
    digests = dict(compared or {})
    if set(digests.values()) & set(calibration.negatives):
        raise InputError("The suspect is one of the fused calibration's negatives.")
    null = calibration.null
    values = [statistic(s, c) for s, c in zip(calibration.statistics, cosines, strict=True)]
    score = fused_score(null, values)
    scalar = null.null
    p_value = float(normal_sf(scalar.z(score)))
    m = len(null.null_values)
    exceeding = int(np.sum(null.null_values > scalar.threshold))
    first = np.asarray(cosines[0], dtype=np.float64)
    sims = per_anchor_similarity(first)
    note = (f"Fused test ({calibration.method}). Calibrated on M={m} negatives: the Gaussian "
            f"tolerance bound keeps FPR <= {calibration.target_fpr:g} at "
            f"{calibration.confidence:.0%} confidence under the Gaussian null model; "
            f"distribution-free, the data support FPR <= "
            f"{clopper_pearson_upper(exceeding, m, calibration.confidence):.3g}. The "
            "similarity fields are the first fingerprint's.")
    return Verdict(
        decision=decide(score, scalar.threshold, p_value, calibration.target_fpr,
                        independent_p),
        calibrated=True,
        mean_similarity=float(np.mean(sims)),
        mean_distance=mean_cosine_distance(first),
        n_anchors=int(first.shape[0]),
        n_steps=int(first.shape[1]),
        anchor_similarity=tuple(float(s) for s in sims),
        statistic=score,
        threshold=scalar.threshold,
        target_fpr=calibration.target_fpr,
        p_value=p_value,
        p_value_method="Gaussian tail of the leave-one-out fused null",
        p_value_empirical=(1 + int(np.sum(null.null_values >= score))) / (m + 1),
        confidence=calibration.confidence,
        fpr_estimate=float(normal_sf(scalar.z(scalar.threshold))),
        fpr_bound=calibration.target_fpr,
        fpr_bound_empirical=clopper_pearson_upper(exceeding, m, calibration.confidence),
        n_null=m,
        calibration_method=calibration.method,
        anchor_summary={f"z_{i}": float((v - mu) / sd) for i, (v, mu, sd) in
                        enumerate(zip(values, null.means, null.sds, strict=True))},
        notes=(note, *LIMITATIONS),
        compared=digests,
    )


def fused_verdict(
    components: Sequence[FusedComponent],
    suspect: str | Path | NormalizedModel,
    calibration: FusedCalibration,
    backend: str = "auto",
    compared: Mapping[str, str] | None = None,
) -> Verdict:
    """Compare the suspect with every component's fingerprint, then the fused verdict."""
    calibration.check_components(components)
    digest, cosines = component_cosines(components, suspect, backend)
    owner = "sha256:" + components[0].fingerprint.model_digest
    return fused_verdict_from_cosines(cosines, calibration, compared={
        **(compared or {}), "owner": owner, "suspect": digest})
