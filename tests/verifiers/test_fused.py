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
