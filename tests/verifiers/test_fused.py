"""The calibrated scalar test and the fused (max of z's) test: realised FPR on simulated
nulls, and that one strong component is enough."""

from __future__ import annotations

import numpy as np
import pytest

from modelgif.errors import InputError
from modelgif.verifiers.fused import fit_fused, fit_scalar, fused_score


def test_scalar_null_keeps_its_false_positive_rate_on_gaussian_nulls() -> None:
    rng = np.random.default_rng(2)
    flagged = 0
    for _ in range(400):
        null = fit_scalar(rng.normal(size=30))
        flagged += int(null.flags(float(rng.normal())))
    assert flagged / 400 <= 0.02  # target 1 %, threshold holds with 95 % confidence
    with pytest.raises(InputError):
        fit_scalar([1.0, 2.0])


def test_fused_null_of_the_max_is_calibrated_and_detects_either_component() -> None:
    rng = np.random.default_rng(3)
    cov = [[1.0, 0.5], [0.5, 1.0]]
    flagged = 0
    for _ in range(300):
        null = fit_fused(rng.multivariate_normal([0, 0], cov, size=30))
        flagged += int(null.null.flags(fused_score(null, rng.multivariate_normal([0, 0], cov))))
    assert flagged / 300 <= 0.03
    null = fit_fused(rng.multivariate_normal([0, 0], cov, size=30))
    assert null.null.flags(fused_score(null, [0.0, 8.0]))  # one strong component suffices
    assert null.null.flags(fused_score(null, [8.0, 0.0]))


def test_mean_rule_is_calibrated_and_adds_up_moderate_evidence() -> None:
    rng = np.random.default_rng(5)
    flagged = 0
    for _ in range(300):
        null = fit_fused(rng.normal(size=(30, 3)), rule="mean")
        flagged += int(null.null.flags(fused_score(null, rng.normal(size=3))))
    assert flagged / 300 <= 0.03
    values = rng.normal(size=(40, 3))
    by_mean, by_max = fit_fused(values, rule="mean"), fit_fused(values, rule="max")
    moderate = values.mean(axis=0) + 2.6 * values.std(axis=0, ddof=1)  # z = 2.6 on each
    assert by_mean.null.flags(fused_score(by_mean, moderate))
    assert not by_max.null.flags(fused_score(by_max, moderate))
    assert len(by_mean.null_values) == 40
    with pytest.raises(InputError):
        fit_fused(values, rule="sum")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        fused_score(by_mean, [1.0, 2.0])
