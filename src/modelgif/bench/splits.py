"""A fixed, seeded split of a zoo's models into disjoint roles: selection, calibration, evaluation.

Why: the reference code ranked anchors by distance to the very independent models it then
scored as negatives (its committed log), which is how its table reached 1.00. Here a
model's role is a pure function of (seed, model id, the other ids of its stratum), decided
before any field is computed, so a negative can never be both fitted and scored.

Roles of negatives (independents of one dataset), stratified by architecture so every role
sees every architecture the zoo has:
    "selection"   only to choose among statistic variants (never calibrates, never scored);
    "fold-k"      cross-fitting: fold k's negatives calibrate the null used to score the
                  negatives of every other fold, and are scored under those folds' nulls.
Positives (models derived from a source) are split the same way into "selection" and
"evaluation", per attack category.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from modelgif.errors import InputError

__all__ = ["SELECTION", "HasId", "Split", "fold_name", "split_models"]

SELECTION = "selection"
SALT = "modelgif-bench-split"


class HasId(Protocol):
    """Anything a split deals: a zoo's ModelRecord, a Fashion-MNIST zoo's FashionModel."""

    @property
    def id(self) -> str: ...


M = TypeVar("M", bound=HasId)


def fold_name(index: int) -> str:
    """The role of the negatives in cross-fitting fold `index`."""
    return f"fold-{index}"


def _rank_key(salt: str, seed: int, model_id: str) -> str:
    return hashlib.sha256(f"{salt}:{seed}:{model_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Split:
    """role per model id; `members(role)` lists the ids with that role, sorted."""

    roles: dict[str, str]

    def members(self, role: str) -> list[str]:
        return sorted(i for i, r in self.roles.items() if r == role)

    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for role in self.roles.values():
            out[role] += 1
        return dict(sorted(out.items()))


def split_models(
    models: Iterable[M],
    seed: int,
    roles: Sequence[str],
    stratum: Callable[[M], str],
    salt: str = SALT,
) -> Split:
    """Deal the models of each stratum, in a seeded hash order, by the pattern `roles`.

    `roles` is a deal pattern (a role may repeat: ("a", "a", "b") gives a 2:1 split). The
    first model of a stratum goes to roles[0], the next to roles[1], cycling, and the deal
    continues across strata so that small strata do not all feed roles[0].
    Deterministic: the same ids, seed and `salt` give the same split whatever the input
    order; a benchmark with its own `salt` deals independently of the others.
    """
    if not roles:
        raise InputError("split_models() needs at least one role.")
    groups: dict[str, list[M]] = defaultdict(list)
    for record in models:
        groups[stratum(record)].append(record)
    out: dict[str, str] = {}
    turn = 0
    for name in sorted(groups):
        for record in sorted(groups[name], key=lambda r: _rank_key(salt, seed, r.id)):
            if record.id in out:
                raise InputError(f"Model {record.id!r} is listed twice.")
            out[record.id] = roles[turn % len(roles)]
            turn += 1
    return Split(out)
