"""What every gradient backend provides, so field.py never knows which one it drives.

Why this cut: the sketch of the field at a path point x is P^T ((x - x0) * grad F(x)), a
k-vector, and its sum over coordinates, (x - x0) . grad F(x), is the path derivative whose
integral must equal F(anchor) - F(baseline) (completeness). The exact backend gets both from
one reverse-mode pass; the black-box backend from 2(k + 1) forward passes. Everything else
(quadrature, cumulative sums, targets, completeness) is shared in field.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from modelgif.fingerprint.sketch import Projection

__all__ = ["Backend", "PointGradients"]


@dataclass(frozen=True)
class PointGradients:
    """Per path point: sketch entries (B, k), path derivative (B,), optional full (B, D)."""

    sketch: np.ndarray
    path: np.ndarray
    full: np.ndarray | None = None


class Backend(Protocol):
    """A way to differentiate one model's scalar output at a batch of path points."""

    name: str  # "exact" | "blackbox": recorded in the fingerprint as the estimator
    batch_coupled: bool  # True when outputs depend on the other samples of a batch
    quantized: bool  # True when the model is known to be quantized (piecewise constant)

    def params(self) -> dict[str, Any]:
        """Estimator parameters that change the numbers (recorded in the fingerprint)."""
        ...

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Model outputs (B, ...) for inputs (B, *input_shape), float32."""
        ...

    def point_gradients(
        self,
        points: np.ndarray,
        scales: np.ndarray,
        projection: Projection,
        target: str,
        classes: np.ndarray,
        keep_full: bool = False,
    ) -> PointGradients:
        """Sketch and path derivative of F at `points` (B, *shape); scales = anchor - baseline."""
        ...
