"""Benchmark metrics: AUC, TPR at a fixed FPR and the bootstrap, by hand and by property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelgif.bench import metrics as S
from modelgif.errors import InputError


def test_roc_auc_by_hand_with_ties() -> None:
    assert S.roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert S.roc_auc([0.0, 1.0], [2.0, 3.0]) == 0.0
    assert S.roc_auc([1.0], [1.0]) == 0.5
    rng = np.random.default_rng(2)
    pos = rng.integers(0, 6, 40).astype(float)  # many ties
    neg = rng.integers(0, 5, 25).astype(float)
    # Mann-Whitney by hand: wins plus half the ties, over all pairs
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert S.roc_auc(pos, neg) == pytest.approx(wins / (40 * 25))


def test_roc_auc_equals_scikit_learns() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    for n_pos, n_neg in ((1, 2), (3, 40), (57, 12)):
        pos = np.round(rng.normal(0.3, 1.0, n_pos), 1)  # rounded: ties across the classes
        neg = np.round(rng.normal(0.0, 1.0, n_neg), 1)
        labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
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
