"""Unlearning audit: does the claimed model behave, on the forget data, as if it never saw it?

    owner/auditor key ──> secret anchors drawn from the forget set and from retained data
    claimed model MU: its own top-1 class c_n at each anchor
        field of MU for class c_n  vs  field of the original M0 for the SAME class c_n
        ──> per-anchor similarity s_n(MU), distance d_n = 1 - s_n
    one number per model and anchor set: L = mean_n log max(d_n, DISTANCE_FLOOR)
    reference models MR_1..MR_M (retrained without the forget set), scored the same way
        ──> the null of "a model that truly forgot": L_1..L_M
    t = (mean_i L_i - L(MU)) / (sd_i L_i sqrt(1 + 1/M)),  p = P(t_(M-1) > t)
        forget data:   p < target_fpr                 -> "not forgotten": MU's field on the
                       forget data is closer to the original's than honest retrains' are
        retained data: p < target_fpr (forget passed) -> "inconclusive": MU moved on the
                       forget data, but on retained data it is still the original's field,
                       so it was not retrained; its equivalence to retraining is not shown
        otherwise                                     -> "forgotten"

Why one model-level statistic and not a per-anchor z-sum: every anchor of one reference
shifts together (a retrain is closer to or further from the original everywhere), so a
per-anchor sum has a null spread dominated by that common offset, and its leave-one-out
tolerance bound over a handful of references was so wide that a last-layer retrain passed
(digits CNN, 6 references: T = 11.3 against a threshold of 16.4). The Student-t
predictive p-value is exact for a Gaussian L with M references; it needs no tolerance
factor.

Why log distances: honest retrains spread multiplicatively around the original (their
distances range over a factor of ~2), and a cheat's distance is a small fraction of theirs.
On the linear scale cheats are squeezed against the bound s = 1 and the null is skewed; on
the log scale the null is close to Gaussian (measured: 1 % nominal gave ~1 % false
"not forgotten" over the benchmark's honest runs) and a cheat sits many null sds away.
The floor (1e-4) keeps an unchanged field finite.

Why paired classes: scored with each model's OWN top-1, a cheat that masks the forgotten
class's logit would switch to its second class and look changed. Scoring MU's chosen class
in both models exposes it: the masked model's field for that class IS the original's.

The default target is a 1 % rate per test; an honest retrain is wrongly refused by either
test with probability <= 2 %. Use 10 or more references: with 5 the t_4 tails are so heavy
that only near-copies are caught. An unchanged field (mean similarity >= IDENTICAL while no
reference comes that close) is "not forgotten" whatever t says. Without references only one
conclusion is safe: a field identical to the original's on the forget data means "not
forgotten"; anything else is "inconclusive", because how far an honest retrain moves
depends on the model and the data (the paper's own unlearning figure shows distances of
honest retrains spread over a range that differs per model and data set).

Why one file of about 400 lines: the anchors, the paired scorer and the decision rule of
the audit are one argument (each exists because of how the next one decides); its
statistics are shared with ownership in statistics.py.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from modelgif.crypto.kdf import derive_anchor_key, derive_anchor_secret, sketch_secret
from modelgif.crypto.keys import PrivateKey
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.field import FieldConfig, compute_field, field_cosines
from modelgif.fingerprint.normalize import NormalizedModel
from modelgif.validation import check_float
from modelgif.verifiers.calibration import MIN_NULL_MODELS
from modelgif.verifiers.rates import empirical_p_value
from modelgif.verifiers.record import file_entry, make_record
from modelgif.verifiers.similarity import (
    DISTANCE_FLOOR,
    mean_cosine_distance,
    per_anchor_similarity,
)
from modelgif.verifiers.similarity import log_distance as similarity_log_distance
from modelgif.verifiers.tails import student_t_sf
from modelgif.verifiers.verdict import Verdict, compute_verdict

__all__ = [
    "DISTANCE_FLOOR",
    "IDENTICAL",
    "METHOD",
    "AuditAnchors",
    "PairedScorer",
    "UnlearningVerdict",
    "assess_unlearning",
    "audit_anchors",
    "audit_unlearning",
    "log_distance",
    "reference_test",
    "unlearning_record",
]

IDENTICAL = 0.99
DEFAULT_TARGET_FPR = 0.01
METHOD = "unlearning/log-distance/student-t-predictive/v1"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UnlearningVerdict:
    """The audit's decision, the statistics behind it, and what each rests on.

    `test` is the forget-data test (a Verdict whose "derived" means: closer to the original
    than honest retrains); `retain_test` the same on retained data, when it was run.
    """

    decision: str  # "forgotten" | "not forgotten" | "inconclusive"
    test: Verdict
    forget_similarity: float
    retain_similarity: float | None
    reference_forget_similarity: tuple[float, ...]
    reference_retain_similarity: tuple[float, ...]
    rests_on: tuple[str, ...]
    retain_test: Verdict | None = None

    def to_dict(self) -> dict[str, Any]:
        test = self.test.to_dict()
        comparison: dict[str, dict[str, float]] = {
            "forget data": {"claimed model": 1.0 - self.forget_similarity}}
        if self.retain_similarity is not None:
            comparison["retained data"] = {"claimed model": 1.0 - self.retain_similarity}
        if self.reference_forget_similarity:
            comparison["forget data"]["retrained references"] = float(
                1.0 - np.mean(self.reference_forget_similarity))
        if self.reference_retain_similarity:
            comparison["retained data"]["retrained references"] = float(
                1.0 - np.mean(self.reference_retain_similarity))
        return {
            **test,
            "schema": "modelgif.unlearning-verdict/v1",
            "decision": self.decision,
            "test_decision": self.test.decision,
            "retain_test": None if self.retain_test is None else self.retain_test.to_dict(),
            "forget_similarity": self.forget_similarity,
            "retain_similarity": self.retain_similarity,
            "reference_forget_similarity": list(self.reference_forget_similarity),
            "reference_retain_similarity": list(self.reference_retain_similarity),
            "comparison": comparison,
            "rests_on": list(self.rests_on),
        }


# ----------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class AuditAnchors:
    """Secret anchors of one audit and the sketch secret their fields are projected with."""

    inputs: np.ndarray
    secret: bytes
    purpose: str  # "forget" | "retain"


def audit_anchors(key: PrivateKey, pool: np.ndarray, purpose: str, count: int,
                  context: bytes) -> AuditAnchors:
    """`count` secret anchors from `pool`; the same key, purpose and context give the same."""
    fid = hashlib.sha256(purpose.encode() + context).digest()[:16]
    anchors = derive_anchors(derive_anchor_secret(key, fid),
                             AnchorConfig(n_anchors=min(count, len(pool)), source="subset"),
                             pool=pool)
    return AuditAnchors(anchors.inputs, sketch_secret(derive_anchor_key(key, fid)), purpose)


class PairedScorer:
    """Paired-class cosines of any model against one original at one anchor set.

    Why a class: the original's field for class c at the anchors is the same for every model
    scored, so it is computed once per class and reused (M references + claims).
    """

    def __init__(self, original: object, anchors: AuditAnchors, config: FieldConfig) -> None:
        self.original = original
        self.anchors = anchors
        self.config = config
        self._base: dict[int, np.ndarray] = {}

    def _original_field(self, label: int) -> np.ndarray:
        if label not in self._base:
            same = replace(self.config, target="class", target_class=label)
            field = compute_field(self.original, self.anchors.inputs, self.anchors.secret, same)
            self._base[label] = field.sketch
        return self._base[label]

    def cosines(self, model: object) -> FloatArray:
        """(N, S) cosines of `model`'s field for its own top-1 class and M0's for that class."""
        own = compute_field(model, self.anchors.inputs, self.anchors.secret,
                            replace(self.config, target="top1"))
        cosines = np.zeros(own.sketch.shape[:2])
        for label in np.unique(own.classes):
            rows = np.flatnonzero(own.classes == label)
            cosines[rows] = field_cosines(own.sketch[rows],
                                          self._original_field(int(label))[rows])
        return cosines


# ----------------------------------------------------------------------------- statistics


def log_distance(cosines: npt.ArrayLike) -> float:
    """mean_n log max(1 - s_n, DISTANCE_FLOOR), s_n the step-mean cosine of anchor n.

    The same statistic as ownership's log-agreement (statistics.log_distance), from cosines.
    """
    return float(similarity_log_distance(per_anchor_similarity(cosines)))


def _student_t_isf(p: float, df: float) -> float:
    """x with P(t_df > x) = p, by bisection (p in (0, 0.5])."""
    low, high = 0.0, 1.0
    while student_t_sf(high, df) > p:
        high *= 2.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if student_t_sf(mid, df) > p else (low, mid)
    return 0.5 * (low + high)


def reference_test(
    claimed: npt.ArrayLike,
    references: Sequence[npt.ArrayLike],
    *,
    target_fpr: float = DEFAULT_TARGET_FPR,
    pool: str = "forget data",
    compared: Mapping[str, str] | None = None,
) -> Verdict:
    """Is the claimed model's field closer to the original's than honest retrains' are?

    `claimed` and each reference are (N, S) paired cosines at the same anchors. "derived"
    means yes at `target_fpr` (module docstring), "independent" means no.
    """
    owner = "reference_test()"
    alpha = check_float(target_fpr, "target_fpr", owner, 1e-6, 0.5)
    m = len(references)
    if m < MIN_NULL_MODELS:
        raise InputError(f"The 'references' parameter of {owner} must hold at least "
                         f"{MIN_NULL_MODELS} models. Got {m}.")
    null = np.array([log_distance(r) for r in references])
    spread = float(null.std(ddof=1))
    if not spread > 0.0:
        raise InputError(f"The 'references' parameter of {owner} must hold models that "
                         "differ from each other. Got identical fields.")
    own = log_distance(claimed)
    scale = spread * math.sqrt(1.0 + 1.0 / m)
    statistic = (float(null.mean()) - own) / scale
    p_value = min(1.0, max(0.0, student_t_sf(statistic, m - 1)))
    threshold = _student_t_isf(alpha, m - 1)
    cosines = np.asarray(claimed, dtype=np.float64)
    sims = per_anchor_similarity(cosines)
    distance = mean_cosine_distance(cosines)
    return Verdict(
        decision="derived" if p_value < alpha else "independent",
        calibrated=True,
        mean_similarity=1.0 - distance,
        mean_distance=distance,
        n_anchors=int(sims.size),
        n_steps=int(cosines.shape[1]),
        anchor_similarity=tuple(float(v) for v in sims),
        statistic=statistic,
        threshold=threshold,
        target_fpr=alpha,
        p_value=p_value,
        p_value_method="predictive Student-t (M - 1 freedoms) of the log field distance "
                       "among the reference models",
        p_value_empirical=empirical_p_value(-own, -null),
        fpr_estimate=alpha,
        n_null=m,
        calibration_method=METHOD,
        anchor_summary={"log_distance": own, "reference_log_distance_mean": float(null.mean()),
                        "reference_log_distance_sd": spread,
                        "reference_log_distance_min": float(null.min()),
                        "reference_log_distance_max": float(null.max())},
        notes=(f"{pool}: the claimed model's mean log field distance to the original "
               f"({own:.3f}) against {m} reference models retrained without the forget set "
               f"({null.mean():.3f} +- {spread:.3f}); 'derived' means closer to the "
               f"original than honest retrains at false-alarm rate {alpha} (exact if the "
               "references' log distance is Gaussian; the empirical p-value assumes only "
               "exchangeability but cannot go below 1 / (M + 1)).",),
        compared=dict(compared or {}),
    )


def _mean_sim(cosines: npt.ArrayLike) -> float:
    return float(np.mean(per_anchor_similarity(cosines)))


def assess_unlearning(
    claimed_forget: npt.ArrayLike,
    reference_forget: Sequence[npt.ArrayLike] = (),
    claimed_retain: npt.ArrayLike | None = None,
    reference_retain: Sequence[npt.ArrayLike] = (),
    *,
    target_fpr: float = DEFAULT_TARGET_FPR,
    compared: Mapping[str, str] | None = None,
) -> UnlearningVerdict:
    """The decision of the module docstring from paired cosines (pure; no models).

    Each argument is (N, S) cosines (or a sequence of them for the references) between a
    model's field and the original's at the forget / retain anchors.
    """
    n_refs = len(reference_forget)
    if n_refs and n_refs < MIN_NULL_MODELS:
        raise InputError(f"An audit with references needs at least {MIN_NULL_MODELS} of them; "
                         f"got {n_refs}. Give none to get the conservative audit.")
    shape = np.shape(claimed_forget)
    bad = [np.shape(c) for c in reference_forget if np.shape(c) != shape]
    if bad:
        raise InputError(f"Every reference's forget-data cosines must have the claimed model's "
                         f"shape {shape}. Got {bad[0]}.")
    if reference_retain and len(reference_retain) != n_refs:
        raise InputError("Give retained-data cosines for every reference model, or none.")
    forget_similarity = _mean_sim(claimed_forget)
    retain_similarity = None if claimed_retain is None else _mean_sim(claimed_retain)
    ref_forget = tuple(_mean_sim(c) for c in reference_forget)
    ref_retain = tuple(_mean_sim(c) for c in reference_retain)
    n_anchors = int(np.shape(claimed_forget)[0])
    rests_on = [f"{n_anchors} secret anchors drawn from the forget set; the claimed model's "
                "own top-1 class scored in both models (paired classes)"]
    retain_test = None
    if n_refs:
        test = reference_test(claimed_forget, reference_forget, target_fpr=target_fpr,
                              compared=compared)
        rests_on.append(
            f"{n_refs} reference models retrained without the forget set define what "
            f"forgetting looks like: forget-data test t = {test.statistic:.2f}, "
            f"p = {test.p_value:.2g} (threshold t > {test.threshold:.2f} at "
            f"{test.target_fpr})")
        decision = "not forgotten" if test.decision == "derived" else "forgotten"
        if claimed_retain is not None and reference_retain:
            retain_test = reference_test(claimed_retain, reference_retain,
                                         target_fpr=target_fpr, pool="retained data",
                                         compared=compared)
            rests_on.append(f"retained-data test t = {retain_test.statistic:.2f}, "
                            f"p = {retain_test.p_value:.2g}")
            if retain_test.decision == "derived" and decision == "forgotten":
                decision = "inconclusive"
                rests_on.append(
                    "on retained data the claimed model's field is still the original's "
                    "(closer than any retrain's), so it was not retrained; it moved on the "
                    "forget data as far as retrains do, but equivalence to retraining is "
                    "not shown")
        unchanged = forget_similarity >= IDENTICAL and all(s < IDENTICAL for s in ref_forget)
        if unchanged and decision != "not forgotten":
            decision = "not forgotten"
            rests_on.append(f"the claimed model's field on the forget data is the original's "
                            f"(mean similarity {forget_similarity:.3f} >= {IDENTICAL}) while "
                            "no honest retrain comes that close")
    else:
        test = compute_verdict(claimed_forget, None, compared=compared)
        decision = "not forgotten" if forget_similarity >= IDENTICAL else "inconclusive"
        rests_on.append(
            "no reference models: only an unchanged field on the forget data "
            f"(mean similarity >= {IDENTICAL}) is conclusive ('not forgotten'); how far an "
            "honest retrain moves is unknown without references, so any other result is "
            "'inconclusive'")
        if retain_similarity is not None:
            rests_on.append(
                f"for information (uncalibrated): field similarity to the original "
                f"{forget_similarity:.3f} on forget data, {retain_similarity:.3f} on "
                "retained data")
    return UnlearningVerdict(
        decision=decision,
        test=test,
        forget_similarity=forget_similarity,
        retain_similarity=retain_similarity,
        reference_forget_similarity=ref_forget,
        reference_retain_similarity=ref_retain,
        rests_on=tuple(rests_on),
        retain_test=retain_test,
    )


def audit_unlearning(
    original: NormalizedModel,
    claimed: NormalizedModel,
    forget: np.ndarray,
    key: PrivateKey,
    *,
    retain: np.ndarray | None = None,
    references: Sequence[NormalizedModel] = (),
    n_anchors: int = 64,
    field_config: FieldConfig | None = None,
    target_fpr: float = DEFAULT_TARGET_FPR,
) -> UnlearningVerdict:
    """Audit one unlearning claim (module docstring). References must not include MU or M0.

    The anchors depend on the key and on both models' digests, so every claim is audited at
    anchors the provider could not have seen in an earlier audit.
    """
    digests = {m.digest for m in references}
    if claimed.digest in digests or original.digest in digests:
        raise InputError("The claimed or original model is among the reference models.")
    if references and len(references) < MIN_NULL_MODELS:
        raise InputError(f"An audit with references needs at least {MIN_NULL_MODELS} of them; "
                         f"got {len(references)}. Give none to get the conservative audit.")
    config = field_config or FieldConfig()
    context = hashlib.sha256((original.digest + claimed.digest).encode()).digest()
    forget_scorer = PairedScorer(original, audit_anchors(key, forget, "forget", n_anchors,
                                                         context), config)
    claimed_retain, reference_retain = None, []
    if retain is not None:
        retain_scorer = PairedScorer(original, audit_anchors(key, retain, "retain", n_anchors,
                                                             context), config)
        claimed_retain = retain_scorer.cosines(claimed)
        reference_retain = [retain_scorer.cosines(r) for r in references]
    return assess_unlearning(
        forget_scorer.cosines(claimed), [forget_scorer.cosines(r) for r in references],
        claimed_retain, reference_retain, target_fpr=target_fpr,
        compared={"original": original.digest, "claimed": claimed.digest})


def unlearning_record(
    verdict: UnlearningVerdict,
    models: Sequence[tuple[str, Path, NormalizedModel]],
    data: Sequence[tuple[str, Path]],
    settings: dict[str, Any],
    examiner_keyid: str,
    command: str,
) -> dict[str, Any]:
    """The verdict record of one audit: models as (role, file, normalized), data as (role, file)."""
    inputs = [file_entry(role, path, model.digest, model.opset) for role, path, model in models]
    inputs += [file_entry(role, path) for role, path in data]
    record = make_record("unlearning", verdict.to_dict(), inputs, settings, [], command)
    record["custody"].append({"at": record["created_at"], "event": "unlearning audited",
                              "by": examiner_keyid})
    return record
