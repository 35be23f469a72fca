"""Quadrature rules for path integrals over [0, 1], as plain data.

Why data and not code: the field's numbers depend on the nodes and weights, so they are
echoed into the fingerprint (rule name + number of steps) and rebuilt identically by the
verifier. Gauss-Legendre is the reference rule (the authors use it; endpoints excluded, so
the gradient is never taken at the baseline, where many models are flat); Riemann and
trapezoid rules are here for comparison and ablations. Pure numpy, no model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from modelgif.validation import check_choice, check_int

__all__ = ["MAX_STEPS", "Quadrature", "Rule", "quadrature"]

Rule = Literal["gauss-legendre", "riemann-left", "riemann-right", "riemann-middle", "trapezoid"]
RULES: tuple[str, ...] = get_args(Rule)
MAX_STEPS = 1024


@dataclass(frozen=True)
class Quadrature:
    """Nodes a_k in [0, 1] (increasing) and weights w_k with sum(w) == 1."""

    rule: str
    nodes: np.ndarray
    weights: np.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.nodes.shape[0])

    def integrate(self, values: np.ndarray) -> np.ndarray:
        """sum_k w_k values[k] over the first axis (a check of the rule)."""
        return np.tensordot(self.weights, values, axes=(0, 0))


def quadrature(rule: str = "gauss-legendre", n_steps: int = 16) -> Quadrature:
    """The `n_steps`-point rule on [0, 1]; float64 nodes and weights."""
    check_choice(rule, "rule", "quadrature()", RULES)
    low = 2 if rule == "trapezoid" else 1
    check_int(n_steps, "n_steps", "quadrature()", low, MAX_STEPS)
    n = n_steps
    if rule == "gauss-legendre":
        x, w = np.polynomial.legendre.leggauss(n)
        nodes, weights = (x + 1.0) / 2.0, w / 2.0
    elif rule == "riemann-left":
        nodes, weights = np.arange(n) / n, np.full(n, 1.0 / n)
    elif rule == "riemann-right":
        nodes, weights = np.arange(1, n + 1) / n, np.full(n, 1.0 / n)
    elif rule == "riemann-middle":
        nodes, weights = (np.arange(n) + 0.5) / n, np.full(n, 1.0 / n)
    else:  # trapezoid
        nodes = np.linspace(0.0, 1.0, n)
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] = 0.5 / (n - 1)
    nodes = np.ascontiguousarray(nodes, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return Quadrature(rule=rule, nodes=nodes, weights=weights)
