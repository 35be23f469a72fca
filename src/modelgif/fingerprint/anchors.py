"""Secret anchors: the points where the gradient field is sampled, derived from a secret.

Why secret: the reference method samples fields at public images, so an adaptive thief can
regularise a stolen model against exactly those points. Here a 256-bit secret drives a keyed
stream (crypto/keystream.py; never Python's `random` or numpy's global state) that picks
anchors:

- "subset":    a secret subset of the owner's pool of inputs, in a secret order;
- "augmented": pool items under secret augmentations (CutMix or mixup with a secret partner
               from the same pool, then small Gaussian noise), clipped to the value range;
- "synthetic": uniform inputs inside the input's value range (no pool needed).

The same secret and pool give the same anchors bit for bit; another secret gives unrelated
ones. Each anchor uses its own sub-stream, so the first n anchors of a larger set equal the
set of n. The anchors' public commitment is made where they are sealed (crypto/sealing.py),
on the anchors exactly as stored, so it cannot go stale after rounding.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelgif.crypto.keystream import KeyStream
from modelgif.errors import InputError
from modelgif.safe_read import read_npy
from modelgif.validation import (
    MAX_ANCHOR_ELEMENTS,
    check_choice,
    check_float,
    check_int,
    check_known_keys,
    check_work,
)

__all__ = [
    "SOURCES",
    "AnchorConfig",
    "AnchorSet",
    "derive_anchors",
    "load_pool",
]

MAX_POOL_BYTES = 2 << 30
SOURCES: tuple[str, ...] = ("auto", "subset", "augmented", "synthetic")
_OWNER = "derive_anchors()"


@dataclass(frozen=True)
class AnchorConfig:
    """Every parameter that changes the anchors (echoed into the fingerprint)."""

    n_anchors: int = 64
    source: str = "auto"
    noise: float = 0.02  # Gaussian noise std as a fraction of the value-range width
    mix_low: float = 0.3  # mixup weight / CutMix area fraction drawn uniformly in [low, high]
    mix_high: float = 0.7

    def __post_init__(self) -> None:
        check_int(self.n_anchors, "n_anchors", _OWNER, 1, 1 << 20)
        check_choice(self.source, "source", _OWNER, SOURCES)
        check_float(self.noise, "noise", _OWNER, 0.0, 1.0)
        check_float(self.mix_low, "mix_low", _OWNER, 0.0, 1.0)
        check_float(self.mix_high, "mix_high", _OWNER, self.mix_low, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnchorConfig:
        check_known_keys(data, cls.__dataclass_fields__, "anchor config")
        return cls(**data)


@dataclass(frozen=True)
class AnchorSet:
    """Secret anchors (float32, shape (N, *input_shape)) and how they were derived."""

    inputs: np.ndarray
    config: AnchorConfig  # resolved: source is never "auto"
    value_range: tuple[float, float]
    pool_digest: str | None = None  # sha256 of the pool array, when a pool was used
    pool_indices: np.ndarray | None = field(default=None, repr=False)  # (N, 2); -1 = none

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.inputs.shape[1:])


def load_pool(path: str | Path, key: str | None = None) -> np.ndarray:
    """Load an owner's input pool from .npy or .npz (bounded, no pickles) as float32 (N, ...).

    In an .npz, `key` names the array; without it the x/inputs/X/data member or the only one.
    """
    array, _ = read_npy(path, MAX_POOL_BYTES, key, what="anchor pool")
    return _check_pool(array)


def _check_pool(pool: np.ndarray) -> np.ndarray:
    if pool.ndim < 2 or pool.shape[0] < 1:
        raise InputError(f"An anchor pool must have shape (N, ...) with N >= 1. Got {pool.shape}.")
    if not np.issubdtype(pool.dtype, np.number):
        raise InputError(f"An anchor pool must be numeric. Got dtype {pool.dtype}.")
    pool = pool.astype(np.float32)
    if not np.all(np.isfinite(pool)):
        raise InputError("The anchor pool contains NaN or infinite values.")
    return pool


def derive_anchors(
    secret: bytes,
    config: AnchorConfig | None = None,
    *,
    pool: np.ndarray | str | Path | None = None,
    input_shape: tuple[int, ...] | None = None,
    value_range: tuple[float, float] | None = None,
) -> AnchorSet:
    """Derive the secret anchor set from `secret` (32 bytes) and an optional pool.

    `input_shape` (without batch) and `value_range` are needed for synthetic anchors; with a
    pool they default to the pool's item shape and its min/max.
    """
    config = config or AnchorConfig()
    stream = KeyStream(secret, "anchors")
    pool_arr = load_pool(pool) if isinstance(pool, str | Path) else pool
    if pool_arr is not None:
        pool_arr = _check_pool(np.asarray(pool_arr))
        if input_shape is not None and tuple(pool_arr.shape[1:]) != tuple(input_shape):
            raise InputError(
                f"The pool's items have shape {pool_arr.shape[1:]}, the model wants {input_shape}."
            )
        input_shape = tuple(int(d) for d in pool_arr.shape[1:])
    source = config.source
    if source == "auto":
        source = "augmented" if pool_arr is not None else "synthetic"
    if source != "synthetic" and pool_arr is None:
        raise InputError(f"Anchor source {source!r} needs a pool of inputs (.npy/.npz).")
    if input_shape is not None:
        check_work("anchor values", {"anchors": config.n_anchors,
                                     "values per anchor": int(np.prod(input_shape))},
                   MAX_ANCHOR_ELEMENTS)
    lo, hi = _value_range(value_range, pool_arr)
    resolved = AnchorConfig(**{**config.to_dict(), "source": source})
    n = resolved.n_anchors
    indices: np.ndarray | None = None
    if source == "synthetic":
        if input_shape is None:
            raise InputError("Synthetic anchors need the model's input shape.")
        inputs = _synthetic(stream, n, input_shape, lo, hi)
    elif source == "subset":
        assert pool_arr is not None
        if n > pool_arr.shape[0]:
            raise InputError(
                f"Cannot pick {n} distinct anchors from a pool of {pool_arr.shape[0]}; "
                "use source='augmented' or a larger pool."
            )
        order = stream.child("subset").choice(pool_arr.shape[0], n)
        inputs = pool_arr[order].copy()
        indices = np.stack([order, np.full(n, -1)], axis=1)
    else:
        assert pool_arr is not None
        inputs, indices = _augmented(stream, pool_arr, resolved, lo, hi)
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    return AnchorSet(
        inputs=inputs,
        config=resolved,
        value_range=(lo, hi),
        pool_digest=None if pool_arr is None else hashlib.sha256(pool_arr.tobytes()).hexdigest(),
        pool_indices=indices,
    )


def _value_range(
    value_range: tuple[float, float] | None, pool: np.ndarray | None
) -> tuple[float, float]:
    if value_range is None:
        if pool is None:
            raise InputError(
                "Synthetic anchors need the input's value range: give it (CLI: --input-range "
                "LOW,HIGH), store it in the model's metadata, or give a pool of inputs."
            )
        return float(pool.min()), float(pool.max())
    lo, hi = (float(v) for v in value_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"The value_range must be finite with low < high. Got {value_range}.")
    return lo, hi


def _synthetic(
    stream: KeyStream, n: int, shape: tuple[int, ...], lo: float, hi: float
) -> np.ndarray:
    size = int(np.prod(shape))
    out = np.empty((n, *shape), dtype=np.float32)
    for i in range(n):
        u = stream.child(f"synthetic/{i}").uniform(size)
        out[i] = (lo + (hi - lo) * u).reshape(shape)
    return out


def _augmented(
    stream: KeyStream, pool: np.ndarray, config: AnchorConfig, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    n, size = config.n_anchors, pool.shape[0]
    order = stream.child("order").choice(size, size)
    out = np.empty((n, *pool.shape[1:]), dtype=np.float32)
    indices = np.full((n, 2), -1, dtype=np.int64)
    for i in range(n):
        sub = stream.child(f"augment/{i}")
        base_index = int(order[i % size])
        partner = int(sub.integers(1, size)[0])
        kind, lam = sub.uniform(2)
        lam = config.mix_low + (config.mix_high - config.mix_low) * lam
        x = pool[base_index].astype(np.float64)
        if kind < 1 / 3:
            x = x * lam + pool[partner] * (1.0 - lam)
            indices[i] = (base_index, partner)
        elif kind < 2 / 3:
            x = _cutmix(sub, x, pool[partner].astype(np.float64), lam)
            indices[i] = (base_index, partner)
        else:
            indices[i] = (base_index, -1)
        if config.noise > 0:
            x = x + sub.normal(x.size).reshape(x.shape) * config.noise * (hi - lo)
        out[i] = np.clip(x, lo, hi)
    return out, indices


def _cutmix(sub: KeyStream, x: np.ndarray, other: np.ndarray, area: float) -> np.ndarray:
    """Paste a box of `other` covering about `area` of the spatial extent into `x`.

    The spatial dimensions are all but the first (channels) for items of rank >= 2, and the
    only one for vectors: (C, H, W) gets an H x W box, (C, L) a segment, (D,) a segment.
    """
    spatial = x.shape[1:] if x.ndim >= 2 else x.shape
    offset = x.ndim - len(spatial)
    side = area ** (1.0 / len(spatial))
    starts = sub.uniform(len(spatial))
    box: list[slice] = [slice(None)] * offset
    for extent, u in zip(spatial, starts, strict=True):
        length = max(1, round(extent * side))
        start = int(u * (extent - length + 1))
        box.append(slice(start, start + length))
    out = x.copy()
    out[tuple(box)] = other[tuple(box)]
    return out
