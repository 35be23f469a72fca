"""Ops that make or retype tensors: constants, ranges, casts, identities."""

from __future__ import annotations

import torch

from modelgif.fingerprint.ops.base import (
    ONNX_TO_TORCH,
    QRANGE,
    Handler,
    Node,
    Value,
    ints,
    tensor_from_proto,
    type_name,
)

__all__ = ["HANDLERS", "constant"]


def constant(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    """A Constant node's value (the interpreter stores it as a buffer)."""
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            value = node.attrs[key]
            if key == "value":
                return [tensor_from_proto(value)]
            dtype = torch.float32 if "float" in key else torch.int64
            return [torch.tensor(value, dtype=dtype)]
    raise node.unsupported("without a numeric value attribute")


def _constant_of_shape(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    value = node.attrs.get("value")
    fill = tensor_from_proto(value) if value is not None else torch.zeros(1)
    return [torch.full(ints(xs[0]), fill.reshape(-1)[0].item(), dtype=fill.dtype)]


def _range(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    start, limit, delta = xs
    assert start is not None and limit is not None and delta is not None
    return [torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)]


def _cast(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    to = node.attr("to")
    dtype = ONNX_TO_TORCH.get(to)
    if dtype is None:
        raise node.unsupported(f"to {type_name(to)}")
    if x.dtype == dtype:
        return [x]
    if x.is_floating_point() and to in QRANGE:  # float -> small int: saturate, as ORT does
        lo, hi = QRANGE[to]
        return [torch.clamp(torch.trunc(x), lo, hi).to(dtype)]
    return [x.to(dtype)]


def _cast_like(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, like = xs[0], xs[1]
    assert x is not None and like is not None
    return [x.to(like.dtype)]


def _identity(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [xs[0]]


def _dropout(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    """Inference-mode Dropout: the identity and an all-true mask. Training mode is random."""
    x = xs[0]
    assert x is not None
    training = xs[2] if len(xs) > 2 else None
    if training is not None and bool(training.reshape(-1)[0]):
        raise node.unsupported("in training mode")
    return [x, torch.ones_like(x, dtype=torch.bool)][: len(node.outputs)]


HANDLERS: dict[str, Handler] = {
    "Identity": _identity,
    "Dropout": _dropout,
    "Constant": constant,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Cast": _cast,
    "CastLike": _cast_like,
}
