"""Tiny torch models and their ONNX exports, shared by the field/backend tests."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from modelgif.fingerprint.export import export_torch

_DIR = Path(tempfile.mkdtemp(prefix="modelgif-field-tests-"))


class TanhMLP(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(nn.Linear(40, 32), nn.Tanh(), nn.Linear(32, 10))


class ReluMLP(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            nn.Linear(40, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
        )


class Cnn1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 8, 5, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.head = nn.Linear(8 * 20, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x.unsqueeze(1))))
        return self.head(nn.functional.max_pool1d(h, 2).flatten(1))


class Cnn2d(nn.Module):
    """Conv-BN-ReLU, a residual block, pooling: the ResNet vocabulary at toy size."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        h = torch.relu(self.block(h) + h)
        h = nn.functional.avg_pool2d(torch.relu(self.down(h)), 2)
        return self.head(nn.functional.adaptive_avg_pool2d(h, 1).flatten(1))


class Transformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 16)
        self.block = nn.TransformerEncoderLayer(
            16, 2, 32, dropout=0.0, batch_first=True, activation="gelu"
        )
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block(self.embed(x.reshape(x.shape[0], 10, 4)))
        return self.head(h.mean(1))


SHAPES = {"tanh_mlp": (40,), "relu_mlp": (40,), "cnn1d": (40,), "cnn2d": (3, 8, 8), "tf": (40,)}
_CLASSES = {
    "tanh_mlp": TanhMLP,
    "relu_mlp": ReluMLP,
    "cnn1d": Cnn1d,
    "cnn2d": Cnn2d,
    "tf": Transformer,
}


@functools.cache
def torch_model(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = _CLASSES[name]()
    for module in model.modules():  # non-trivial BN statistics, so folding matters
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@functools.cache
def onnx_path(name: str, exporter: str = "legacy", seed: int = 0) -> Path:
    x = torch.zeros(2, *SHAPES[name])
    return export_torch(
        torch_model(name, seed), x, _DIR / f"{name}-{exporter}-{seed}.onnx", exporter
    )


def onnx_model(name: str, exporter: str = "legacy", seed: int = 0) -> onnx.ModelProto:
    return onnx.load(str(onnx_path(name, exporter, seed)))


@functools.cache
def quantized_path(name: str, kind: str) -> Path:
    """onnxruntime quantize_dynamic ("dynamic") or static QDQ ("qdq") of a legacy export.

    reduce_range (7-bit weights): on x86 CPUs without VNNI, onnxruntime's u8s8 kernels add
    pairs of products in saturating int16 (vpmaddubsw), so a full-range int8 model computes
    something other than the ONNX spec on those machines only (measured: 7-13 % relative
    output difference on an AVX2-only EPYC). onnxruntime recommends reduce_range there; with
    it both agree with the spec everywhere, which is what these interpreter tests compare.
    On a saturating full-range model the exact backend's own check refuses and falls back to
    black-box.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    src = onnx_path(name)
    out = _DIR / f"{name}-{kind}.onnx"
    if kind == "dynamic":
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, reduce_range=True)
        return out
    rng = np.random.default_rng(0)
    batches = [{"input": rng.normal(size=(8, *SHAPES[name])).astype(np.float32)} for _ in range(4)]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    quantize_static(str(src), str(out), Reader(), reduce_range=True)
    return out


def inputs(name: str, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *SHAPES[name])).astype(np.float32)


def torch_gradients(
    name: str, x: np.ndarray, seed: int = 0, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Input gradient of the top-1 (or given) logit of the original torch model, and classes."""
    model = torch_model(name, seed)
    xt = torch.from_numpy(x).requires_grad_(True)
    out = model(xt)
    classes_t = out.argmax(1) if classes is None else torch.from_numpy(classes)
    (grad,) = torch.autograd.grad(out.gather(1, classes_t[:, None]).sum(), xt)
    return grad.numpy(), classes_t.numpy()
