"""Reductions over axes (Reduce*) and the index reductions ArgMax and ArgMin."""

from __future__ import annotations

from collections.abc import Callable

import torch

from modelgif.fingerprint.ops.base import Handler, Node, Value, axes_of

__all__ = ["HANDLERS"]

Reduction = Callable[[torch.Tensor, list[int], bool], torch.Tensor]


def _prod(x: torch.Tensor, dims: list[int], keep: bool) -> torch.Tensor:
    for d in sorted(dims, reverse=True):
        x = x.prod(dim=d, keepdim=keep)
    return x


_REDUCTIONS: dict[str, Reduction] = {
    "mean": lambda x, d, k: x.mean(dim=d, keepdim=k),
    "sum": lambda x, d, k: x.sum(dim=d, keepdim=k),
    "max": lambda x, d, k: torch.amax(x, dim=d, keepdim=k),
    "min": lambda x, d, k: torch.amin(x, dim=d, keepdim=k),
    "prod": _prod,
    "l1": lambda x, d, k: x.abs().sum(dim=d, keepdim=k),
    "l2": lambda x, d, k: torch.sqrt((x * x).sum(dim=d, keepdim=k)),
    "sum_square": lambda x, d, k: (x * x).sum(dim=d, keepdim=k),
    "log_sum": lambda x, d, k: torch.log(x.sum(dim=d, keepdim=k)),
    "log_sum_exp": lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k),
}


def _empty_extreme(x: torch.Tensor, dims: list[int], keep: bool, kind: str) -> torch.Tensor:
    """Max (min) over an empty set: the identity of the reduction, as the ONNX spec says."""
    shape = [1 if i in dims else s for i, s in enumerate(x.shape) if keep or i not in dims]
    if x.dtype == torch.bool:
        value: float | bool = kind == "min"
    elif x.is_floating_point():
        value = torch.inf if kind == "min" else -torch.inf
    else:
        info = torch.iinfo(x.dtype)
        value = info.max if kind == "min" else info.min
    return torch.full(shape, value, dtype=x.dtype, device=x.device)


def _reduce(kind: str) -> Handler:
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        axes = axes_of(node, xs, 1)
        keep = bool(node.attr("keepdims", 1))
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.ndim))
        if x.ndim == 0:  # a scalar: reduce it as a one-element vector, back to rank 0
            return [_REDUCTIONS[kind](x.reshape(1), [0], False)]
        dims = sorted({a % x.ndim for a in axes})
        if kind in ("max", "min") and any(x.shape[d] == 0 for d in dims):
            return [_empty_extreme(x, dims, keep, kind)]
        return [_REDUCTIONS[kind](x, dims, keep)]

    return run


def _arg(fn: Callable[..., torch.Tensor]) -> Handler:
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        axis = node.attr("axis", 0) % x.ndim
        keep = bool(node.attr("keepdims", 1))
        if not node.attr("select_last_index", 0):
            return [fn(x, dim=axis, keepdim=keep)]
        last = x.shape[axis] - 1  # the first index of the flipped tensor is the last one
        return [last - fn(torch.flip(x, [axis]), dim=axis, keepdim=keep)]

    return run


HANDLERS: dict[str, Handler] = {
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
    "ReduceProd": _reduce("prod"),
    "ReduceL1": _reduce("l1"),
    "ReduceL2": _reduce("l2"),
    "ReduceSumSquare": _reduce("sum_square"),
    "ReduceLogSum": _reduce("log_sum"),
    "ReduceLogSumExp": _reduce("log_sum_exp"),
    "ArgMax": _arg(torch.argmax),
    "ArgMin": _arg(torch.argmin),
}
