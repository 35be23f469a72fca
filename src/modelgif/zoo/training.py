"""Deterministic CPU training for the zoo's small networks.

Why its own loop instead of a framework: the zoo must be bit-for-bit reproducible from one
seed, so every random stream is explicit. Batches are shuffled by a `torch.Generator` seeded
per model; the global torch RNG is forked (saved and restored) around training so nothing
leaks into or out of the caller's random state. On CPU, torch's kernels are deterministic for
a fixed thread count; `build` pins the thread count.

One loop covers every recipe: hard labels (class indices), soft labels (probability rows,
for distillation), a subset of trainable parameters (Finetune-L), a hook after each step
(fine-pruning keeps pruned units at zero) and PGD adversarial training (Extract-Adv).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from modelgif.errors import InputError

__all__ = ["Adversary", "TrainConfig", "predict_logits", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """What the zoo manifest echoes as a model's optimisation recipe."""

    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 20
    batch_size: int = 64
    weight_decay: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Adversary:
    """L-infinity PGD used for adversarial training, clipped to the dataset's input box."""

    eps: float
    steps: int
    input_range: tuple[float, float]

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields."""
        return {"attack": "pgd-linf", "eps": self.eps, "steps": self.steps}

    def perturb(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """x' in the eps-ball around x (and the input box) that raises the loss."""
        low, high = self.input_range
        step = 2.5 * self.eps / self.steps
        x_adv = x.clone()
        for _ in range(self.steps):
            x_adv.requires_grad_(True)
            loss = F.cross_entropy(model(x_adv), target)
            (grad,) = torch.autograd.grad(loss, x_adv)
            with torch.no_grad():
                x_adv = x_adv + step * grad.sign()
                x_adv = torch.min(torch.max(x_adv, x - self.eps), x + self.eps)
                x_adv = torch.clamp(x_adv, low, high)
        return x_adv.detach()


def train(
    model: nn.Module,
    x: npt.NDArray[np.float32],
    target: npt.NDArray[np.int64] | npt.NDArray[np.float32],
    config: TrainConfig,
    seed: int,
    *,
    params: Iterable[nn.Parameter] | None = None,
    after_step: Callable[[], None] | None = None,
    adversary: Adversary | None = None,
) -> nn.Module:
    """Train `model` in place on (x, target) and return it in eval mode.

    `target` holds class indices (int) or probability rows (float, distillation). Only
    `params` are optimised when given (the rest stay frozen).
    """
    if len(x) != len(target) or len(x) == 0:
        raise InputError(f"Training needs as many targets as inputs (got {len(x)}, {len(target)}).")
    inputs = torch.from_numpy(np.ascontiguousarray(x))
    targets = torch.from_numpy(np.ascontiguousarray(target))
    trainable = list(params) if params is not None else list(model.parameters())
    optimizer = _optimizer(trainable, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        for _ in range(config.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                xb, tb = inputs[batch], targets[batch]
                if adversary is not None:
                    model.eval()
                    xb = adversary.perturb(model, xb, tb)
                    model.train()
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xb), tb)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                if after_step is not None:
                    after_step()
    model.eval()
    return model


def _optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
        )
    raise InputError(f"Unknown optimizer {config.optimizer!r}; use adam or sgd.")


def predict_logits(model: nn.Module, x: npt.NDArray[np.float32], batch: int = 1024) -> torch.Tensor:
    """The model's logits on `x`, in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        parts = [model(torch.from_numpy(x[i : i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(parts)
