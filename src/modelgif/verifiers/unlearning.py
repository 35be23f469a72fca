"""Unlearning audit: does the claimed model behave, on the forget data, as if it never saw it?

    owner/auditor key ──> secret anchors drawn from the forget set and from retained data
    claimed model MU: its own top-1 class c_n at each forget anchor
        field of MU for class c_n  vs  field of the original M0 for the SAME class c_n
        ──> per-anchor similarity s_n(MU)
    reference models MR_i (retrained without the forget set), scored the same way
        ──> the null of "a model that truly forgot": per-anchor mean and spread
    T = sum_n (s_n(MU) - mu_n) / sd_n / sqrt(N), calibrated leave-one-out on the references
        T above the threshold   -> "not forgotten": MU's field on the forget data is closer
                                   to the original's than any honest retrain's is
        T inside the null       -> "forgotten": indistinguishable from honest retraining
        otherwise               -> "inconclusive"

Why paired classes: scored with each model's OWN top-1, a cheat that masks the forgotten
class's logit would switch to its second class and look changed. Scoring MU's chosen class in
both models exposes it: the masked model's field for that class IS the original's.
The default target is a 5 % rate of telling an honest unlearner "not forgotten": with the
handful of references an auditor can afford, a 1 % tolerance bound is so wide that only
unchanged models would be caught; use 10 or more references for a sharp test.
An unchanged field (mean similarity >= IDENTICAL while no reference comes that close) is
"not forgotten" whatever T says. Without references, only one conclusion is safe: fields
identical to the original's on the forget data mean "not forgotten"; anything else is
"inconclusive", because how far an honest retrain moves depends on the model and the data.
This is the reading of the reference's figure (METHOD.md) turned into a test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.create import sketch_secret
from modelgif.fingerprint.field import FieldConfig, compute_field, field_cosines
from modelgif.fingerprint.keys import PrivateKey
from modelgif.fingerprint.normalize import NormalizedModel
from modelgif.fingerprint.sealing import derive_anchor_key, derive_anchor_secret
from modelgif.verifiers.calibration import MIN_NULL_MODELS, fit_calibration
from modelgif.verifiers.record import file_entry, make_record
from modelgif.verifiers.verdict import Verdict, compute_verdict

__all__ = ["IDENTICAL", "UnlearningVerdict", "audit_unlearning", "unlearning_record"]

IDENTICAL = 0.99
DECISION = {"derived": "not forgotten", "independent": "forgotten",
            "inconclusive": "inconclusive"}
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class UnlearningVerdict:
    """The audit's decision, the statistics behind it, and what each rests on."""

    decision: str  # "forgotten" | "not forgotten" | "inconclusive"
    test: Verdict  # the calibrated similarity test on the forget anchors (or uncalibrated)
    forget_similarity: float
    retain_similarity: float | None
    reference_forget_similarity: tuple[float, ...]
    reference_retain_similarity: tuple[float, ...]
    rests_on: tuple[str, ...]

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
            "forget_similarity": self.forget_similarity,
            "retain_similarity": self.retain_similarity,
            "reference_forget_similarity": list(self.reference_forget_similarity),
            "reference_retain_similarity": list(self.reference_retain_similarity),
            "comparison": comparison,
            "rests_on": list(self.rests_on),
        }


def _paired_cosines(
    original: NormalizedModel, other: NormalizedModel, anchors: np.ndarray, secret: bytes,
    config: FieldConfig,
) -> np.ndarray:
    """(N, S) cosines of `other`'s field for its own top-1 class and M0's for that class."""
    own = compute_field(other, anchors, secret, replace(config, target="top1"))
    cosines = np.zeros(own.sketch.shape[:2])
    for label in np.unique(own.classes):
        rows = np.flatnonzero(own.classes == label)
        same = replace(config, target="class", target_class=int(label))
        base = compute_field(original, anchors[rows], secret, same)
        cosines[rows] = field_cosines(own.sketch[rows], base.sketch)
    return cosines


def _anchors(key: PrivateKey, pool: np.ndarray, purpose: str, count: int,
             context: bytes) -> tuple[np.ndarray, bytes]:
    fid = hashlib.sha256(purpose.encode() + context).digest()[:16]
    anchors = derive_anchors(derive_anchor_secret(key, fid),
                             AnchorConfig(n_anchors=min(count, len(pool)), source="subset"),
                             pool=pool)
    return anchors.inputs, sketch_secret(derive_anchor_key(key, fid))


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
    target_fpr: float = 0.05,
) -> UnlearningVerdict:
    """Audit one unlearning claim (module docstring). References must not include MU or M0."""
    digests = {m.digest for m in references}
    if claimed.digest in digests or original.digest in digests:
        raise InputError("The claimed or original model is among the reference models.")
    if references and len(references) < MIN_NULL_MODELS:
        raise InputError(f"An audit with references needs at least {MIN_NULL_MODELS} of them; "
                         f"got {len(references)}. Give none to get the conservative audit.")
    config = field_config or FieldConfig()
    context = hashlib.sha256((original.digest + claimed.digest).encode()).digest()
    forget_anchors, forget_secret = _anchors(key, forget, "forget", n_anchors, context)
    claimed_forget = _paired_cosines(original, claimed, forget_anchors, forget_secret, config)
    reference_forget = [_paired_cosines(original, r, forget_anchors, forget_secret, config)
                        for r in references]
    retain_similarity, reference_retain = None, []
    if retain is not None:
        retain_anchors, retain_secret = _anchors(key, retain, "retain", n_anchors, context)
        retain_similarity = float(np.mean(
            _paired_cosines(original, claimed, retain_anchors, retain_secret, config)))
        reference_retain = [float(np.mean(_paired_cosines(original, r, retain_anchors,
                                                          retain_secret, config)))
                            for r in references]
    compared = {"original": original.digest, "claimed": claimed.digest}
    forget_similarity = float(np.mean(claimed_forget))
    rests_on = [f"{len(forget_anchors)} secret anchors drawn from the forget set; the claimed "
                "model's own top-1 class scored in both models (paired classes)"]
    if references:
        calibration = fit_calibration(np.stack(reference_forget), sorted(digests),
                                      target_fpr=target_fpr)
        test = compute_verdict(claimed_forget, calibration, compared=compared)
        decision = DECISION[test.decision]
        rests_on.append(f"{len(references)} reference models retrained without the forget "
                        "set define what forgetting looks like (leave-one-out null, "
                        f"target false-'not forgotten' rate {target_fpr})")
        unchanged = forget_similarity >= IDENTICAL and all(
            float(np.mean(c)) < IDENTICAL for c in reference_forget)
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
    return UnlearningVerdict(
        decision=decision,
        test=test,
        forget_similarity=forget_similarity,
        retain_similarity=retain_similarity,
        reference_forget_similarity=tuple(float(np.mean(c)) for c in reference_forget),
        reference_retain_similarity=tuple(reference_retain),
        rests_on=tuple(rests_on),
    )


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
