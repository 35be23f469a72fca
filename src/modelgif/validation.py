"""Parameter checks with one message template.

Why: `assert` vanishes under `python -O`, and users deserve the same shaped message
everywhere: "The 'n_steps' parameter of field() must be an int in [2, 1024]. Got 0."
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from modelgif.errors import InputError

__all__ = [
    "MAX_ANCHOR_ELEMENTS",
    "MAX_PATH_POINTS",
    "MAX_SKETCH_ELEMENTS",
    "FloatArray",
    "check_array",
    "check_choice",
    "check_float",
    "check_int",
    "check_known_keys",
    "check_work",
]

# Caps on products of settings that are each within their own range: 1,048,576 anchors,
# 1024 steps and a 65,536-entry sketch are each allowed, together they are years of work.
MAX_ANCHOR_ELEMENTS = 1 << 27  # anchors x values per anchor (512 MiB of float32)
MAX_PATH_POINTS = 1 << 22  # anchors x steps: gradient evaluations
MAX_SKETCH_ELEMENTS = 1 << 24  # anchors x steps x sketch entries (64 MiB of float32)

FloatArray = npt.NDArray[np.float64]


def check_int(value: object, name: str, owner: str, low: int, high: int) -> int:
    """Return `value` if it is an int in [low, high]; raise InputError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(
            f"The '{name}' parameter of {owner} must be an int in [{low}, {high}]. Got {value!r}."
        )
    return value


def check_float(value: object, name: str, owner: str, low: float, high: float) -> float:
    """Return `value` as float if it is a real number in [low, high]; raise otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= float(value) <= high
    ):
        raise InputError(
            f"The '{name}' parameter of {owner} must be a number in [{low}, {high}]. "
            f"Got {value!r}."
        )
    return float(value)


def check_choice(value: object, name: str, owner: str, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`; raise InputError otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(
            f"The '{name}' parameter of {owner} must be one of {', '.join(choices)}. "
            f"Got {value!r}."
        )
    return value


def check_known_keys(data: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """Reject keys a config does not know: a newer format, or a typo, must not pass silently."""
    unknown = set(data) - set(known)
    if unknown:
        raise InputError(f"Unknown {what} keys: {sorted(unknown)}.")


def check_work(what: str, factors: dict[str, int], limit: int) -> None:
    """Refuse settings whose product (memory or work) exceeds `limit`, naming the factors."""
    product = 1
    for value in factors.values():
        product *= max(int(value), 1)
    if product > limit:
        named = " x ".join(f"{name} {value}" for name, value in factors.items())
        raise InputError(f"{named} = {product} {what}, over the limit of {limit}.")


def check_array(
    value: object, name: str, owner: str, ndim: int, *, what: str = "a finite real array"
) -> FloatArray:
    """Return `value` as a float64 array with `ndim` dimensions, none empty, all finite.

    Raises InputError with the project's template otherwise.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"The '{name}' parameter of {owner} must be {what} with {ndim} dimension(s). "
            f"Got {type(value).__name__}."
        ) from None
    if array.ndim != ndim or 0 in array.shape:
        raise InputError(
            f"The '{name}' parameter of {owner} must be {what} with {ndim} non-empty "
            f"dimension(s). Got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise InputError(
            f"The '{name}' parameter of {owner} must be {what} with no NaN or infinity. "
            f"Got {int(np.sum(~np.isfinite(array)))} non-finite value(s)."
        )
    return array
