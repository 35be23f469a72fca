"""Pairwise ModelGiF distances of several models at one secret anchor set.

The paper's task-relatedness use: the distance of A and B is the mean over anchors and path
steps of 1 - cosine(phi_A, phi_B), in [0, 2]. All models are measured at the same anchors,
derived from the owner key and the set of compared digests, so the same call gives the same
matrix and nobody without the key can predict where the models are probed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modelgif.crypto.kdf import derive_anchor_key, derive_anchor_secret, sketch_secret
from modelgif.crypto.keys import PrivateKey
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig, derive_anchors
from modelgif.fingerprint.field import FieldConfig, compute_field, field_cosines
from modelgif.fingerprint.normalize import NormalizedModel

__all__ = ["DistanceMatrix", "distance_matrix"]


@dataclass(frozen=True)
class DistanceMatrix:
    names: tuple[str, ...]
    digests: tuple[str, ...]
    distances: np.ndarray  # (M, M), symmetric, zero diagonal

    def to_dict(self) -> dict[str, object]:
        return {"models": list(self.names), "digests": list(self.digests),
                "distances": np.round(self.distances, 6).tolist()}


def distance_matrix(
    models: Sequence[NormalizedModel],
    names: Sequence[str],
    private_key: PrivateKey,
    anchor_config: AnchorConfig | None = None,
    field_config: FieldConfig | None = None,
    pool: np.ndarray | None = None,
    input_range: tuple[float, float] | None = None,
) -> DistanceMatrix:
    """Fields of every model at one anchor set, and their mean cosine distances.

    `input_range` is the value range of synthetic anchors when no model declares one."""
    if len(models) < 2:
        raise InputError("A distance matrix needs at least two models.")
    shapes = {m.input_spec.shape[1:] for m in models}
    if len(shapes) != 1:
        raise InputError(f"All models must take the same input shape; got {sorted(shapes)}.")
    digests = [m.digest for m in models]
    declared = {m.input_spec.value_range for m in models if m.input_spec.value_range}
    if input_range is None and len(declared) > 1:
        raise InputError(f"The models declare different input ranges {sorted(declared)}; "
                         "give the range to probe with --input-range=LOW,HIGH.")
    value_range = input_range or (next(iter(declared)) if declared else None)
    shape = tuple(d for d in models[0].input_spec.shape[1:] if d is not None)
    pool_digest = None if pool is None else hashlib.sha256(pool.tobytes()).hexdigest()
    context = hashlib.sha256(json.dumps(
        {"purpose": "modelgif distance", "shape": shape, "range": value_range,
         "pool": pool_digest}).encode()).digest()[:16]
    anchors = derive_anchors(
        derive_anchor_secret(private_key, context), anchor_config, pool=pool,
        input_shape=shape, value_range=value_range)
    secret = sketch_secret(derive_anchor_key(private_key, context))
    config = field_config or FieldConfig()
    sketches = [compute_field(m, anchors, secret, config).sketch for m in models]
    size = len(models)
    distances = np.zeros((size, size))
    for i in range(size):
        for j in range(i + 1, size):
            distance = float(np.mean(1.0 - field_cosines(sketches[i], sketches[j])))
            distances[i, j] = distances[j, i] = distance
    return DistanceMatrix(tuple(names), tuple(digests), distances)
