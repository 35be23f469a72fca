"""Parameter checks with one message template.

Why: `assert` vanishes under `python -O`, and users deserve the same shaped message
everywhere: "The 'n_steps' parameter of field() must be an int in [2, 1024]. Got 0."
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelgif.errors import InputError

__all__ = ["check_choice", "check_float", "check_int", "check_known_keys"]


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
