"""Unlearners with known ground truth: honest, approximate, and cheating.

An unlearning audit is only credible if it is measured on claims whose truth is known:
    honest       retrain from scratch without the forget set (the definition of forgetting)
    approximate  fine-tune the original on retained data; relabel the forget set randomly
                 and fine-tune (the reference's method); gradient ascent on the forget set
    cheats       no change at all; mask the forgotten class's logit at the output while the
                 features stay; retrain only the last layer on retained data
Each returns a torch module that maps inputs to logits, as a provider would ship it.

Gradient ascent is the textbook recipe that is easy to get wrong in both directions: a small
learning rate leaves the model unchanged (a cheat in disguise), a few more steps collapse the
whole model to one class. It therefore climbs the forget-set loss step by step and stops as
soon as the forget-set accuracy has fallen to a target (by default chance level when a class
is forgotten, 90 % otherwise; a benchmark passes what a retrained model scores on unseen
data), within a bounded number of epochs.

`snapshot(epoch, model)`, when given, sees the model after every epoch of the unlearner's
own optimisation (epoch 0 = its starting point), so the benchmark can draw the distance to
the original across unlearning epochs from the very run whose end point it audits.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from modelgif.errors import InputError
from modelgif.zoo.architectures import ZooNet, build_architecture
from modelgif.zoo.training import TrainConfig, train

__all__ = ["APPROXIMATE", "CHEATS", "HONEST", "UNLEARNERS", "MaskedLogit", "Snapshot",
           "unlearn"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Snapshot = Callable[[int, nn.Module], None]

HONEST = ("retrain",)
APPROXIMATE = ("finetune-retain", "relabel", "gradient-ascent")
CHEATS = ("no-change", "mask-logit", "last-layer")
UNLEARNERS = (*HONEST, *APPROXIMATE, *CHEATS)
ASCENT_LR = 1e-2
ASCENT_MAX_EPOCHS = 10
ASCENT_BATCH = 32


class MaskedLogit(nn.Module):
    """The original model with one class's logit replaced by a large negative constant."""

    def __init__(self, model: nn.Module, forgotten: int, num_classes: int) -> None:
        super().__init__()
        self.model = model
        mask = torch.zeros(num_classes)
        mask[forgotten] = 1.0
        self.mask: torch.Tensor
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        return out * (1.0 - self.mask) - 1e4 * self.mask


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def _gradient_ascent(model: ZooNet, forget_x: FloatArray, forget_y: IntArray,
                     target_accuracy: float, seed: int, snapshot: Snapshot | None) -> ZooNet:
    """Climb the forget-set loss until its accuracy is <= target_accuracy (module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=ASCENT_LR)
    x, y = torch.from_numpy(forget_x), torch.from_numpy(forget_y)
    for epoch in range(1, ASCENT_MAX_EPOCHS + 1):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), ASCENT_BATCH):
            if _accuracy(model.eval(), x, y) <= target_accuracy:
                if snapshot is not None:
                    snapshot(epoch, model)
                return model.eval()
            batch = order[start:start + ASCENT_BATCH]
            model.train()
            optimizer.zero_grad()
            loss = -nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        if snapshot is not None:
            snapshot(epoch, model.eval())
    return model.eval()


def _epochs(snapshot: Snapshot | None, model: nn.Module, n: int,
            batch_size: int) -> Callable[[], None] | None:
    """An after_step hook that calls snapshot(epoch, model) at every epoch's end."""
    if snapshot is None:
        return None
    per_epoch = math.ceil(n / batch_size)
    steps = [0]

    def after_step() -> None:
        steps[0] += 1
        if steps[0] % per_epoch == 0:
            snapshot(steps[0] // per_epoch, model)

    return after_step


def unlearn(
    method: str,
    original: ZooNet,
    dataset: str,
    architecture: str,
    x: FloatArray,
    y: IntArray,
    forget: npt.NDArray[np.bool_],
    config: TrainConfig,
    seed: int,
    forgotten_class: int | None = None,
    *,
    snapshot: Snapshot | None = None,
    target_accuracy: float | None = None,
) -> nn.Module:
    """Apply unlearner `method` to `original`, trained on (x, y); `forget` masks the rows.

    `target_accuracy` is where gradient ascent stops (module docstring); `snapshot` sees
    the model at every epoch of the unlearner's optimisation, epoch 0 included.
    """
    if method not in UNLEARNERS:
        raise InputError(f"Unknown unlearner {method!r}; use one of {', '.join(UNLEARNERS)}.")
    keep = ~forget
    rng = np.random.default_rng(seed)
    short = _short(config)

    def fit(model: nn.Module, xs: FloatArray, ys: IntArray, cfg: TrainConfig,
            params: list[nn.Parameter] | None = None) -> nn.Module:
        if snapshot is not None:
            snapshot(0, model)
        hook = _epochs(snapshot, model, len(xs), cfg.batch_size)
        return train(model, xs, ys, cfg, seed, params=params, after_step=hook)

    if method == "retrain":
        result = fit(build_architecture(dataset, architecture, 10, seed), x[keep], y[keep],
                     config)
    elif method == "finetune-retain":
        result = fit(copy.deepcopy(original), x[keep], y[keep], short)
    elif method == "relabel":
        labels = np.where(forget, rng.integers(0, 10, len(y)), y).astype(np.int64)
        result = fit(copy.deepcopy(original), x, labels, short)
    elif method == "gradient-ascent":
        model = copy.deepcopy(original)
        if snapshot is not None:
            snapshot(0, model)
        target = target_accuracy if target_accuracy is not None else (
            0.1 if forgotten_class is not None else 0.9)
        result = _gradient_ascent(model, x[forget], y[forget], target, seed, snapshot)
    elif method == "last-layer":
        model = copy.deepcopy(original)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model.head.reset_parameters()
        result = fit(model, x[keep], y[keep], config, list(model.head.parameters()))
    else:
        result = copy.deepcopy(original)
        if method == "mask-logit":
            result = MaskedLogit(result, _class(forgotten_class), 10)
        if snapshot is not None:
            snapshot(0, result)
    return result.eval()


def _short(config: TrainConfig) -> TrainConfig:
    return TrainConfig(config.optimizer, config.lr, max(1, config.epochs // 4),
                       config.batch_size, config.weight_decay)


def _class(forgotten_class: int | None) -> int:
    if forgotten_class is None:
        raise InputError("The mask-logit cheat needs the forgotten class.")
    return forgotten_class
