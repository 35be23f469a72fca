"""The zoo's torch architectures: small MLPs and CNNs that train in seconds on a CPU.

Why one shape for all of them: every network is `ZooNet(body, head)`, where `body` ends with
Linear -> ReLU (the penultimate features, width `hidden`) and `head` is one Linear layer.
The derivative recipes then work on any architecture without special cases:
Finetune-L trains only `head`; Transfer swaps `head` for a new label space; fine-pruning
removes units of the penultimate layer. Architectures of one dataset share an input shape
((N, 40) for MNIST-1D, (N, 1, 8, 8) for digits) so their gradient fields are comparable.

Per dataset there are two source architectures and four student architectures (the
extraction targets), so independents can match either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from modelgif.errors import InputError

__all__ = [
    "ARCHITECTURES",
    "SOURCE_ARCHITECTURES",
    "STUDENT_ARCHITECTURES",
    "ZooNet",
    "build_architecture",
]


class ZooNet(nn.Module):
    """`head(body(x))`; `body` ends with Linear -> ReLU of width `hidden`."""

    def __init__(self, body: nn.Sequential, head: nn.Linear) -> None:
        super().__init__()
        last_linear, last_act = body[-2], body[-1]
        if not isinstance(last_linear, nn.Linear) or not isinstance(last_act, nn.ReLU):
            raise InputError("A ZooNet body must end with Linear -> ReLU.")
        self.body = body
        self.head = head

    @property
    def hidden(self) -> nn.Linear:
        """The Linear layer that produces the penultimate features."""
        return cast(nn.Linear, self.body[-2])  # checked in __init__

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.body(x))
        return out


class _Residual1d(nn.Module):
    """x + conv(relu(conv(x))), same channels and length."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.relu(x + self.conv2(torch.relu(self.conv1(x))))
        return out


def _mlp(n_in: int, widths: tuple[int, ...], flatten: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    for width in widths:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return layers


# ---- MNIST-1D: inputs (N, 40) -------------------------------------------------------------


def _m1d_mlp() -> tuple[list[nn.Module], int]:
    return _mlp(40, (256, 256), flatten=False), 256


def _m1d_mlp_deep() -> tuple[list[nn.Module], int]:
    return _mlp(40, (128, 128, 128, 128), flatten=False), 128


def _m1d_convbase() -> tuple[list[nn.Module], int]:
    # The MNIST-1D paper's ConvBase (3 strided convolutions, 25 channels) + a hidden layer.
    return [
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(25 * 5, 128), nn.ReLU(),
    ], 128  # fmt: skip


def _m1d_cnn_wide() -> tuple[list[nn.Module], int]:
    return [
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 48, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(48 * 10, 128), nn.ReLU(),
    ], 128  # fmt: skip


def _m1d_cnn() -> tuple[list[nn.Module], int]:
    return [
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 32, 7, padding=3), nn.ReLU(),
        nn.Conv1d(32, 64, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv1d(64, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(64, 96), nn.ReLU(),
    ], 96  # fmt: skip


def _m1d_resnet() -> tuple[list[nn.Module], int]:
    return [
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 24, 5, stride=2, padding=2), nn.ReLU(),
        _Residual1d(24), _Residual1d(24), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(24 * 10, 128), nn.ReLU(),
    ], 128  # fmt: skip


# ---- digits: inputs (N, 1, 8, 8) ----------------------------------------------------------


def _dig_mlp() -> tuple[list[nn.Module], int]:
    return _mlp(64, (256, 128), flatten=True), 128


def _dig_mlp_deep() -> tuple[list[nn.Module], int]:
    return _mlp(64, (128, 128, 128, 96), flatten=True), 96


def _dig_cnn() -> tuple[list[nn.Module], int]:
    return [
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, 128), nn.ReLU(),
    ], 128  # fmt: skip


def _dig_cnn_small() -> tuple[list[nn.Module], int]:
    return [
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 16, 64), nn.ReLU(),
    ], 64  # fmt: skip


def _dig_cnn_deep() -> tuple[list[nn.Module], int]:
    return [
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4, 96), nn.ReLU(),
    ], 96  # fmt: skip


def _dig_lenet() -> tuple[list[nn.Module], int]:
    return [
        nn.Conv2d(1, 12, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(12, 24, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(24 * 4, 84), nn.ReLU(),
    ], 84  # fmt: skip


_Factory = Callable[[], tuple[list[nn.Module], int]]

_FACTORIES: dict[str, dict[str, _Factory]] = {
    "mnist1d": {
        "cnn": _m1d_cnn,
        "mlp": _m1d_mlp,
        "mlp-deep": _m1d_mlp_deep,
        "convbase": _m1d_convbase,
        "cnn-wide": _m1d_cnn_wide,
        "resnet": _m1d_resnet,
    },
    "digits": {
        "cnn": _dig_cnn,
        "mlp": _dig_mlp,
        "mlp-deep": _dig_mlp_deep,
        "cnn-small": _dig_cnn_small,
        "cnn-deep": _dig_cnn_deep,
        "lenet": _dig_lenet,
    },
}

ARCHITECTURES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _FACTORIES.items()}
"""Every architecture name per dataset."""

SOURCE_ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "mnist1d": ("cnn", "mlp"),
    "digits": ("cnn", "mlp"),
}
"""The architectures of the owner's source models, per dataset."""

STUDENT_ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "mnist1d": ("cnn-wide", "resnet", "convbase", "mlp-deep"),
    "digits": ("cnn-deep", "cnn-small", "lenet", "mlp-deep"),
}
"""The four architectures that extraction attacks distil into, per dataset."""


def build_architecture(dataset: str, name: str, num_classes: int, seed: int) -> ZooNet:
    """A freshly initialised `name` network for `dataset`, its weights drawn from `seed`.

    The global torch RNG is forked, so the caller's random state is left as it was.
    """
    try:
        factory = _FACTORIES[dataset][name]
    except KeyError:
        known = ", ".join(ARCHITECTURES.get(dataset, ()))
        raise InputError(
            f"Unknown architecture {name!r} for {dataset!r}; known: {known}."
        ) from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers, hidden = factory()
        return ZooNet(nn.Sequential(*layers), nn.Linear(hidden, num_classes))
