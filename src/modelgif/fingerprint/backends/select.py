"""Choosing a backend: exact when the model converts and checks out, black-box otherwise.

Why automatic with a logged reason: users hand us whatever they have (an ONNX file, a
quantized export, a function wrapping an API). The exact backend is preferred for speed and
precision, but only when TorchGraph supports every op AND reproduces onnxruntime on the
anchors; otherwise the black-box backend runs the same estimator-agnostic field with finite
differences, and the reason is logged and returned so it can be recorded. An explicit
choice ("exact" / "blackbox") is obeyed, and a forced "exact" that cannot work raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import onnx
import torch

from modelgif.errors import BackendError, InputError
from modelgif.fingerprint.backends.base import Backend
from modelgif.fingerprint.backends.blackbox import BlackBoxBackend
from modelgif.fingerprint.backends.exact import ExactBackend
from modelgif.validation import check_choice

__all__ = ["BACKENDS", "ModelLike", "as_onnx", "fall_back_reason", "select_backend"]

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("auto", "exact", "blackbox")

ModelLike = onnx.ModelProto | Callable[[np.ndarray], np.ndarray] | object


def as_onnx(model: object) -> onnx.ModelProto | None:
    """The ModelProto inside `model` (a ModelProto, or anything with a `.model` one)."""
    if isinstance(model, onnx.ModelProto):
        return model
    inner = getattr(model, "model", None)
    return inner if isinstance(inner, onnx.ModelProto) else None


def select_backend(
    model: ModelLike,
    anchors: np.ndarray,
    choice: str = "auto",
    *,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
) -> tuple[Backend, str]:
    """Return (backend, reason). The exact backend is checked against onnxruntime on `anchors`."""
    check_choice(choice, "backend", "select_backend()", BACKENDS)
    proto = as_onnx(model)
    if proto is None:
        if not callable(model):
            raise InputError(
                "A model must be an onnx.ModelProto, a NormalizedModel or a callable that maps "
                f"a batch of inputs to outputs. Got {type(model).__name__}."
            )
        if choice == "exact":
            raise BackendError("The exact backend needs an ONNX model, not a callable.")
        return BlackBoxBackend(model), "the model is a callable: forward passes only"
    if choice == "blackbox":
        return _blackbox(proto, batch_size), "black-box requested"
    try:
        exact = ExactBackend(proto, device=device, batch_size=batch_size or 64)
        exact.check(anchors)
    except BackendError as exc:
        return _blackbox(proto, batch_size), fall_back_reason(exc, choice)
    return exact, "exact backend: converted graph matches onnxruntime on the anchors"


def fall_back_reason(error: BackendError, choice: str) -> str:
    """Why a verdict runs black-box after the exact backend failed: logged, and recorded in
    the result. Re-raises `error` when the caller asked for the exact backend only."""
    if choice == "exact":
        raise error
    reason = f"exact backend unavailable, using black-box: {error}"
    log.warning(reason)
    return reason


def _blackbox(proto: onnx.ModelProto, batch_size: int | None) -> BlackBoxBackend:
    return BlackBoxBackend.from_onnx(proto, batch_size=batch_size or 1024)
