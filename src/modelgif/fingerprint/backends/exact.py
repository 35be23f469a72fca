"""Exact backend: reverse-mode input gradients of the ONNX model, run as torch (TorchGraph).

Why: one backward pass gives the whole gradient, about 2(k + 1) / 3 times cheaper than k
finite differences, and exact to float32 rounding. Trust is earned per use: before any
gradient is taken the converted module is checked against onnxruntime on the very anchors
(relative L2 of the outputs), and a mismatch raises BackendError, which the auto selection
turns into a logged fallback to the black-box backend. The model's tensors are buffers,
never Parameters, so autograd only ever tracks the input. Path points of several anchors
and steps are batched together; a batch-coupled graph (dynamic quantization) is run one
sample at a time, because that is the function a single inference request computes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx
import torch

from modelgif.errors import BackendError
from modelgif.fingerprint.backends.base import PointGradients
from modelgif.fingerprint.sketch import Projection
from modelgif.fingerprint.targets import scalar_torch
from modelgif.fingerprint.torch_graph import TorchGraph
from modelgif.runtime import first_line, make_session

__all__ = ["FLOAT_TOLERANCE", "QUANTIZED_TOLERANCE", "ExactBackend", "default_device"]

log = logging.getLogger(__name__)

FLOAT_TOLERANCE = 1e-4  # relative L2, converted module vs onnxruntime, float graphs
QUANTIZED_TOLERANCE = 5e-2  # onnxruntime's fused integer kernels round differently


def default_device() -> torch.device:
    """CUDA when torch sees a GPU, CPU otherwise."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ExactBackend:
    """Reverse-mode gradients of an ONNX model through TorchGraph."""

    name = "exact"

    def __init__(
        self,
        model: onnx.ModelProto,
        device: str | torch.device | None = None,
        batch_size: int = 64,
        channels_last: bool = True,
    ) -> None:
        self.device = torch.device(device) if device is not None else default_device()
        self.module = TorchGraph(model).to(self.device).eval()
        # channels_last: oneDNN's preferred layout for 2-D convolutions, ~1.2x faster on
        # ResNet-18 at equal results (benchmarks/bench_kernels.py); a layout, not a change
        # of arithmetic order that matters (the onnxruntime check still guards the outputs).
        kernels = [b for b in self.module.buffers() if b.dim() == 4 and b.is_floating_point()]
        self.channels_last = channels_last and bool(kernels)
        for tensor in self.module.buffers():
            tensor.requires_grad_(False)
        for kernel in kernels if self.channels_last else []:
            kernel.data = kernel.data.contiguous(memory_format=torch.channels_last)
        self.batch_coupled = self.module.batch_coupled
        self.quantized = self.module.quantized
        self.batch_size = 1 if self.batch_coupled else batch_size
        self._model_bytes = model.SerializeToString()
        self._matrix: torch.Tensor | None = None
        self._matrix_key: int | None = None

    def params(self) -> dict[str, Any]:
        return {"straight_through": self.quantized, "per_sample": self.batch_coupled}

    def check(self, x: np.ndarray, tolerance: float | None = None) -> float:
        """Relative L2 error of this module's outputs vs onnxruntime's on `x`; raise if over."""
        tol = tolerance or (QUANTIZED_TOLERANCE if self.quantized else FLOAT_TOLERANCE)
        session = make_session(self._model_bytes)
        name = session.get_inputs()[0].name
        step = 1 if self.batch_coupled else 256
        try:
            ref = np.concatenate(
                [session.run(None, {name: x[i : i + step]})[0] for i in range(0, len(x), step)]
            )
        except Exception as failure:  # onnxruntime raises its own exception types
            raise BackendError(f"onnxruntime cannot run the model: {first_line(failure)}") from None
        try:
            ours = self.outputs(x)
        except (RuntimeError, IndexError, ValueError, TypeError) as failure:
            raise BackendError(
                f"the converted model fails in torch: {first_line(failure)}"
            ) from None
        if ref.shape != ours.shape:
            raise BackendError(f"Converted output shape {ours.shape} != onnxruntime {ref.shape}.")
        error = float(np.linalg.norm(ours - ref)) / max(float(np.linalg.norm(ref)), 1e-30)
        if not np.isfinite(error) or error > tol:
            raise BackendError(
                f"The converted model disagrees with onnxruntime on the anchors "
                f"(relative L2 {error:.2e} > {tol:.0e})."
            )
        log.debug("exact backend check: relative L2 %.2e vs onnxruntime", error)
        return error

    def outputs(self, x: np.ndarray) -> np.ndarray:
        out: list[np.ndarray] = []
        step = 1 if self.batch_coupled else max(self.batch_size, 256)
        with torch.no_grad():
            for i in range(0, len(x), step):
                batch = self._input(x[i : i + step])
                out.append(self.module(batch).float().cpu().numpy())
        return np.concatenate(out)

    def _input(self, x: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        if self.channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def _projection(self, projection: Projection) -> torch.Tensor | None:
        if projection.matrix is None:
            return None
        if self._matrix_key != id(projection.matrix):
            self._matrix = torch.from_numpy(np.array(projection.matrix)).to(self.device)
            self._matrix_key = id(projection.matrix)
        return self._matrix

    def point_gradients(
        self,
        points: np.ndarray,
        scales: np.ndarray,
        projection: Projection,
        target: str,
        classes: np.ndarray,
        keep_full: bool = False,
    ) -> PointGradients:
        matrix = self._projection(projection)
        sketches, paths, fulls = [], [], []
        for i in range(0, len(points), self.batch_size):
            j = i + self.batch_size
            x = self._input(points[i:j])
            x.requires_grad_(True)
            cls = torch.from_numpy(classes[i:j]).to(self.device)
            value = scalar_torch(self.module(x), target, cls)
            (grad,) = torch.autograd.grad(value.sum(), x)
            scale = torch.from_numpy(np.ascontiguousarray(scales[i:j])).to(self.device)
            v = (grad.detach() * scale).reshape(len(x), -1)
            sketch = v if matrix is None else v @ matrix
            sketches.append(sketch.cpu().numpy())
            paths.append(v.double().sum(dim=1).cpu().numpy())
            if keep_full:
                fulls.append(v.cpu().numpy())
        return PointGradients(
            sketch=np.concatenate(sketches),
            path=np.concatenate(paths),
            full=np.concatenate(fulls) if keep_full else None,
        )
