"""Calibration: thresholds hold their FPR on simulated correlated nulls; the record round-trips.

The simulation: each "population" of independent models has per-anchor null means (spread
0.05) and heterogeneous per-anchor sds (median 0.02). A model's similarity at anchor n is
mu_n + sd_n (sqrt(rho) f + sqrt(1 - rho) e_n): f is a model-level factor (some independent
models simply agree more with the owner everywhere), which correlates the anchors, so
sum z / sqrt(N) is NOT N(0, 1) and only an empirical null can calibrate it.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats

from modelgif.errors import InputError
from modelgif.validation import FloatArray
from modelgif.verifiers.calibration import (
    STATISTICS,
    Calibration,
    fit_calibration,
    loo_null_statistics,
    p_values,
    score,
)
from modelgif.verifiers.null_moments import standardise

N_ANCHORS = 64
M_NULL = 20


def population(rng: np.random.Generator, n: int = N_ANCHORS) -> tuple[FloatArray, FloatArray]:
    return rng.normal(0.0, 0.05, n), 0.02 * np.exp(rng.normal(0.0, 0.5, n))


def draw(
    rng: np.random.Generator, pop: tuple[FloatArray, FloatArray], k: int, rho: float
) -> FloatArray:
    mu, sd = pop
    factor = rng.normal(size=(k, 1))
    noise = rng.normal(size=(k, mu.size))
    return mu + sd * (math.sqrt(rho) * factor + math.sqrt(1.0 - rho) * noise)


def ids(m: int) -> list[str]:
    return [f"sha256:{i:064x}" for i in range(m)]


def fresh_statistics(cal: Calibration, sims: FloatArray) -> FloatArray:
    z = standardise(sims, cal.mu, cal.sd, cal.z_clip)
    return np.asarray(z.sum(axis=1) / math.sqrt(z.shape[1]))


def test_threshold_holds_its_fpr_on_fresh_correlated_nulls() -> None:
    rng = np.random.default_rng(2024)
    realised, bounds, naive = [], [], []
    for rep in range(60):
        pop = population(rng)
        cal = fit_calibration(draw(rng, pop, M_NULL, 0.2), ids(M_NULL), n_bootstrap=400, seed=rep,
                              statistic="anchor-z")
        t_fresh = fresh_statistics(cal, draw(rng, pop, 4000, 0.2))
        realised.append(float(np.mean(t_fresh > cal.threshold)))
        bounds.append(cal.fpr_bound)
        naive.append(float(np.mean(t_fresh > 2.326)))  # "Stouffer is N(0, 1)" at 1 %
    realised_a = np.array(realised)
    mc_error = math.sqrt(0.01 * 0.99 / (4000 * 60))
    assert realised_a.mean() <= 0.01 + 3 * mc_error
    assert np.mean(realised_a <= 0.01) >= 0.85  # nominal 95 % confidence
    assert np.mean(realised_a <= np.array(bounds) + 0.002) >= 0.85  # the stated bound holds
    assert all(b <= 0.01 + 1e-9 for b in bounds)
    assert np.mean(naive) > 0.1  # the uncalibrated reading would be wildly wrong


def test_parametric_p_values_are_uniform_under_the_null() -> None:
    """One fresh null suspect per fitted calibration, so the p-values are i.i.d."""
    rng = np.random.default_rng(7)
    p_param, p_emp = [], []
    for rep in range(800):
        pop = population(rng)
        cal = fit_calibration(draw(rng, pop, M_NULL, 0.1), ids(M_NULL), n_bootstrap=20, seed=rep,
                              statistic="anchor-z")
        p, e = p_values(cal, float(fresh_statistics(cal, draw(rng, pop, 1, 0.1))[0]))
        p_param.append(p)
        p_emp.append(e)
    pp, pe = np.array(p_param), np.array(p_emp)
    assert stats.kstest(pp, "uniform").pvalue > 1e-3
    for level in (0.05, 0.1, 0.2, 0.5):
        se = math.sqrt(level * (1 - level) / pp.size)
        assert abs(np.mean(pp <= level) - level) < 3.5 * se  # neither liberal nor conservative
        assert np.mean(pe <= level) <= level + 3.5 * se  # the rank p-value is never liberal


def test_twenty_negatives_are_reported_honestly() -> None:
    rng = np.random.default_rng(3)
    cal = fit_calibration(draw(rng, population(rng), M_NULL, 0.2), ids(M_NULL),
                          statistic="anchor-z")
    assert cal.threshold >= cal.threshold_parametric
    assert cal.threshold >= cal.threshold_bootstrap
    assert cal.threshold >= cal.null_statistics.max()
    assert cal.n_null_exceeding == 0
    assert cal.fpr_bound_empirical == pytest.approx(1 - 0.05 ** (1 / 20))  # ~0.139
    assert 0.0 <= cal.fpr_ci[0] <= cal.fpr_ci[1] <= 1.0
    assert cal.fpr_estimate <= cal.fpr_bound <= cal.target_fpr + 1e-12


def test_leave_one_out_excludes_the_model_itself() -> None:
    rng = np.random.default_rng(4)
    null = draw(rng, population(rng, 16), 8, 0.0)
    null[0] += 0.5  # an outlier: in-sample it would inflate its own mu and sd
    loo = loo_null_statistics(null, prior_df=4.0, z_clip=None)
    rest = np.delete(null, 0, axis=0)
    mu = rest.mean(axis=0)
    var = rest.var(axis=0, ddof=1)
    sd = np.sqrt((6 * var + 4 * np.median(var)) / 10)
    assert loo[0] == pytest.approx(np.sum((null[0] - mu) / sd) / 4.0)
    assert loo[0] > 10.0


def test_fit_is_deterministic_and_accepts_cosines() -> None:
    rng = np.random.default_rng(5)
    sims = draw(rng, population(rng, 12), 10, 0.1)
    steps = rng.normal(0.0, 0.01, size=(10, 12, 6))
    cosines = sims[:, :, None] + steps - steps.mean(axis=2, keepdims=True)
    a = fit_calibration(sims, ids(10), seed=11, n_bootstrap=300)
    b = fit_calibration(cosines, ids(10), seed=11, n_bootstrap=300)
    np.testing.assert_allclose(a.mu, b.mu)
    assert a.threshold == pytest.approx(b.threshold)
    assert a.fpr_ci == pytest.approx(b.fpr_ci)


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_record_round_trips_through_json(statistic: str) -> None:
    rng = np.random.default_rng(6)
    cal = fit_calibration(
        draw(rng, population(rng, 32), 12, 0.1), ids(12), anchor_commitment="sha256:abc",
        statistic=statistic,
    )
    text = json.dumps(cal.to_dict(), allow_nan=False)
    back = Calibration.from_dict(json.loads(text))
    assert back.to_dict() == cal.to_dict()
    np.testing.assert_array_equal(back.mu, cal.mu)
    assert back.null_ids == cal.null_ids and back.method == STATISTICS[statistic]
    assert p_values(back, 3.0) == p_values(cal, 3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.threshold = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        cal.mu[0] = 1.0


def _record() -> dict[str, object]:
    rng = np.random.default_rng(8)
    return fit_calibration(draw(rng, population(rng, 8), 6, 0.1), ids(6)).to_dict()


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("sd", [0.1] * 7, "The 'sd' parameter of Calibration must have length 8. Got 7."),
        ("sd", [0.1] * 7 + [-0.1], "The 'sd' parameter of Calibration must be positive"),
        ("mu", [0.0] * 7 + [float("nan")], "The 'mu' parameter of Calibration must be"),
        ("null_ids", ["a"] * 6, "The 'null_ids' parameter of Calibration must be 6 distinct"),
        ("null_ids", ["a", "b"], "Got 2."),
        ("null_statistics", [0.0, 1.0], "Got 2."),
        ("threshold", -1e3, "The 'threshold' parameter of Calibration must be at least"),
        ("target_fpr", 0.7, "The 'target_fpr' parameter of Calibration must be a number"),
        ("fpr_ci", [0.2, 0.1], "The 'fpr_ci' parameter of Calibration"),
        ("n_null_exceeding", 9, "The 'n_null_exceeding' parameter of Calibration"),
        ("null_mean", 123.0, "The 'null_mean' parameter of Calibration must be consistent"),
        ("null_sd", 9.0, "The 'null_sd' parameter of Calibration must be consistent"),
        ("method", "other/v0", "The 'method' parameter of Calibration must be one of"),
        ("reducer", "mode", "The 'reducer' parameter of Calibration"),
    ],
)
def test_from_dict_rejects_bad_values(key: str, value: object, fragment: str) -> None:
    data = _record()
    data[key] = value
    with pytest.raises(InputError) as info:
        Calibration.from_dict(data)
    assert fragment in str(info.value)


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    data = _record()
    data["extra"] = 1
    del data["sd"]
    with pytest.raises(InputError, match=r"unknown \['extra'\] and missing \['sd'\]"):
        Calibration.from_dict(data)
    with pytest.raises(InputError, match="must be a mapping"):
        Calibration.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"null_similarities": np.zeros((4, 8))}, "at least 5 null models (rows). Got 4."),
        ({"null_similarities": np.full((6, 8), np.nan)}, "no NaN or infinity"),
        ({"null_similarities": np.zeros((6, 8))}, "must vary across null models"),
        ({"target_fpr": 0.7}, "The 'target_fpr' parameter of fit_calibration()"),
        ({"null_ids": ids(5)}, "The 'null_ids' parameter of Calibration must be 6 distinct"),
        ({"reducer": "mode"}, "The 'reducer' parameter of fit_calibration()"),
        ({"null_ids": "abcdef"}, "The 'null_ids' parameter of fit_calibration() must be a seq"),
        ({"prior_df": -1.0}, "The 'prior_df' parameter of fit_calibration()"),
        ({"null_similarities": np.zeros((4, 8, 3))}, "at least 5 null models (rows). Got 4."),
    ],
)
def test_fit_rejects_bad_input(kwargs: dict[str, object], fragment: str) -> None:
    rng = np.random.default_rng(9)
    args: dict[str, object] = {
        "null_similarities": draw(rng, population(rng, 8), 6, 0.1),
        "null_ids": ids(6),
    }
    args.update(kwargs)
    with pytest.raises(InputError) as info:
        fit_calibration(**args)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_log_agreement_holds_its_fpr_and_gives_uniform_p_values() -> None:
    """The default statistic on simulated nulls in the range real fields show (0.2-0.8).

    Each repetition fits M = 20 negatives, then scores 2,000 fresh null models through
    score(): the realised FPR at the threshold stays at or below the target (1 %) on
    average, and the parametric p-values of fresh nulls are uniform.
    """
    rng = np.random.default_rng(77)
    realised, p_fresh = [], []
    for rep in range(40):
        mu, sd = population(rng)
        pop = (0.5 + 4 * mu, 3 * sd)  # centred at 0.5, per-anchor spread ~0.06
        cal = fit_calibration(np.clip(draw(rng, pop, M_NULL, 0.3), -1, 1), ids(M_NULL),
                              n_bootstrap=200, seed=rep)
        assert cal.method == STATISTICS["log-agreement"]
        fresh = np.clip(draw(rng, pop, 2000, 0.3), -1, 1)
        stats_ = np.array([score(cal, row)[1] for row in fresh])
        realised.append(float(np.mean(stats_ > cal.threshold)))
        p_fresh += [p_values(cal, t)[0] for t in stats_[:25]]
    assert np.mean(realised) <= 0.01
    assert stats.kstest(p_fresh, "uniform").pvalue > 1e-3
