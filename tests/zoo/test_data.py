"""Datasets and splits: offline, deterministic, disjoint, balanced, RNG-clean."""

from __future__ import annotations

import random

import numpy as np
import pytest

from modelgif.errors import InputError
from modelgif.zoo.data import _stratified, load_data


@pytest.mark.parametrize(("name", "shape"), [("mnist1d", (40,)), ("digits", (1, 8, 8))])
def test_load_data_shapes_ranges_and_balance(name: str, shape: tuple[int, ...]) -> None:
    data = load_data(name, seed=3, size="small")
    low, high = data.input_range
    for split in (data.owner, data.attacker, data.test):
        assert split.x.shape[1:] == shape
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert low <= split.x.min() and split.x.max() <= high
        counts = np.bincount(split.y, minlength=10)
        assert counts.min() >= 0.8 * counts.max()  # stratified
    assert data.input_shape == shape


def test_digits_are_scaled_to_unit_range() -> None:
    data = load_data("digits", seed=0)
    assert data.input_range == (0.0, 1.0)
    assert data.owner.x.max() == pytest.approx(1.0)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = (load_data("mnist1d", s, "small") for s in (5, 5, 6))
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()
    assert load_data("digits", 1).digest() != load_data("digits", 2).digest()


def test_splits_are_disjoint() -> None:
    x = np.arange(300, dtype=np.float32).reshape(-1, 1)
    y = np.arange(300, dtype=np.int64) % 10
    parts = _stratified(x, y, (100, 100, 50), np.random.default_rng(0))
    owner, attacker, test = (set(p.x[:, 0].tolist()) for p in parts)
    assert len(owner) == 100 and len(attacker) == 100 and len(test) == 50
    assert not owner & attacker and not owner & test and not attacker & test
    for part in parts:  # labels travel with their inputs
        assert np.array_equal(part.x[:, 0].astype(np.int64) % 10, part.y)


def test_mnist1d_rows_do_not_repeat_across_splits() -> None:
    data = load_data("mnist1d", seed=0, size="small")
    owner = {row.tobytes() for row in data.owner.x}
    assert not owner & {row.tobytes() for row in data.attacker.x}
    assert not owner & {row.tobytes() for row in data.test.x}


def test_global_random_state_is_untouched() -> None:
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    load_data("mnist1d", seed=9, size="small")
    assert np.random.random() == expected_np
    assert random.random() == expected_py


def test_unknown_names_are_input_errors() -> None:
    with pytest.raises(InputError, match="Unknown dataset"):
        load_data("cifar10", 0)
    with pytest.raises(InputError, match="Unknown zoo size"):
        load_data("mnist1d", 0, "huge")
    with pytest.raises(InputError, match="split"):
        load_data("digits", 0).split("validation")
