"""Small real torch models of the four families the issue names, for tests.

Weights come from a seeded torch.Generator, so every test model is reproducible.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class TinyResNet(nn.Module):
    """ResNet-style: stem, two residual blocks, global pooling, linear head (8x8 inputs)."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU())
        self.blocks = nn.Sequential(ResidualBlock(8), ResidualBlock(8))
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.blocks(self.stem(x))
        return self.head(y.mean(dim=(2, 3)))


class TransformerBlock(nn.Module):
    """One encoder block; is_causal passed explicitly so the legacy exporter can trace it."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.0,
                                                batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, is_causal=False)


def make_model(kind: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """A seeded model of `kind` (mlp, cnn, resnet, transformer) and an example batch."""
    torch.manual_seed(seed)  # module init uses the global generator; seeded here, in tests
    generator = torch.Generator().manual_seed(seed)
    model: nn.Module
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(40, 32), nn.ReLU(), nn.Linear(32, 10))
        example = torch.randn(4, 40, generator=generator)
    elif kind == "cnn":
        model = nn.Sequential(nn.Conv1d(1, 4, 5), nn.BatchNorm1d(4), nn.ReLU(),
                              nn.MaxPool1d(2), nn.Flatten(), nn.Linear(4 * 18, 10))
        example = torch.randn(4, 1, 40, generator=generator)
    elif kind == "resnet":
        model = TinyResNet()
        example = torch.rand(4, 1, 8, 8, generator=generator)
    elif kind == "transformer":
        model = TransformerBlock()
        example = torch.randn(4, 5, 16, generator=generator)
    else:
        raise ValueError(kind)
    for module in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model.eval(), example
