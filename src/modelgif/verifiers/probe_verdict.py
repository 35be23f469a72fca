"""Ownership verdicts within a query budget: output agreement at the fingerprint's probe points.

    fingerprint made with probes=P (sealed owner outputs at P secret points, probes.py)
    query budget N, output kind  ──plan_queries──> QueryPlan: the first n = min(N, P) points
    suspect oracle (ONNX file emulating an API of that kind, or a remote/ client)
        ──probe_suspect──> per-probe similarity s_n (output_kinds.py), queries counted
        ──compute_verdict against the calibration of THE SAME (kind, n)──> Verdict

Why a calibration is bound to (kind, n): the null of a labels-only test at 256 points is
not the null of a probability test at 2,048; a verdict scored against another's null has no
stated false-positive rate. The estimator's name, `probe:<kind>:<n>` (top-k:
`probe:topk<k>:<n>`), is the calibration's key in CAL.json, so the binding is the same
mechanism as the field's two sketches: a missing key is refused with the command that makes
it, never silently uncalibrated.

What it proves, and what not: `derived` says the suspect's answers at the secret probe
points agree with the owner's more than the calibration negatives' do, at the stated
false-positive rate. The points are uniform noise inside the input range, where a model's
outputs are set by its weights: a copy, a fine-tune or a quantized or re-exported copy
keeps them, an independent model trained on the same data does not (measured in
BENCHMARKS.md). It does not prove how the model was derived, nor intent; the rate holds for
independent models like the negatives only; a distilled student or an adaptive thief who
learns which inputs are probes (probe points are out-of-distribution: an API can refuse or
randomise them) can escape it; and a suspect that answers differently to the verifier than
to its other users is not caught by any black-box test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelgif.errors import InputError
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend
from modelgif.fingerprint.create import FingerprintSecrets
from modelgif.fingerprint.normalize import NormalizedModel
from modelgif.fingerprint.probes import ProbeSet, open_probes
from modelgif.fingerprint.record import Fingerprint
from modelgif.verifiers.calibration import Calibration, fit_calibration
from modelgif.verifiers.output_kinds import (
    ESTIMATOR_PATTERN,
    OUTPUT_KINDS,
    Answers,
    answers_from_outputs,
    probe_similarity,
)
from modelgif.verifiers.verdict import Verdict, compute_verdict

__all__ = [
    "ESTIMATOR_PATTERN",
    "MIN_QUERIES",
    "CountingOracle",
    "Oracle",
    "ProbeComparison",
    "QueryPlan",
    "bound_calibration",
    "calibrate_probes",
    "onnx_oracle",
    "plan_queries",
    "probe_suspect",
    "verify_with_probes",
]

MIN_QUERIES = 16
Oracle = Callable[[np.ndarray], Answers]
"""A suspect queried at a batch of float32 points (on the input's grid), answering one kind."""


@dataclass(frozen=True)
class QueryPlan:
    """How many probe points to query, and what the suspect answers there."""

    kind: str
    queries: int
    top_k: int = 5

    @property
    def estimator(self) -> str:
        """The name that binds a calibration to this kind and count."""
        kind = f"topk{self.top_k}" if self.kind == "topk" else self.kind
        return f"probe:{kind}:{self.queries}"


def plan_queries(fingerprint: Fingerprint, budget: int, kind: str, top_k: int = 5) -> QueryPlan:
    """The plan for `budget` queries: the first min(budget, P) of the P stored probe points
    (rounded down to whole pairs)."""
    if kind not in OUTPUT_KINDS:
        raise InputError(f"--output-kind must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}.")
    if not 1 <= top_k <= 99:
        raise InputError(f"--top-k must be between 1 and 99; got {top_k}.")
    echo = fingerprint.config.get("probes")
    if not isinstance(echo, dict):
        raise InputError(
            "This fingerprint stores no probe outputs, so a query budget cannot be met by the "
            "output-agreement test; make one with `modelgif fingerprint --probes 2048`, or "
            "verify without --query-budget (the field: about 130 queries per path point).")
    if budget < MIN_QUERIES:
        raise InputError(f"A query budget below {MIN_QUERIES} gives no usable verdict; got "
                         f"{budget}.")
    points = min(int(budget), int(echo["count"]))
    return QueryPlan(kind, points - points % 2, top_k)  # whole pairs


class CountingOracle:
    """Wraps an oracle: checks each batch's answers and counts the queries it spent."""

    def __init__(self, oracle: Oracle, kind: str) -> None:
        self._oracle = oracle
        self.kind = kind
        self.queries = 0

    def __call__(self, points: np.ndarray) -> Answers:
        self.queries += len(points)
        answers = self._oracle(points)
        if answers.kind != self.kind or len(answers) != len(points):
            raise InputError(f"The suspect answered {len(answers)} {answers.kind} rows for "
                             f"{len(points)} {self.kind} queries.")
        return answers


def onnx_oracle(model: NormalizedModel, kind: str, top_k: int = 5) -> Oracle:
    """A local model answering like an API of `kind` (for calibration negatives and tests)."""
    engine = BlackBoxBackend.from_onnx(model.model)

    def answer(points: np.ndarray) -> Answers:
        return answers_from_outputs(engine.outputs(points), kind, top_k)

    return answer


@dataclass(frozen=True)
class ProbeComparison:
    """One suspect's per-probe similarities and how they were measured."""

    similarities: np.ndarray
    plan: QueryPlan
    queries: int
    estimator: dict[str, Any] = field(default_factory=dict)

    @property
    def sketch(self) -> str:
        """The calibration key (named like the field's sketches, for the record)."""
        return self.plan.estimator


def _probes(fingerprint: Fingerprint, secrets: FingerprintSecrets, plan: QueryPlan) -> ProbeSet:
    if not secrets.anchor_key:
        raise InputError("Opening the probe outputs needs the owner's key or a reveal.")
    probes = open_probes(fingerprint.config, fingerprint.arrays, secrets.anchor_key,
                         fingerprint.fingerprint_id)
    if probes is None or len(probes) < plan.queries:
        raise InputError(f"The fingerprint stores fewer than {plan.queries} probe points.")
    return ProbeSet(probes.points[:plan.queries], probes.owner[:plan.queries])


def probe_suspect(
    fingerprint: Fingerprint, secrets: FingerprintSecrets, oracle: Oracle, plan: QueryPlan,
    batch_size: int = 256,
) -> ProbeComparison:
    """Query the suspect at the plan's probe points and compare with the owner's outputs."""
    probes = _probes(fingerprint, secrets, plan)
    counting = CountingOracle(oracle, plan.kind)
    parts = [counting(probes.points[i:i + batch_size])
             for i in range(0, len(probes), batch_size)]
    values = np.concatenate([p.values for p in parts])
    classes = (np.concatenate([p.classes for p in parts if p.classes is not None])
               if plan.kind == "topk" else None)
    answers = Answers(plan.kind, values, classes)
    sims = probe_similarity(probes.owner, answers)
    estimator = {"name": "output-agreement", "output_kind": plan.kind,
                 "top_k": plan.top_k if plan.kind == "topk" else None,
                 "probe_points": plan.queries, "queries_spent": counting.queries}
    return ProbeComparison(sims, plan, counting.queries, estimator)


def bound_calibration(
    plan: QueryPlan, calibrations: dict[str, Calibration] | None
) -> Calibration | None:
    """The calibration made for exactly this plan (kind, k, points); None without any.

    Call it before spending a query: a calibration for another plan is refused.
    """
    if calibrations is None:
        return None
    calibration = calibrations.get(plan.estimator)
    if calibration is None:
        made = ", ".join(sorted(calibrations)) or "none"
        raise InputError(
            f"The calibration has no null for {plan.estimator} (it holds {made}); run "
            f"`modelgif calibrate ... --output-kind {plan.kind} --query-budget "
            f"{plan.queries}` so the null is measured the way the suspect is.")
    return calibration


def verify_with_probes(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    oracle: Oracle,
    plan: QueryPlan,
    calibrations: dict[str, Calibration] | None = None,
    suspect: str = "callable",
) -> tuple[Verdict, ProbeComparison]:
    """The verdict of an output-agreement test; refuses a calibration made for another plan."""
    calibration = bound_calibration(plan, calibrations)
    comparison = probe_suspect(fingerprint, secrets, oracle, plan)
    compared = {"owner": "sha256:" + fingerprint.model_digest, "suspect": suspect,
                "fingerprint_commitment": fingerprint.commitment, "estimator": plan.estimator}
    verdict = compute_verdict(comparison.similarities[:, None], calibration, compared=compared)
    return verdict, comparison


def calibrate_probes(
    fingerprint: Fingerprint,
    secrets: FingerprintSecrets,
    negatives: Sequence[NormalizedModel],
    plan: QueryPlan,
    target_fpr: float = 0.01,
) -> dict[str, Calibration]:
    """The null of the output-agreement test for `plan`, from independent negatives."""
    digests = [m.digest for m in negatives]
    if len(set(digests)) != len(digests):
        raise InputError("Two calibration negatives compute the same function (same digest).")
    if "sha256:" + fingerprint.model_digest in digests:
        raise InputError("The fingerprinted model itself is among the negatives.")
    sims = [probe_suspect(fingerprint, secrets, onnx_oracle(m, plan.kind, plan.top_k),
                          plan).similarities for m in negatives]
    fitted = fit_calibration(np.stack(sims), digests, target_fpr=target_fpr,
                             anchor_commitment=fingerprint.commitment)
    return {plan.estimator: fitted}

