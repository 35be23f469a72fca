from __future__ import annotations

import numpy as np
import pytest

from modelgif.errors import InputError
from modelgif.fingerprint.quadrature import RULES, quadrature


@pytest.mark.parametrize("rule", RULES)
def test_nodes_in_unit_interval_and_weights_sum_to_one(rule: str) -> None:
    q = quadrature(rule, 16)
    assert q.n_steps == 16
    assert np.all((q.nodes >= 0) & (q.nodes <= 1))
    assert np.all(np.diff(q.nodes) > 0)
    assert q.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_gauss_legendre_is_exact_for_polynomials_up_to_degree_2n_minus_1() -> None:
    q = quadrature("gauss-legendre", 8)
    for degree in range(16):
        assert q.integrate(q.nodes**degree) == pytest.approx(1 / (degree + 1), rel=1e-12)
    assert q.nodes[0] > 0 and q.nodes[-1] < 1  # endpoints excluded: never at the baseline


def test_riemann_and_trapezoid_converge() -> None:
    exact = 1 - np.cos(1.0)
    for rule in ("riemann-middle", "trapezoid"):
        errors = [
            abs(quadrature(rule, n).integrate(np.sin(quadrature(rule, n).nodes)) - exact)
            for n in (8, 64)
        ]
        assert errors[1] < errors[0] / 30


def test_rejects_bad_parameters() -> None:
    with pytest.raises(InputError, match="'n_steps' parameter"):
        quadrature("gauss-legendre", 0)
    with pytest.raises(InputError, match="'rule' parameter"):
        quadrature("simpson", 4)
    with pytest.raises(InputError):
        quadrature("trapezoid", 1)


def test_is_read_only_data() -> None:
    q = quadrature()
    with pytest.raises(ValueError):
        q.weights[0] = 1.0
