"""The ModelGiF field at secret anchors, and its sketch, independent of the gradient backend.

Why this shape: the field is defined once here, so the exact and black-box backends cannot
drift apart. For each anchor x and baseline x0, on the straight path x(a) = x0 + a (x - x0)
with quadrature nodes a_s and weights w_s (quadrature.py):

    g_s = dF/dx at x(a_s),   G_s = sum_{j<=s} w_j g_j,   phi_s = (x - x0) * G_s.

phi_S is ordinary integrated gradients; the whole sequence phi_1..phi_S is the field. F is
the model's own top-1 logit at the anchor (default), the log-sum-exp of the logits, or a given
class's logit (targets.py). Each phi_s is stored as its secret sketch P^T phi_s (sketch.py;
version-1 configs kept phi_s exactly when the input had at most k dimensions). The
completeness error
|sum(phi_S) - (F(x) - F(x0))| is returned with the field, as a check of the quadrature and
of the backend.

Every parameter that changes the numbers is in FieldConfig, and the result carries the
*resolved* config (backend "auto" replaced by what ran, eps filled in), so a verifier can
rebuild the same estimator from the fingerprint alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from modelgif.budget import run_budgeted
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorSet
from modelgif.fingerprint.backends.base import Backend
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend, default_eps
from modelgif.fingerprint.backends.select import BACKENDS, select_backend
from modelgif.fingerprint.batch_guard import BatchGuard
from modelgif.fingerprint.quadrature import MAX_STEPS, RULES, Quadrature, quadrature
from modelgif.fingerprint.sketch import IDENTITY_VERSION, KINDS, Projection, make_projection
from modelgif.fingerprint.targets import TARGETS, scalar_numpy, target_classes
from modelgif.validation import (
    MAX_PATH_POINTS,
    MAX_SKETCH_ELEMENTS,
    check_choice,
    check_float,
    check_int,
    check_known_keys,
    check_work,
)

__all__ = [
    "FIELD_FORMAT_VERSION",
    "Completeness",
    "FieldConfig",
    "FieldResult",
    "compute_field",
    "field_cosines",
]

log = logging.getLogger(__name__)

FIELD_FORMAT_VERSION = 2  # 2: the sketch is a secret projection for every input size
BASELINES: tuple[str, ...] = ("zeros", "constant")
_OWNER = "FieldConfig"
_MEMORY_ELEMENTS = 1 << 24  # float elements per black-box chunk (sizes the point batches)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FieldConfig:
    """Every parameter that changes the field's numbers; echoed into the fingerprint."""

    n_steps: int = 16
    rule: str = "gauss-legendre"
    baseline: str = "zeros"
    baseline_value: float = 0.0
    target: str = "top1"
    target_class: int | None = None
    sketch_dim: int = 64
    projection: str = "gaussian"
    backend: str = "auto"
    fd_eps: float | None = None  # black-box step per coordinate, input units; None = auto
    version: int = FIELD_FORMAT_VERSION

    def __post_init__(self) -> None:
        check_int(self.n_steps, "n_steps", _OWNER, 2 if self.rule == "trapezoid" else 1, MAX_STEPS)
        check_choice(self.rule, "rule", _OWNER, RULES)
        check_choice(self.baseline, "baseline", _OWNER, BASELINES)
        check_float(self.baseline_value, "baseline_value", _OWNER, -1e30, 1e30)
        check_choice(self.target, "target", _OWNER, TARGETS)
        if self.target == "class":
            check_int(self.target_class, "target_class", _OWNER, 0, 1 << 31)
        elif self.target_class is not None:
            raise InputError(f"target_class is only used with target='class'; got {self.target}.")
        check_int(self.sketch_dim, "sketch_dim", _OWNER, 1, 1 << 16)
        check_choice(self.projection, "projection", _OWNER, KINDS)
        check_choice(self.backend, "backend", _OWNER, BACKENDS)
        if self.fd_eps is not None:
            check_float(self.fd_eps, "fd_eps", _OWNER, 1e-12, 1e6)
        check_int(self.version, "version", _OWNER, IDENTITY_VERSION, FIELD_FORMAT_VERSION)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldConfig:
        """Inverse of to_dict; unknown keys are rejected (a newer format, or a typo)."""
        check_known_keys(data, cls.__dataclass_fields__, "field config")
        return cls(**data)


@dataclass(frozen=True)
class Completeness:
    """Integrated gradients vs F(anchor) - F(baseline), per anchor."""

    integrated: np.ndarray  # sum of the final field phi_S, (N,)
    delta: np.ndarray  # F(anchor) - F(baseline), (N,)

    @property
    def abs_error(self) -> np.ndarray:
        return np.asarray(np.abs(self.integrated - self.delta))

    @property
    def relative_error(self) -> np.ndarray:
        return np.asarray(self.abs_error / np.maximum(np.abs(self.delta), 1e-12))

    def summary(self) -> dict[str, float]:
        rel = self.relative_error
        return {"median_relative": float(np.median(rel)), "max_relative": float(np.max(rel))}


@dataclass(frozen=True)
class FieldResult:
    """A computed field: the sketch (N, S, k) float32 and everything needed to trust it."""

    sketch: np.ndarray
    config: FieldConfig  # resolved: backend is "exact" or "blackbox", fd_eps set if black-box
    classes: np.ndarray  # target class per anchor (-1 for logsumexp), int64
    completeness: Completeness
    estimator: dict[str, Any]  # backend name, its parameters, and why it was chosen
    projection: Projection = field(repr=False)
    full: np.ndarray | None = field(default=None, repr=False)  # (N, S, D) when kept (exact)


def field_cosines(
    a: np.ndarray | FieldResult, b: np.ndarray | FieldResult, who: str = "a model"
) -> np.ndarray:
    """Cosine per (anchor, step) of two fields or sketches of equal shape (N, S, k).

    NaN or Inf anywhere is an InputError naming `who`, never a low similarity: a model that
    answers NaN tells nothing about where it came from.
    """
    x = np.asarray(a.sketch if isinstance(a, FieldResult) else a, dtype=np.float64)
    y = np.asarray(b.sketch if isinstance(b, FieldResult) else b, dtype=np.float64)
    if x.shape != y.shape:
        raise InputError(f"Fields of different shapes cannot be compared: {x.shape} vs {y.shape}.")
    x = x.reshape(*x.shape[:2], -1)
    y = y.reshape(*y.shape[:2], -1)
    finite = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(y).all(axis=(1, 2))
    bad = int(np.count_nonzero(~finite))
    if bad:
        raise InputError(f"{who} returns NaN/Inf at {bad} of {x.shape[0]} anchors: "
                         "its answers are not evidence")
    norms = np.linalg.norm(x, axis=2) * np.linalg.norm(y, axis=2)
    dots = np.sum(x * y, axis=2)
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)


def compute_field(
    model: object,
    anchors: np.ndarray | AnchorSet,
    secret: bytes,
    config: FieldConfig | None = None,
    *,
    backend: Backend | None = None,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    keep_full: bool = False,
    progress: Progress | None = None,
) -> FieldResult:
    """The field of `model` at `anchors`, sketched with the projection derived from `secret`.

    `model` is an onnx.ModelProto, a NormalizedModel (anything with an ONNX `.model`), or a
    callable mapping a float32 batch (B, *input_shape) to outputs (B, C). `backend` overrides
    the automatic choice. `progress(done, total)` is called after every batch of path points.
    `keep_full` also returns the unprojected field (exact backend only; memory N*S*D floats).
    The computation runs in a child process held to the wall-time and memory budget.
    """
    config = config or FieldConfig()
    x = np.ascontiguousarray(anchors.inputs if isinstance(anchors, AnchorSet) else anchors)
    if x.ndim < 2 or x.shape[0] < 1 or not np.all(np.isfinite(x)):
        raise InputError(f"Anchors must be a finite (N, ...) array. Got shape {x.shape}.")
    sizes = {"anchors": len(x), "steps": config.n_steps}
    check_work("path points", sizes, MAX_PATH_POINTS)
    check_work("sketch entries", {**sizes, "sketch_dim": config.sketch_dim}, MAX_SKETCH_ELEMENTS)
    return run_budgeted(_compute_field, model, x.astype(np.float32), secret, config, backend,
                        device, batch_size, keep_full, what="model", progress=progress)


def _compute_field(
    model: object,
    x: np.ndarray,
    secret: bytes,
    config: FieldConfig,
    backend: Backend | None,
    device: str | torch.device | None,
    batch_size: int | None,
    keep_full: bool,
    progress: Progress | None = None,
) -> FieldResult:
    if backend is None:
        backend, reason = select_backend(
            model, x, config.backend, device=device, batch_size=batch_size
        )
    else:
        reason = "backend given by the caller"
    config = _resolve(config, backend, x)
    guard = BatchGuard(backend, secret)
    backend = guard
    quad = quadrature(config.rule, config.n_steps)
    baseline = np.full(x.shape[1:], config.baseline_value if config.baseline == "constant" else 0.0)
    projection = make_projection(
        secret, int(np.prod(x.shape[1:])), config.sketch_dim, config.projection, config.version
    )
    logits = backend.outputs(x)
    classes = target_classes(logits, config.target, config.target_class)
    f_anchor = scalar_numpy(logits, config.target, classes)
    f_base = scalar_numpy(
        backend.outputs(np.repeat(baseline[None].astype(np.float32), len(x), axis=0)),
        config.target,
        classes,
    )
    sketch, integrated, full = _integrate(
        backend, x, baseline, quad, projection, config, classes, keep_full, progress
    )
    if guard.switched:
        reason += "; one sample at a time (its answers depend on the rest of a batch)"
    estimator = {"name": backend.name, "params": backend.params(), "reason": reason}
    return FieldResult(
        sketch=sketch,
        config=config,
        classes=classes,
        completeness=Completeness(integrated=integrated, delta=f_anchor - f_base),
        estimator=estimator,
        projection=projection,
        full=full,
    )


def _resolve(config: FieldConfig, backend: Backend, x: np.ndarray) -> FieldConfig:
    """Replace 'auto' by the backend that runs, and fill the black-box eps."""
    if backend.name == "exact":
        return replace(config, backend="exact", fd_eps=None)
    eps = config.fd_eps
    if eps is None:
        scale = float(np.std(x)) or 1.0
        eps = default_eps(scale, backend.quantized)
    if isinstance(backend, BlackBoxBackend):
        backend.eps = eps
    return replace(config, backend="blackbox", fd_eps=float(eps))


def _integrate(
    backend: Backend,
    x: np.ndarray,
    baseline: np.ndarray,
    quad: Quadrature,
    projection: Projection,
    config: FieldConfig,
    classes: np.ndarray,
    keep_full: bool,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    n, s, k = len(x), quad.n_steps, projection.k
    dim = projection.dim
    sketch = np.zeros((n, s, k), dtype=np.float64)
    path = np.zeros((n, s), dtype=np.float64)
    keep_full = keep_full and backend.name == "exact"
    full = np.zeros((n, s, dim), dtype=np.float32) if keep_full else None
    scales = (x - baseline).astype(np.float32)
    # flat (anchor, step) index, anchor-major; chunks sized to bound black-box memory
    total = n * s
    chunk = (
        256 if backend.name == "exact" else max(1, min(256, _MEMORY_ELEMENTS // ((k + 2) * dim)))
    )
    done = 0
    for start in range(0, total, chunk):
        idx = np.arange(start, min(start + chunk, total))
        a_idx, s_idx = idx // s, idx % s
        alphas = quad.nodes[s_idx].reshape(-1, *([1] * (x.ndim - 1)))
        points = (baseline + alphas * (x[a_idx] - baseline)).astype(np.float32)
        grads = backend.point_gradients(
            points, scales[a_idx], projection, config.target, classes[a_idx], keep_full
        )
        sketch[a_idx, s_idx] = grads.sketch
        path[a_idx, s_idx] = grads.path
        if full is not None and grads.full is not None:
            full[a_idx, s_idx] = grads.full
        done += len(idx)
        if progress is not None:
            progress(done, total)
    weights = quad.weights.reshape(1, s, 1)
    cumulative = np.cumsum(sketch * weights, axis=1).astype(np.float32)
    integrated = (path * quad.weights[None]).sum(axis=1)
    if full is not None:
        full = np.cumsum(full * weights.astype(np.float32), axis=1, dtype=np.float64).astype(
            np.float32
        )
    return cumulative, integrated, full
