"""TensorSpec: what a normalized model's input or output is, as recorded in a fingerprint.

Why its own file: fingerprints, calibrations and verdict records all carry input and output
specs; the format must stay readable (older files have no integer input spaces and read as
float32), and `from_dict` is the one place that parses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelgif.errors import InputError
from modelgif.fingerprint.input_space import INTEGER_SPACES

__all__ = ["TensorSpec"]


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None marks the dynamic batch), dtype and, when known, value range.

    For an input, `dtype` is the declared input space ("float32", or "uint8" for raw pixels
    whose float view the normalized graph takes; input_space.py).
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    value_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "value_range": list(self.value_range) if self.value_range else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        try:
            shape = tuple(None if d is None else int(d) for d in data["shape"])
            value_range = data.get("value_range")
            return cls(
                name=str(data["name"]),
                shape=shape,
                dtype=str(data["dtype"]),
                value_range=(float(value_range[0]), float(value_range[1]))
                if value_range
                else None,
            )
        except (KeyError, TypeError, ValueError, IndexError):
            raise InputError(f"Malformed tensor spec: {data!r}") from None

    def example_batch(self, batch: int, seed: int = 0) -> np.ndarray:
        """A deterministic batch inside the value range (standard normal if none)."""
        rng = np.random.default_rng(seed)
        shape = (batch, *[d for d in self.shape[1:] if d is not None])
        if self.dtype in INTEGER_SPACES:
            low, high = self.value_range or INTEGER_SPACES[self.dtype][0]
            return rng.integers(int(low), int(high), shape, endpoint=True).astype(np.float32)
        if self.value_range is None:
            return rng.standard_normal(shape).astype(np.float32)
        low, high = self.value_range
        return rng.uniform(low, high, shape).astype(np.float32)
