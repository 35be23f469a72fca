"""Verdicts: the decision rule, thin-margin detection, uncalibrated behaviour, JSON shape."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from modelgif.errors import InputError
from modelgif.validation import FloatArray
from modelgif.verifiers.calibration import Calibration, fit_calibration
from modelgif.verifiers.verdict import LIMITATIONS, Verdict, compute_verdict, decide

N_ANCHORS, N_STEPS, M_NULL = 64, 8, 20


def population(
    rng: np.random.Generator, spread: float = 0.5, n: int = N_ANCHORS
) -> tuple[FloatArray, FloatArray]:
    """Per-anchor null means and sds; `spread` = log-sd of the sds around 0.02."""
    return rng.normal(0.0, 0.05, n), 0.02 * np.exp(rng.normal(0.0, spread, n))


def draw(
    rng: np.random.Generator, pop: tuple[FloatArray, FloatArray], k: int, rho: float
) -> FloatArray:
    mu, sd = pop
    shared = math.sqrt(rho) * rng.normal(size=(k, 1))
    return mu + sd * (shared + math.sqrt(1.0 - rho) * rng.normal(size=(k, mu.size)))


def as_cosines(rng: np.random.Generator, sims: FloatArray) -> FloatArray:
    """(N,) per-anchor similarities -> (N, S) cosines whose step-mean is exactly sims."""
    steps = rng.normal(0.0, 0.05, size=(sims.size, N_STEPS))
    return sims[:, None] + steps - steps.mean(axis=1, keepdims=True)


def ids(m: int) -> list[str]:
    return [f"null-{i}" for i in range(m)]


def calibrate(
    rng: np.random.Generator, pop: tuple[FloatArray, FloatArray], rho: float
) -> Calibration:
    return fit_calibration(draw(rng, pop, M_NULL, rho), ids(M_NULL), n_bootstrap=300)


# ----------------------------------------------------------------------------- decision rule


@pytest.mark.parametrize(
    ("t", "p", "expected"),
    [
        (5.1, 0.001, "derived"),
        (5.0, 0.001, "inconclusive"),  # at the threshold is not beyond it
        (5.1, 0.01, "inconclusive"),  # p must be below the target, not equal
        (5.1, 0.02, "inconclusive"),
        (0.5, 0.3, "inconclusive"),
        (0.0, 0.5, "inconclusive"),
        (-0.1, 0.51, "independent"),
    ],
)
def test_decision_boundaries(t: float, p: float, expected: str) -> None:
    assert decide(t, threshold=5.0, p_value=p, target_fpr=0.01, independent_p=0.5) == expected


def test_thin_mean_margin_with_consistent_shift_is_flagged_derived() -> None:
    rng = np.random.default_rng(11)
    flagged, margins, strengths = 0, [], []
    for _ in range(20):
        pop = population(rng, spread=0.0)  # every anchor: null sd 0.02
        cal = calibrate(rng, pop, rho=0.0)
        null_raw = draw(rng, pop, M_NULL, 0.0).mean(axis=1)
        suspect = draw(rng, pop, 1, 0.0)[0] + 0.02  # higher by one null sd at every anchor
        verdict = compute_verdict(as_cosines(rng, suspect), cal)
        flagged += verdict.decision == "derived"
        margins.append(verdict.mean_similarity - null_raw.mean())
        assert verdict.statistic is not None and verdict.threshold is not None
        strengths.append(verdict.statistic / verdict.threshold)
    assert flagged >= 19
    assert 0.01 < np.median(margins) < 0.03  # in raw distance units the margin is thin
    assert np.median(strengths) > 1.5  # in units of the null it is not


def test_per_anchor_standardisation_beats_the_calibrated_raw_mean() -> None:
    """With heterogeneous anchors, z-weighting finds shifts the mean distance misses."""
    rng = np.random.default_rng(12)
    per_anchor = raw_mean = 0
    for _ in range(60):
        pop = population(rng, spread=0.8)
        null = draw(rng, pop, M_NULL, 0.02)
        cal = fit_calibration(null, ids(M_NULL), n_bootstrap=200, statistic="anchor-z")
        cal_raw = fit_calibration(null.mean(axis=1, keepdims=True), ids(M_NULL), n_bootstrap=200,
                                  statistic="anchor-z")
        suspect = draw(rng, pop, 1, 0.02)[0] + 0.02
        per_anchor += compute_verdict(as_cosines(rng, suspect), cal).decision == "derived"
        mean_only = np.array([[suspect.mean()]])
        raw_mean += compute_verdict(mean_only, cal_raw).decision == "derived"
    assert per_anchor >= 50
    assert per_anchor - raw_mean >= 15


def test_independent_suspects_are_rarely_derived_and_often_independent() -> None:
    rng = np.random.default_rng(13)
    decisions: list[str] = []
    for _ in range(15):
        pop = population(rng)
        cal = calibrate(rng, pop, rho=0.2)
        for sims in draw(rng, pop, 20, 0.2):
            decisions.append(compute_verdict(as_cosines(rng, sims), cal).decision)
    share = {d: decisions.count(d) / len(decisions) for d in ("derived", "independent")}
    assert share["derived"] <= 0.02
    assert 0.35 <= share["independent"] <= 0.65  # p > 0.5 for about half of the null


def test_calibrated_verdict_carries_its_evidence() -> None:
    rng = np.random.default_rng(14)
    pop = population(rng)
    cal = calibrate(rng, pop, rho=0.1)
    verdict = compute_verdict(
        as_cosines(rng, pop[0] + 0.3), cal, compared={"owner": "sha256:a", "suspect": "sha256:b"}
    )
    assert verdict.decision == "derived" and verdict.calibrated
    assert verdict.p_value is not None and verdict.p_value < 1e-6
    assert verdict.p_value_empirical == pytest.approx(1 / 21)
    assert verdict.fpr_bound_empirical == pytest.approx(cal.fpr_bound_empirical)
    assert verdict.anchor_z is not None and len(verdict.anchor_z) == N_ANCHORS
    assert verdict.anchor_summary["fraction_z_positive"] == 1.0
    assert verdict.mean_distance == pytest.approx(1.0 - verdict.mean_similarity)
    assert any("M=20" in note for note in verdict.notes)
    data = json.loads(verdict.to_json())
    assert data["schema"] == "modelgif.verdict/v1"
    assert data["compared"] == {"owner": "sha256:a", "suspect": "sha256:b"}
    assert data["decision"] == "derived" and len(data["anchor_similarity"]) == N_ANCHORS
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.decision = "independent"  # type: ignore[misc]
    with pytest.raises(TypeError):
        verdict.compared["suspect"] = "x"  # type: ignore[index]


# ----------------------------------------------------------------------------- uncalibrated


def test_uncalibrated_is_inconclusive_even_for_an_identical_copy() -> None:
    verdict = compute_verdict(np.ones((16, 4)))
    assert verdict.decision == "inconclusive" and not verdict.calibrated
    assert verdict.mean_similarity == 1.0 and verdict.mean_distance == 0.0
    assert verdict.statistic is None and verdict.threshold is None and verdict.p_value is None
    assert verdict.notes[0].startswith("UNCALIBRATED")
    assert set(LIMITATIONS) <= set(verdict.notes)
    data = json.loads(verdict.to_json())
    assert data["calibrated"] is False and data["p_value"] is None


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_input_error() -> None:
    rng = np.random.default_rng(15)
    pop = population(rng, n=16)
    cal = fit_calibration(draw(rng, pop, 8, 0.1), ids(8), n_bootstrap=50)
    good = as_cosines(rng, pop[0])
    with pytest.raises(InputError, match=r"one value per calibrated anchor \(16\). Got 15."):
        compute_verdict(good[:15], cal)
    with pytest.raises(InputError, match=r"'compared' parameter of compute_verdict\(\)"):
        compute_verdict(good, cal, compared={"suspect": "null-3"})
    with pytest.raises(InputError, match="map names to digest strings"):
        compute_verdict(good, cal, compared={"suspect": 3})  # type: ignore[dict-item]
    with pytest.raises(InputError, match=r"must have shape \(N anchors, S steps\)"):
        compute_verdict(np.stack([good, good]), cal)
    with pytest.raises(InputError, match=r"'independent_p' parameter of compute_verdict\(\)"):
        compute_verdict(good, cal, independent_p=1.5)
    with pytest.raises(InputError, match="cosines in"):
        compute_verdict(good + 2.0, cal)
    with pytest.raises(InputError, match="'decision' parameter of Verdict"):
        Verdict(
            decision="stolen",  # type: ignore[arg-type]
            calibrated=False,
            mean_similarity=0.0,
            mean_distance=1.0,
            n_anchors=1,
            n_steps=1,
            anchor_similarity=(0.0,),
        )
