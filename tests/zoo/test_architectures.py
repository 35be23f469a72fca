"""Architectures: shapes, seeded initialisation, the ZooNet invariant."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modelgif.errors import InputError
from modelgif.zoo.architectures import (
    ARCHITECTURES,
    SOURCE_ARCHITECTURES,
    STUDENT_ARCHITECTURES,
    ZooNet,
    build_architecture,
)

INPUTS = {"mnist1d": (40,), "digits": (1, 8, 8)}


@pytest.mark.parametrize(
    ("dataset", "name"), [(d, n) for d, names in ARCHITECTURES.items() for n in names]
)
def test_every_architecture_maps_inputs_to_logits(dataset: str, name: str) -> None:
    model = build_architecture(dataset, name, num_classes=7, seed=0)
    out = model(torch.zeros(3, *INPUTS[dataset]))
    assert out.shape == (3, 7)
    assert model.hidden.out_features == model.head.in_features


def test_seed_decides_the_weights_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    a = build_architecture("digits", "cnn", 10, seed=1)
    assert torch.equal(torch.rand(1), expected)
    b = build_architecture("digits", "cnn", 10, seed=1)
    c = build_architecture("digits", "cnn", 10, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.head.weight, c.head.weight)


def test_sources_and_four_students_per_dataset() -> None:
    for dataset in ARCHITECTURES:
        assert len(SOURCE_ARCHITECTURES[dataset]) == 2
        students = STUDENT_ARCHITECTURES[dataset]
        assert len(set(students)) == 4
        assert set(students) <= set(ARCHITECTURES[dataset])


def test_zoonet_needs_linear_relu_at_the_end() -> None:
    with pytest.raises(InputError):
        ZooNet(nn.Sequential(nn.Linear(4, 4), nn.Tanh()), nn.Linear(4, 2))
    with pytest.raises(InputError, match="Unknown architecture"):
        build_architecture("digits", "vgg16", 10, 0)
