"""Cost of the batch spot checks on an honest model: field time with and without them.

    python benchmarks/bench_batch_guard.py MODEL.onnx [--threads 1] [--repeats 2]

MODEL.onnx is a normalized model (`modelgif normalize`). Each setting is timed `repeats`
times, alternating with and without the checks, for the exact and black-box backends.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

import modelgif.fingerprint.field as field
from modelgif.fingerprint.normalize import load_normalized


class _Unchecked:
    """Stands in for BatchGuard: the inner backend, unchecked."""

    def __init__(self, inner: Any, secret: bytes) -> None:
        self.__dict__.update(inner=inner, switched=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_normalized(args.model)
    shape = model.input_spec.example_batch(1).shape[1:]
    x = np.random.default_rng(0).uniform(0, 1, (64, *shape)).astype(np.float32)
    guard = field.BatchGuard
    for backend in ("exact", "blackbox"):
        config = field.FieldConfig(n_steps=16, sketch_dim=64, backend=backend)
        times: dict[str, list[float]] = {"checked": [], "unchecked": []}
        for _ in range(args.repeats):
            for label, cls in (("checked", guard), ("unchecked", _Unchecked)):
                field.BatchGuard = cls  # type: ignore[misc,assignment]
                start = time.perf_counter()
                field.compute_field(model, x, b"\x07" * 32, config)
                times[label].append(time.perf_counter() - start)
        field.BatchGuard = guard  # type: ignore[misc]
        print(backend, {k: [round(t, 2) for t in v] for k, v in times.items()})


if __name__ == "__main__":
    main()
