"""The zoo's two real datasets, generated offline and split three ways.

Why three disjoint splits: the ownership benchmark needs an *owner* who trains the source, an
*attacker* who holds other data from the same distribution (fine-tuning, extraction queries,
independent models), and a *test* set that neither trained on, where accuracy and agreement are
measured. A model trained on the attacker's split never saw an owner sample.

- MNIST-1D (Greydanus & Kobak): 40-dimensional 1-D signals, 10 classes, generated from
  templates by `mnist1d.data.make_dataset` (never `get_dataset`, which may download a pickle).
  make_dataset seeds numpy's *global* RNG; we save and restore that state around the call so
  the caller's RNG is untouched. Inputs have shape (N, 40).
- scikit-learn digits: 1,797 real 8x8 handwritten digits shipped inside scikit-learn, scaled
  to [0, 1]. Inputs have shape (N, 1, 8, 8).

Every split is a stratified permutation drawn from `np.random.default_rng(seed)`.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from modelgif.digests import arrays_digest
from modelgif.errors import InputError

__all__ = [
    "DATASETS",
    "DatasetName",
    "Split",
    "ZooData",
    "load_data",
]

DatasetName = Literal["mnist1d", "digits"]
DATASETS: tuple[DatasetName, ...] = ("mnist1d", "digits")
NUM_CLASSES = 10

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """One split: inputs `x` (float32) and integer labels `y` in [0, 10)."""

    x: FloatArray
    y: IntArray

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class ZooData:
    """A dataset split for the ownership benchmark, with what a verifier must know of it.

    `input_range` is the (low, high) box that contains every input of the dataset, rounded
    outwards; it is what `normalize(..., input_range=...)` records in the model's input spec.
    """

    name: DatasetName
    owner: Split
    attacker: Split
    test: Split
    input_shape: tuple[int, ...]
    input_range: tuple[float, float]
    num_classes: int
    seed: int

    def split(self, name: str) -> Split:
        """The split called `name`: 'owner', 'attacker' or 'test'."""
        if name not in ("owner", "attacker", "test"):
            raise InputError(f"Unknown data split {name!r}; use owner, attacker or test.")
        result: Split = getattr(self, name)
        return result

    def digest(self) -> str:
        """sha256 over every array, so a manifest pins the exact data it was built from."""
        return arrays_digest(a for s in (self.owner, self.attacker, self.test)
                             for a in (s.x, s.y))


# Split sizes per dataset and zoo size: (owner, attacker, test).
_MNIST1D_SIZES = {"small": (1500, 1500, 1000), "full": (4000, 4000, 2000)}
_DIGITS_TEST = 397  # the rest (1,400) is halved between owner and attacker


def load_data(name: str, seed: int, size: str = "full") -> ZooData:
    """Generate (MNIST-1D) or load (digits) dataset `name` and split it deterministically."""
    if name == "mnist1d":
        return _mnist1d(seed, size)
    if name == "digits":
        return _digits(seed)
    raise InputError(f"Unknown dataset {name!r}; use one of {', '.join(DATASETS)}.")


def _mnist1d(seed: int, size: str) -> ZooData:
    from mnist1d.data import get_dataset_args, make_dataset

    if size not in _MNIST1D_SIZES:
        raise InputError(f"Unknown zoo size {size!r}; use small or full.")
    n_owner, n_attacker, n_test = _MNIST1D_SIZES[size]
    args = get_dataset_args()
    total = n_owner + n_attacker + n_test
    args.num_samples = total
    args.train_split = 1.0
    args.seed = seed % (2**32)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x = np.asarray(raw["x"], dtype=np.float32)
    y = np.asarray(raw["y"], dtype=np.int64)
    rng = np.random.default_rng(seed)
    owner, attacker, test = _stratified(x, y, (n_owner, n_attacker, n_test), rng)
    low, high = float(math.floor(x.min())), float(math.ceil(x.max()))
    return ZooData("mnist1d", owner, attacker, test, (40,), (low, high), NUM_CLASSES, seed)


def _digits(seed: int) -> ZooData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    rest = len(y) - _DIGITS_TEST
    rng = np.random.default_rng(seed)
    sizes = (rest // 2, rest - rest // 2, _DIGITS_TEST)
    owner, attacker, test = _stratified(x, y, sizes, rng)
    return ZooData("digits", owner, attacker, test, (1, 8, 8), (0.0, 1.0), NUM_CLASSES, seed)


def _stratified(
    x: FloatArray, y: IntArray, sizes: tuple[int, int, int], rng: np.random.Generator
) -> tuple[Split, Split, Split]:
    """Deal every class's shuffled samples round-robin into three disjoint splits."""
    if sum(sizes) > len(y):
        raise InputError(f"Cannot split {len(y)} samples into {sizes}.")
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    # Interleave classes so that every prefix of `order` is close to class-balanced.
    rank = np.empty(len(order), dtype=np.float64)
    for c in np.unique(y):
        members = y[order] == c
        rank[members] = (np.arange(members.sum()) + rng.random()) / members.sum()
    order = order[np.argsort(rank, kind="stable")]
    bounds = np.cumsum((0, *sizes))
    parts = []
    for start, stop in itertools.pairwise(bounds):
        index = np.sort(order[start:stop])
        parts.append(Split(np.ascontiguousarray(x[index]), np.ascontiguousarray(y[index])))
    return parts[0], parts[1], parts[2]
