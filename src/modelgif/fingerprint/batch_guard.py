"""Spot checks that a model answers each sample as if it were alone in its batch.

Why: the field is computed on batches of path points, so a suspect sees many anchors (and
their straight paths) at once. A model that is the stolen one at batch size 1 (how it is
served) but answers differently when a batch holds several rows, or mixes rows (a batch
mean), would give a field unlike its owner's and escape a verdict. Declared shapes cannot
show this: the batch size is read at run time (Shape) and mixing keeps every shape.

How: each batch the field asks for (outputs or point gradients), a few rows chosen by a
keyed stream derived from the field's secret (so the suspect cannot know which) are run
again one at a time and compared with their batch answers. On the first difference the
model is evaluated one sample at a time from then on, and that batch again: the result is
the field of the function a single request computes, whatever the model does with batches.
A honest model pays a few single-row runs per batch (at most 256 points); numbers do not
change. Residual risk: a model that perturbs only some rows escapes a given check with
probability (1 - perturbed fraction) ** ROWS per batch, and batches checked before the
first difference stay as they were.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from modelgif.crypto.keystream import KeyStream
from modelgif.fingerprint.backends.base import Backend, PointGradients
from modelgif.fingerprint.sketch import Projection

__all__ = ["ROWS", "BatchGuard"]

log = logging.getLogger(__name__)
T = TypeVar("T")

ROWS = 2  # rows re-run alone per batch
OUTPUT_TOLERANCE = 1e-3  # relative to the batch's largest answer (float32 kernels differ)
GRADIENT_TOLERANCE = 1e-2  # finite differences amplify the kernels' rounding


def _differs(single: np.ndarray, batched: np.ndarray, scale: float, tolerance: float) -> bool:
    gap = np.abs(single.astype(np.float64) - batched.astype(np.float64))
    return not bool(np.all(gap <= tolerance * max(scale, 1e-12)))


def _scale(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


class BatchGuard:
    """A backend that behaves like `inner` but never lets a sample see its batch-mates."""

    def __init__(self, inner: Backend, secret: bytes) -> None:
        self.inner = inner
        self.name = inner.name
        self.quantized = inner.quantized
        self.per_sample = inner.batch_coupled
        self.batch_coupled = inner.batch_coupled
        self.switched = False  # a check found batch-dependent answers
        self._rows = KeyStream(secret, "batch-guard")

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def _check_rows(self, n: int) -> np.ndarray:
        return self._rows.choice(n, min(ROWS, n))

    def _switch(self, what: str) -> None:
        log.warning("the model's %s for one sample depend on the other samples in its batch: "
                    "evaluating it one sample at a time", what)
        self.per_sample = self.switched = True
        self.inner.batch_coupled = True  # the black-box backend then runs every input alone

    def _alone(self, run: Callable[[], T]) -> T:
        """`run()` with the inner backend sending one input per model call."""
        coupled = self.inner.batch_coupled
        self.inner.batch_coupled = True
        try:
            return run()
        finally:
            self.inner.batch_coupled = coupled

    def outputs(self, x: np.ndarray) -> np.ndarray:
        if self.per_sample:
            return np.concatenate([self.inner.outputs(x[i : i + 1]) for i in range(len(x))])
        out = self.inner.outputs(x)
        if len(x) > 1:
            scale = _scale(out)
            for i in self._check_rows(len(x)):
                alone = self._alone(functools.partial(self.inner.outputs, x[i : i + 1]))
                if _differs(alone[0], out[i], scale,
                            OUTPUT_TOLERANCE):
                    self._switch("outputs")
                    return self.outputs(x)
        return out

    def point_gradients(
        self,
        points: np.ndarray,
        scales: np.ndarray,
        projection: Projection,
        target: str,
        classes: np.ndarray,
        keep_full: bool = False,
    ) -> PointGradients:
        def rows(i: int) -> PointGradients:
            return self.inner.point_gradients(points[i : i + 1], scales[i : i + 1], projection,
                                              target, classes[i : i + 1], keep_full)

        if self.per_sample:
            parts = [rows(i) for i in range(len(points))]
            full = [p.full for p in parts]
            return PointGradients(
                sketch=np.concatenate([p.sketch for p in parts]),
                path=np.concatenate([p.path for p in parts]),
                full=None if any(f is None for f in full) else np.concatenate(
                    [f for f in full if f is not None]),
            )
        grads = self.inner.point_gradients(points, scales, projection, target, classes,
                                           keep_full)
        if len(points) > 1:
            sketch_scale, path_scale = _scale(grads.sketch), _scale(grads.path)
            for i in self._check_rows(len(points)):
                alone = self._alone(functools.partial(rows, int(i)))
                if _differs(alone.sketch[0], grads.sketch[i], sketch_scale, GRADIENT_TOLERANCE) \
                        or _differs(alone.path[0:1], grads.path[i : i + 1], path_scale,
                                    GRADIENT_TOLERANCE):
                    self._switch("gradients")
                    return self.point_gradients(points, scales, projection, target, classes,
                                                keep_full)
        return grads
