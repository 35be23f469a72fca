"""Black-box backend: central finite differences along the sketch directions, forward passes only.

Why: a suspect behind an inference API, or a graph the exact backend cannot convert, still
has a field. The i-th sketch entry at a path point x is the directional derivative of F
along u_i = P[:, i] * (anchor - baseline), estimated as (F(x + h u) - F(x - h u)) / (2h);
one more direction, u_0 = anchor - baseline, gives the path derivative for the
completeness check. So a point costs 2(k + 1) forward passes, all batched.

The step is set in input units per coordinate: h = eps / rms(u), so every coordinate moves
by about eps. Measured on the zoo: eps = 1e-3 x the input scale is right for float models (1e-2
crosses ReLU kinks, 1e-4 hits float32 rounding); quantized models are piecewise constant and
need eps around 0.1-0.3 x the scale, and are then comparable only with other models measured
at the same eps. The eps is therefore part of the recorded estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from modelgif.errors import BackendError
from modelgif.fingerprint.backends.base import PointGradients
from modelgif.fingerprint.ops import QUANTIZATION_OPS
from modelgif.fingerprint.sketch import Projection
from modelgif.fingerprint.targets import scalar_numpy
from modelgif.fingerprint.torch_graph import graph_ops
from modelgif.runtime import first_line, make_session

__all__ = [
    "FLOAT_EPS",
    "QUANTIZED_EPS",
    "BlackBoxBackend",
    "default_eps",
    "is_quantized_graph",
]

FLOAT_EPS = 1e-3  # x input scale
QUANTIZED_EPS = 0.1  # x input scale

Forward = Callable[[np.ndarray], np.ndarray]


def is_quantized_graph(model: onnx.ModelProto) -> bool:
    """True when the graph uses quantization ops (standard or com.microsoft QLinear*)."""
    ops = graph_ops(model)
    return bool(ops & QUANTIZATION_OPS) or any("QLinear" in op or "Quant" in op for op in ops)


def default_eps(input_scale: float, quantized: bool) -> float:
    """The finite-difference step for a model whose inputs have typical size `input_scale`."""
    return (QUANTIZED_EPS if quantized else FLOAT_EPS) * input_scale


class BlackBoxBackend:
    """Finite differences of F over any batch forward function."""

    name = "blackbox"

    def __init__(
        self,
        forward: Forward,
        *,
        eps: float | None = None,
        batch_size: int = 1024,
        batch_coupled: bool = False,
        quantized: bool = False,
    ) -> None:
        self._forward = forward
        self.eps = eps
        self.batch_size = batch_size
        self.batch_coupled = batch_coupled
        self.quantized = quantized

    @classmethod
    def from_onnx(
        cls,
        model: onnx.ModelProto,
        *,
        eps: float | None = None,
        batch_size: int = 1024,
        providers: list[str] | None = None,
        threads: int | None = None,
    ) -> BlackBoxBackend:
        """A backend on an onnxruntime session (CUDA provider when available)."""
        session = make_session(model.SerializeToString(), providers=providers, threads=threads)
        name = session.get_inputs()[0].name

        def forward(x: np.ndarray) -> np.ndarray:
            try:
                return np.asarray(session.run(None, {name: x})[0])
            except Exception as error:  # onnxruntime raises its own exception types
                raise BackendError(
                    f"onnxruntime cannot run the model: {first_line(error)}"
                ) from None

        ops = graph_ops(model)
        return cls(
            forward,
            eps=eps,
            batch_size=batch_size,
            batch_coupled="DynamicQuantizeLinear" in ops,
            quantized=is_quantized_graph(model),
        )

    def params(self) -> dict[str, Any]:
        return {"eps": self.eps, "scheme": "central", "step": "rms-per-coordinate"}

    def outputs(self, x: np.ndarray) -> np.ndarray:
        step = 1 if self.batch_coupled else self.batch_size
        out = []
        for i in range(0, len(x), step):
            y = np.asarray(self._forward(np.ascontiguousarray(x[i : i + step], np.float32)))
            if y.ndim == 0 or y.shape[0] != min(step, len(x) - i):
                raise BackendError(f"The model returned {y.shape[0]} rows for {step} inputs.")
            out.append(y)
        return np.concatenate(out)

    def point_gradients(
        self,
        points: np.ndarray,
        scales: np.ndarray,
        projection: Projection,
        target: str,
        classes: np.ndarray,
        keep_full: bool = False,
    ) -> PointGradients:
        if self.eps is None or not self.eps > 0:
            raise BackendError("The black-box backend needs a positive eps.")
        b, shape = points.shape[0], points.shape[1:]
        flat_scales = scales.reshape(b, -1).astype(np.float64)
        base = projection.directions().astype(np.float64)  # (k, D)
        k, dim = base.shape
        # directions (B, k + 1, D): the sketch directions, then the path direction
        dirs = np.concatenate([base[None] * flat_scales[:, None, :], flat_scales[:, None, :]], 1)
        rms = np.sqrt(np.mean(dirs**2, axis=2))  # (B, k + 1)
        steps = np.where(rms > 0, self.eps / np.where(rms > 0, rms, 1.0), 0.0)
        delta = (dirs * steps[..., None]).astype(np.float32)
        flat_points = points.reshape(b, 1, dim).astype(np.float32)
        plus = (flat_points + delta).reshape(-1, *shape)
        minus = (flat_points - delta).reshape(-1, *shape)
        rows = np.repeat(classes, k + 1)
        f_plus = scalar_numpy(self.outputs(plus), target, rows).reshape(b, k + 1)
        f_minus = scalar_numpy(self.outputs(minus), target, rows).reshape(b, k + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            deriv = np.where(steps > 0, (f_plus - f_minus) / (2 * steps), 0.0)
        return PointGradients(sketch=deriv[:, :k].astype(np.float32), path=deriv[:, k], full=None)
