"""Pure statistics: each hand-rolled distribution function against scipy, metrics by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score

from modelgif.errors import InputError
from modelgif.verifiers import statistics as S

# ----------------------------------------------------------------------------- similarity


def test_mean_similarity_is_one_minus_reference_distance() -> None:
    rng = np.random.default_rng(0)
    cos = rng.uniform(-1.0, 1.0, size=(7, 5))
    sims = S.per_anchor_similarity(cos)
    assert sims.shape == (7,)
    np.testing.assert_allclose(sims, cos.mean(axis=1))
    assert math.isclose(S.mean_cosine_distance(cos), 1.0 - sims.mean(), rel_tol=1e-12)


def test_median_reducer_and_stacked_models() -> None:
    cos = np.array([[0.1, 0.2, 0.9], [0.0, 0.0, -0.6]])
    np.testing.assert_allclose(S.per_anchor_similarity(cos, "median"), [0.2, 0.0])
    stacked = np.stack([cos, -cos])
    assert S.per_anchor_similarity(stacked).shape == (2, 2)


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
        S.per_anchor_similarity(cosines)  # type: ignore[arg-type]
    with pytest.raises(InputError) as info:
        S.per_anchor_similarity(cosines)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_bad_reducer_is_rejected() -> None:
    with pytest.raises(InputError, match="'reducer' parameter of per_anchor_similarity"):
        S.per_anchor_similarity(np.zeros((2, 2)), "trimmed")


def test_float32_rounding_past_one_is_tolerated() -> None:
    cos = np.array([[1.0 + 1e-7, 1.0]], dtype=np.float64)
    assert S.per_anchor_similarity(cos)[0] == 1.0


def test_null_moments_shrink_a_degenerate_anchor() -> None:
    rng = np.random.default_rng(1)
    null = rng.normal(0.0, 0.02, size=(10, 8))
    null[:, 3] = 0.05  # every null model agrees exactly at anchor 3
    mu, sd = S.fit_null_moments(null, prior_df=4.0)
    assert mu[3] == pytest.approx(0.05)
    pooled = np.median(null.var(axis=0, ddof=1))
    assert sd[3] == pytest.approx(math.sqrt(4.0 * pooled / 13.0))
    _, raw = S.fit_null_moments(null, prior_df=0.0)
    np.testing.assert_allclose(np.delete(raw, 3), np.delete(null.std(axis=0, ddof=1), 3))
    assert raw[3] == 1e-6  # only the absolute floor is left


def test_standardise_and_stouffer() -> None:
    z = S.standardise([0.3, 0.1], [0.1, 0.1], [0.1, 0.05], z_clip=1.5)
    np.testing.assert_allclose(z, [1.5, 0.0])
    assert S.stouffer([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2.0)


# ----------------------------------------------------------------------------- distributions


def test_normal_sf_matches_scipy_into_the_far_tail() -> None:
    x = np.linspace(-8.0, 35.0, 500)
    np.testing.assert_allclose(S.normal_sf(x), stats.norm.sf(x), rtol=2e-7)
    for p in (1e-12, 0.01, 0.5, 0.975):
        assert S.normal_ppf(p) == pytest.approx(stats.norm.ppf(p), rel=1e-9)


@pytest.mark.parametrize("df", [4, 9, 19, 39, 199])
def test_student_t_sf_matches_scipy(df: int) -> None:
    for x in (-3.0, 0.0, 0.7, 2.5, 6.0):
        assert S.student_t_sf(x, df) == pytest.approx(stats.t.sf(x, df), rel=1e-5)


@pytest.mark.parametrize("n", [5, 10, 20, 40])
@pytest.mark.parametrize(("fpr", "confidence"), [(0.01, 0.95), (0.05, 0.9), (0.001, 0.99)])
def test_tolerance_factor_matches_noncentral_t(n: int, fpr: float, confidence: float) -> None:
    exact = stats.nct.ppf(confidence, n - 1, -stats.norm.ppf(fpr) * math.sqrt(n)) / math.sqrt(n)
    k = S.gaussian_tolerance_factor(fpr, confidence, n)
    assert k == pytest.approx(exact, rel=1e-6)
    assert S.gaussian_fpr_upper_bound(k, n, confidence) == pytest.approx(fpr, rel=1e-5)


def test_fpr_upper_bound_extremes() -> None:
    assert S.gaussian_fpr_upper_bound(-50.0, 20, 0.95) == 1.0
    assert S.gaussian_fpr_upper_bound(1e4, 20, 0.95) < 1e-100
    with pytest.raises(InputError, match="'k' parameter of gaussian_fpr_upper_bound"):
        S.gaussian_fpr_upper_bound(float("nan"), 20, 0.95)


@pytest.mark.parametrize(("k", "n"), [(0, 20), (1, 20), (5, 40), (3, 1000), (19, 20)])
def test_clopper_pearson_matches_beta_quantiles(k: int, n: int) -> None:
    assert S.clopper_pearson_upper(k, n, 0.95) == pytest.approx(
        stats.beta.ppf(0.95, k + 1, n - k), rel=1e-9
    )
    low, high = S.clopper_pearson_interval(k, n, 0.9)
    assert high == pytest.approx(stats.beta.ppf(0.95, k + 1, n - k), rel=1e-9)
    expected_low = 0.0 if k == 0 else stats.beta.ppf(0.05, k, n - k + 1)
    assert low == pytest.approx(expected_low, rel=1e-7, abs=1e-12)


def test_twenty_negatives_support_only_a_fourteen_percent_bound() -> None:
    assert S.clopper_pearson_upper(0, 20, 0.95) == pytest.approx(0.1391, abs=1e-4)
    assert S.clopper_pearson_upper(20, 20) == 1.0
    with pytest.raises(InputError, match=r"'k' parameter of clopper_pearson_upper\(\)"):
        S.clopper_pearson_upper(21, 20)


def test_empirical_p_value_counts_ties_against_the_suspect() -> None:
    null = [0.0, 1.0, 2.0, 3.0]
    assert S.empirical_p_value(2.0, null) == pytest.approx(3 / 5)
    assert S.empirical_p_value(10.0, null) == pytest.approx(1 / 5)
    assert S.empirical_p_value(-10.0, null) == 1.0


# ----------------------------------------------------------------------------- metrics


def test_roc_auc_by_hand_and_against_sklearn() -> None:
    assert S.roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert S.roc_auc([0.0, 1.0], [2.0, 3.0]) == 0.0
    assert S.roc_auc([1.0], [1.0]) == 0.5
    rng = np.random.default_rng(2)
    pos = rng.integers(0, 6, 40).astype(float)  # many ties
    neg = rng.integers(0, 5, 25).astype(float)
    labels = np.r_[np.ones(40), np.zeros(25)]
    assert S.roc_auc(pos, neg) == pytest.approx(roc_auc_score(labels, np.r_[pos, neg]))


small_lists = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(pos=small_lists, neg=small_lists)
def test_roc_auc_is_antisymmetric_and_rank_invariant(pos: list[float], neg: list[float]) -> None:
    auc = S.roc_auc(pos, neg)
    assert 0.0 <= auc <= 1.0
    assert auc + S.roc_auc(neg, pos) == pytest.approx(1.0)
    # scaling by a power of two is exact and strictly increasing: ranks cannot change
    assert S.roc_auc(np.ldexp(pos, 5), np.ldexp(neg, 5)) == pytest.approx(auc)


def test_tpr_at_fpr_with_few_negatives_means_no_false_positive() -> None:
    neg = np.arange(20, dtype=float)  # 0..19
    pos = np.array([18.5, 19.5, 25.0, 5.0])
    assert S.tpr_at_fpr(pos, neg, 0.01) == pytest.approx(0.5)  # above max(neg) = 19
    assert S.tpr_at_fpr(pos, neg, 0.1) == pytest.approx(0.75)  # 2 negatives may exceed: > 17
    assert S.tpr_at_fpr(pos, neg, 1.0) == 1.0


def test_bootstrap_ci_is_seeded_and_covers() -> None:
    rng_data = np.random.default_rng(3)
    x = rng_data.normal(1.0, 1.0, 200)

    def mean(a: np.ndarray) -> float:
        return float(a.mean())

    a = S.bootstrap_ci(mean, [x], rng=np.random.default_rng(7), n_resamples=500)
    b = S.bootstrap_ci(mean, [x], rng=np.random.default_rng(7), n_resamples=500)
    c = S.bootstrap_ci(mean, [x], rng=np.random.default_rng(8), n_resamples=500)
    assert a == b and a != c
    assert a[0] < x.mean() < a[1]
    assert a[1] - a[0] == pytest.approx(2 * 1.96 / math.sqrt(200), rel=0.2)
    auc_ci = S.bootstrap_ci(S.roc_auc, [x + 1.0, x], rng=np.random.default_rng(1), n_resamples=200)
    assert 0.5 < auc_ci[0] < auc_ci[1] <= 1.0


def test_bootstrap_refuses_a_seed_instead_of_a_generator() -> None:
    with pytest.raises(InputError, match=r"'rng' parameter of bootstrap_ci\(\) must be a numpy"):
        S.bootstrap_ci(np.mean, [[1.0, 2.0]], rng=42)  # type: ignore[arg-type]
