"""Cosines -> per-anchor similarity -> the distances a verdict is built from.

A comparison of two fields yields cosines of shape (N anchors, S path steps); "similarity"
is a cosine (higher = more alike). These pure functions reduce them over the steps
(per-anchor similarity), to the reference method's mean cosine distance, and to the log
distance the calibrated statistic uses.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError
from modelgif.validation import FloatArray, check_array, check_choice

__all__ = [
    "DISTANCE_FLOOR",
    "REDUCERS",
    "log_distance",
    "mean_cosine_distance",
    "per_anchor_similarity",
]

REDUCERS: tuple[str, ...] = ("mean", "median")
DISTANCE_FLOOR = 1e-4  # float16 sketches resolve a cosine to ~1e-4; below that is noise
_COSINE_SLACK = 1e-5  # float32 fields can round a cosine a hair past +-1


def _check_cosines(value: object, name: str, owner: str, ndim: int) -> FloatArray:
    array = check_array(value, name, owner, ndim, what="an array of cosines in [-1, 1]")
    worst = float(np.max(np.abs(array)))
    if worst > 1.0 + _COSINE_SLACK:
        raise InputError(
            f"The '{name}' parameter of {owner} must be an array of cosines in [-1, 1]. "
            f"Got a value of magnitude {worst:.6g}."
        )
    return np.clip(array, -1.0, 1.0)


def per_anchor_similarity(cosines: npt.ArrayLike, reducer: str = "mean") -> FloatArray:
    """Reduce per-(anchor, step) cosines of shape (N, S), or (M, N, S), over the steps.

    "mean" (default) keeps the exact link to the reference distance:
    mean(1 - c) = 1 - mean_n s_n. "median" resists a few degenerate steps (e.g. a step where
    the accumulated gradient is nearly zero), but the steps of one path are strongly
    correlated (the field is a cumulative sum), so it rarely changes anything.
    """
    owner = "per_anchor_similarity()"
    check_choice(reducer, "reducer", owner, REDUCERS)
    array = np.asarray(cosines)
    ndim = 3 if array.ndim == 3 else 2
    checked = _check_cosines(cosines, "cosines", owner, ndim)
    if reducer == "median":
        return np.asarray(np.median(checked, axis=-1), dtype=np.float64)
    return np.asarray(checked.mean(axis=-1), dtype=np.float64)


def log_distance(similarities: npt.ArrayLike) -> float | FloatArray:
    """mean_n log max(1 - s_n, DISTANCE_FLOOR) of per-anchor similarities (N,) or (M, N).

    Why logs: a similarity is bounded by 1, so on the raw scale a copy (s = 1) is only a
    couple of null spreads above independent models when those are heterogeneous, and no
    calibrated threshold can be reached with a few negatives. Distances to the owner spread
    multiplicatively; on the log scale a copy or a fine-tune sits many null spreads away
    (measured on the benchmark's selection split: median 5-7 null sds for fine-tunes,
    against 2-2.5 for the mean similarity) and the null is close to Gaussian.
    """
    sims = np.asarray(similarities, dtype=np.float64)
    logs = np.log(np.maximum(1.0 - sims, DISTANCE_FLOOR))
    if logs.ndim == 1:
        return float(np.mean(logs))
    return np.asarray(np.mean(logs, axis=-1), dtype=np.float64)


def mean_cosine_distance(cosines: npt.ArrayLike) -> float:
    """The reference method's number: mean over anchors and steps of (1 - cosine), in [0, 2]."""
    checked = _check_cosines(cosines, "cosines", "mean_cosine_distance()", 2)
    return float(np.mean(1.0 - checked))
