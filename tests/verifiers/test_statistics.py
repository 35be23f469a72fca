"""Pure statistics (similarity, null_moments, tails, rates): checked against what they promise.

The functions call scipy.stats; these tests check the definitions modelgif relies on (a
tolerance bound covers at its stated confidence, by simulation; each bound inverts the
other; a Clopper-Pearson bound puts exactly 1 - confidence on the observed count).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelgif.errors import InputError
from modelgif.verifiers import null_moments, rates, similarity, tails

# ----------------------------------------------------------------------------- similarity


def test_mean_similarity_is_one_minus_reference_distance() -> None:
    rng = np.random.default_rng(0)
    cos = rng.uniform(-1.0, 1.0, size=(7, 5))
    sims = similarity.per_anchor_similarity(cos)
    assert sims.shape == (7,)
    np.testing.assert_allclose(sims, cos.mean(axis=1))
    assert math.isclose(similarity.mean_cosine_distance(cos), 1.0 - sims.mean(), rel_tol=1e-12)


def test_median_reducer_and_stacked_models() -> None:
    cos = np.array([[0.1, 0.2, 0.9], [0.0, 0.0, -0.6]])
    np.testing.assert_allclose(similarity.per_anchor_similarity(cos, "median"), [0.2, 0.0])
    stacked = np.stack([cos, -cos])
    assert similarity.per_anchor_similarity(stacked).shape == (2, 2)


@pytest.mark.parametrize(
    ("cosines", "fragment"),
    [
        (np.array([0.1, 0.2]), "non-empty dimension(s). Got shape (2,)"),
        (np.zeros((0, 3)), "Got shape (0, 3)"),
        (np.array([[0.1, np.nan]]), "no NaN or infinity. Got 1 non-finite"),
        (np.array([[1.5, 0.2]]), "cosines in [-1, 1]. Got a value of magnitude 1.5"),
        ("abc", "Got str"),
    ],
)
def test_bad_cosines_raise_input_error_with_template(cosines: object, fragment: str) -> None:
    with pytest.raises(InputError, match=r"^The 'cosines' parameter of per_anchor_similarity\(\)"):
        similarity.per_anchor_similarity(cosines)  # type: ignore[arg-type]
    with pytest.raises(InputError) as info:
        similarity.per_anchor_similarity(cosines)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_bad_reducer_is_rejected() -> None:
    with pytest.raises(InputError, match="'reducer' parameter of per_anchor_similarity"):
        similarity.per_anchor_similarity(np.zeros((2, 2)), "trimmed")


def test_float32_rounding_past_one_is_tolerated() -> None:
    cos = np.array([[1.0 + 1e-7, 1.0]], dtype=np.float64)
    assert similarity.per_anchor_similarity(cos)[0] == 1.0


def test_null_moments_shrink_a_degenerate_anchor() -> None:
    rng = np.random.default_rng(1)
    null = rng.normal(0.0, 0.02, size=(10, 8))
    null[:, 3] = 0.05  # every null model agrees exactly at anchor 3
    mu, sd = null_moments.fit_null_moments(null, prior_df=4.0)
    assert mu[3] == pytest.approx(0.05)
    pooled = np.median(null.var(axis=0, ddof=1))
    assert sd[3] == pytest.approx(math.sqrt(4.0 * pooled / 13.0))
    _, raw = null_moments.fit_null_moments(null, prior_df=0.0)
    np.testing.assert_allclose(np.delete(raw, 3), np.delete(null.std(axis=0, ddof=1), 3))
    assert raw[3] == 1e-6  # only the absolute floor is left


def test_standardise_and_stouffer() -> None:
    z = null_moments.standardise([0.3, 0.1], [0.1, 0.1], [0.1, 0.05], z_clip=1.5)
    np.testing.assert_allclose(z, [1.5, 0.0])
    assert null_moments.stouffer([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2.0)


# ----------------------------------------------------------------------------- distributions


def test_normal_tails_at_known_quantiles() -> None:
    assert float(tails.normal_sf(1.959963984540054)) == pytest.approx(0.025, rel=1e-9)
    assert float(tails.normal_sf(30.0)) == pytest.approx(4.906713927148187e-198, rel=1e-6)
    assert tails.normal_ppf(0.01) == pytest.approx(-2.3263478740408408, rel=1e-12)
    x = np.linspace(-8.0, 8.0, 33)
    np.testing.assert_allclose(tails.normal_sf(x) + tails.normal_sf(-x), 1.0, rtol=1e-12)


@pytest.mark.parametrize("df", [4, 9, 19, 39, 199])
def test_student_t_tail_is_heavier_than_normal_and_tends_to_it(df: int) -> None:
    for x in (0.7, 2.5, 6.0):
        assert tails.student_t_sf(x, df) > float(tails.normal_sf(x))
    assert tails.student_t_sf(0.0, df) == pytest.approx(0.5)
    assert tails.student_t_sf(2.0, 10**6) == pytest.approx(float(tails.normal_sf(2.0)), rel=1e-4)


@pytest.mark.parametrize("n", [5, 10, 20])
def test_tolerance_threshold_covers_at_its_stated_confidence(n: int) -> None:
    """By simulation: m + k s lies above the true 99 % quantile in 95 % of Gaussian nulls."""
    fpr, confidence, trials = 0.01, 0.95, 40_000
    k = tails.gaussian_tolerance_factor(fpr, confidence, n)
    draws = np.random.default_rng(n).standard_normal((trials, n))
    thresholds = draws.mean(axis=1) + k * draws.std(axis=1, ddof=1)
    covered = float(np.mean(thresholds >= -tails.normal_ppf(fpr)))
    assert covered == pytest.approx(confidence, abs=4 * math.sqrt(0.05 * 0.95 / trials))


@pytest.mark.parametrize("n", [5, 10, 20, 40])
@pytest.mark.parametrize(("fpr", "confidence"), [(0.01, 0.95), (0.05, 0.9), (0.001, 0.99)])
def test_fpr_bound_inverts_the_tolerance_factor(n: int, fpr: float, confidence: float) -> None:
    k = tails.gaussian_tolerance_factor(fpr, confidence, n)
    assert k > -tails.normal_ppf(fpr)  # the unknown mean and sd cost margin
    assert tails.gaussian_fpr_upper_bound(k, n, confidence) == pytest.approx(fpr, rel=1e-5)
    assert tails.gaussian_fpr_upper_bound(k + 0.5, n, confidence) < fpr


def test_fpr_upper_bound_extremes() -> None:
    assert tails.gaussian_fpr_upper_bound(-50.0, 20, 0.95) == 1.0
    assert tails.gaussian_fpr_upper_bound(1e4, 20, 0.95) < 1e-100
    with pytest.raises(InputError, match="'k' parameter of gaussian_fpr_upper_bound"):
        tails.gaussian_fpr_upper_bound(float("nan"), 20, 0.95)


def _binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1.0 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize(("k", "n"), [(0, 20), (1, 20), (5, 40), (3, 200), (19, 20)])
def test_clopper_pearson_bounds_leave_the_stated_tail(k: int, n: int) -> None:
    """The upper bound p_u solves P(X <= k | p_u) = 1 - confidence (exact, by definition)."""
    upper = rates.clopper_pearson_upper(k, n, 0.95)
    assert _binomial_cdf(k, n, upper) == pytest.approx(0.05, rel=1e-6)
    low, high = rates.clopper_pearson_interval(k, n, 0.9)
    assert high == pytest.approx(upper, rel=1e-12)
    if k == 0:
        assert low == 0.0
    else:
        assert 1.0 - _binomial_cdf(k - 1, n, low) == pytest.approx(0.05, rel=1e-6)


def test_twenty_negatives_support_only_a_fourteen_percent_bound() -> None:
    assert rates.clopper_pearson_upper(0, 20, 0.95) == pytest.approx(0.1391, abs=1e-4)
    assert rates.clopper_pearson_upper(20, 20) == 1.0
    with pytest.raises(InputError, match=r"'k' parameter of clopper_pearson_upper\(\)"):
        rates.clopper_pearson_upper(21, 20)


def test_empirical_p_value_counts_ties_against_the_suspect() -> None:
    null = [0.0, 1.0, 2.0, 3.0]
    assert rates.empirical_p_value(2.0, null) == pytest.approx(3 / 5)
    assert rates.empirical_p_value(10.0, null) == pytest.approx(1 / 5)
    assert rates.empirical_p_value(-10.0, null) == 1.0
