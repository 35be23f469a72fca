"""An architecture-matched null: calibrate only with negatives built like the suspect.

Why: a calibration that mixes architectures has a wide null (an MLP and a CNN trained on
the owner's data sit at very different similarities), so a suspect must clear the spread of
every architecture at once. Scoring a suspect only against negatives of ITS OWN
architecture narrows that spread. On the Fashion-MNIST distillation benchmark
(BENCHMARKS.md) it raised the held-out TPR at 1 % FPR of the field verdict for students
distilled through top-3 outputs (0.00 -> 0.22) and for students keeping >= 95 % of the
teacher's accuracy (0.06 -> 0.19), with no held-out negative flagged either way, but it
lowered the AUC on noise thieves; it is an option, not the default.

The architecture is read from the model files themselves (`graph_signature`: the graph's
op types in order and its weights' shapes), so nobody has to declare it, and a suspect
cannot claim another architecture without changing its graph. Use:

    matched = matched_negatives(suspect, negatives)
    calibrations = calibrate(fingerprint, secrets, matched)

The FPR then holds for independent models of the suspect's architecture, and needs enough
of them (`min_negatives`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import onnx

from modelgif.errors import InputError
from modelgif.fingerprint.normalize import NormalizedModel, normalize

__all__ = ["MIN_MATCHED", "graph_signature", "matched_negatives"]

MIN_MATCHED = 10
Model = str | Path | NormalizedModel


def graph_signature(model: onnx.ModelProto | NormalizedModel) -> str:
    """A hash of a graph's structure: op types in order and weight shapes, not values."""
    proto = model.model if isinstance(model, NormalizedModel) else model
    h = hashlib.sha256()
    for node in proto.graph.node:
        h.update(f"{node.domain}:{node.op_type};".encode())
    for init in proto.graph.initializer:
        h.update(f"{list(init.dims)};".encode())
    return h.hexdigest()[:16]


def matched_negatives(
    suspect: Model, negatives: Sequence[Model], min_negatives: int = MIN_MATCHED
) -> list[NormalizedModel]:
    """The negatives whose graph has the suspect's structure (normalized), at least
    `min_negatives` of them, else one InputError saying how many matched."""

    def load(model: Model) -> NormalizedModel:
        return model if isinstance(model, NormalizedModel) else normalize(Path(model))

    wanted = graph_signature(load(suspect))
    matched = [m for m in (load(n) for n in negatives) if graph_signature(m) == wanted]
    if len(matched) < min_negatives:
        raise InputError(
            f"Only {len(matched)} of {len(negatives)} negatives share the suspect's "
            f"architecture; an architecture-matched null needs at least {min_negatives}."
        )
    return matched
