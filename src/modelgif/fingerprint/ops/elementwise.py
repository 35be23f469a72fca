"""Elementwise ops: arithmetic, comparisons, logic and activations, all broadcasting."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from modelgif.fingerprint.ops.base import Handler, Node, Value

__all__ = ["HANDLERS"]


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Handler:
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        assert xs[0] is not None
        return [fn(xs[0])]

    return run


def _binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Handler:
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        a, b = xs[0], xs[1]
        assert a is not None and b is not None
        return [fn(a, b)]

    return run


def _variadic(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Handler:
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        items = [x for x in xs if x is not None]
        out = items[0]
        for x in items[1:]:
            out = fn(out, x)
        return [out]

    return run


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if not a.is_floating_point() and not b.is_floating_point():
        return torch.div(a, b, rounding_mode="trunc")
    return a / b


def _pow(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """ONNX Pow keeps the base's type (an integer base with a float exponent stays integer)."""
    return torch.pow(a, b).to(a.dtype)


def _mean(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    items = [x for x in xs if x is not None]
    (total,) = _variadic(torch.add)(node, list(items))
    return [total / len(items)]


def _mod(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    return [torch.fmod(a, b) if node.attr("fmod", 0) else torch.remainder(a, b)]


def _clip(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    if node.opset < 11:
        lo, hi = node.attr("min"), node.attr("max")
    else:
        lo = xs[1] if len(xs) > 1 else None
        hi = xs[2] if len(xs) > 2 else None
    if lo is None and hi is None:  # both bounds omitted: the identity
        return [x]
    return [torch.clamp(x, lo, hi)]


def _leaky_relu(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [F.leaky_relu(xs[0], node.attr("alpha", 0.01))]


def _prelu(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, slope = xs[0], xs[1]
    assert x is not None and slope is not None
    return [torch.where(x < 0, x * slope, x)]


def _elu(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [F.elu(xs[0], node.attr("alpha", 1.0))]


def _selu(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    alpha, gamma = (
        node.attr("alpha", 1.67326319217681884765625),
        node.attr("gamma", 1.05070102214813232421875),
    )
    return [gamma * torch.where(x > 0, x, alpha * (torch.exp(x) - 1))]


def _gelu(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [F.gelu(xs[0], approximate=node.attr("approximate", "none"))]


def _hard_sigmoid(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    return [torch.clamp(alpha * xs[0] + beta, 0.0, 1.0)]


def _where(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    c, a, b = xs
    assert c is not None and a is not None and b is not None
    return [torch.where(c.bool().to(a.device), a, b.to(a.device))]


def _is_inf(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    negative, positive = node.attr("detect_negative", 1), node.attr("detect_positive", 1)
    return [(torch.isneginf(x) & bool(negative)) | (torch.isposinf(x) & bool(positive))]


def _softsign(x: torch.Tensor) -> torch.Tensor:
    return x / (1 + torch.abs(x))


HANDLERS: dict[str, Handler] = {
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(_div),
    "Pow": _binary(_pow),
    "Mod": _mod,
    "Equal": _binary(torch.eq),
    "Less": _binary(torch.lt),
    "LessOrEqual": _binary(torch.le),
    "Greater": _binary(torch.gt),
    "GreaterOrEqual": _binary(torch.ge),
    "And": _binary(torch.logical_and),
    "Or": _binary(torch.logical_or),
    "Xor": _binary(torch.logical_xor),
    "Not": _unary(torch.logical_not),
    "Where": _where,
    "IsNaN": _unary(torch.isnan),  # transformer exports guard their softmax with it
    "IsInf": _is_inf,
    "Max": _variadic(torch.maximum),
    "Min": _variadic(torch.minimum),
    "Sum": _variadic(torch.add),
    "Mean": _mean,
    "Sqrt": _unary(torch.sqrt),
    "Reciprocal": _unary(torch.reciprocal),
    "Neg": _unary(torch.neg),
    "Abs": _unary(torch.abs),
    "Exp": _unary(torch.exp),
    "Log": _unary(torch.log),
    "Floor": _unary(torch.floor),
    "Ceil": _unary(torch.ceil),
    "Round": _unary(torch.round),
    "Sign": _unary(torch.sign),
    "Erf": _unary(torch.erf),
    "Sin": _unary(torch.sin),
    "Cos": _unary(torch.cos),
    "Tan": _unary(torch.tan),
    "Tanh": _unary(torch.tanh),
    "Sigmoid": _unary(torch.sigmoid),
    "Relu": _unary(torch.relu),
    "Softplus": _unary(F.softplus),
    "Softsign": _unary(_softsign),
    "Mish": _unary(F.mish),
    "HardSwish": _unary(F.hardswish),
    "LeakyRelu": _leaky_relu,
    "PRelu": _prelu,
    "Elu": _elu,
    "Selu": _selu,
    "Gelu": _gelu,
    "HardSigmoid": _hard_sigmoid,
    "Clip": _clip,
}
