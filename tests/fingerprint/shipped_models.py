"""Models as owners ship them: fixed-batch default exports, uint8 NHWC images, two outputs.

Each is a real torch module exported by torch's own exporters with their DEFAULT settings
(no dynamic axes), the way a user who never read the ONNX docs writes the file.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """28x28 digits, `x.view(x.size(0), -1)`: the batch is baked into a Reshape constant."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(x.view(x.size(0), -1))


class BatchBoundCNN(DigitsCNN):
    """Appends `torch.ones(x.shape[0], 3)` to the features: a fixed export folds the batch
    into that constant, and Concat (not a Reshape) then needs exactly that batch, so the
    rewrite fails its check; what is left is running the original one sample at a time
    (batch 1) or refusing (batch 8).
    """

    def __init__(self, rows: int | None = None) -> None:
        super().__init__()
        self.fc = nn.Linear(8 * 7 * 7 + 3, 10)
        self.rows = rows  # a literal batch size written into the code, whatever the export

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
        flat = x.view(x.size(0), -1)
        extra = torch.ones(self.rows or x.shape[0], 3)
        return self.fc(torch.cat([flat, extra], dim=1))


class PixelsCNN(nn.Module):
    """Raw uint8 NHWC pixels in; Cast, /255, mean and std, NHWC->NCHW inside the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 5)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.float().div(255.0).permute(0, 3, 1, 2)
        x = (x - self.mean) / self.std
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class TwoHeads(nn.Module):
    """(features, logits): the field is wanted of the second output."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 16), nn.Tanh())
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


def seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    """The module with weights drawn from a seeded generator, in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return module.eval()


def default_export(module: nn.Module, example: torch.Tensor, path: Path, dynamo: bool = True,
                   **kwargs: object) -> Path:
    """`torch.onnx.export(module, (example,), path)` as a user calls it (quietly)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), dynamo=dynamo, **kwargs)  # type: ignore[arg-type]
    return path
