"""Shape ops and data movement: reshaping, indexing, slicing, concatenation, padding.

Shape tensors are int64 and carry no gradient; the data ops move values without changing
them, so their gradient is the corresponding scatter, which torch provides.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from modelgif.fingerprint.ops.base import Handler, Node, Value, axes_of, ints

__all__ = ["HANDLERS"]


def _shape(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    dims = list(x.shape)
    start, end = node.attr("start", 0), node.attr("end", None)
    return [torch.tensor(dims[start:end], dtype=torch.int64)]


def _size(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [torch.tensor(xs[0].numel(), dtype=torch.int64)]


def _reshape(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    shape = ints(xs[1]) if node.opset >= 5 else list(node.attr("shape"))
    if not node.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


def _flatten(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axis = node.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis  # in [-rank, rank]
    lead = math.prod(x.shape[:axis])
    return [x.reshape(lead, math.prod(x.shape[axis:]))]


def _transpose(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    perm = node.attr("perm") or list(reversed(range(x.ndim)))
    return [x.permute(*perm)]


def _unsqueeze(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axes = axes_of(node, xs, 1) or []
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = x.unsqueeze(axis)
    return [x]


def _squeeze(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axes = axes_of(node, xs, 1)
    if axes is None:
        return [x.squeeze()]
    for axis in sorted((a % x.ndim for a in axes), reverse=True):
        if x.shape[axis] != 1:
            raise node.unsupported(f"of axis {axis} with size {x.shape[axis]}")
        x = x.squeeze(axis)
    return [x]


def _concat(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    items = [x for x in xs if x is not None]
    dtype = items[0].dtype
    return [torch.cat([t.to(dtype) for t in items], dim=node.attr("axis"))]


def _positive(idx: torch.Tensor, size: int, device: torch.device) -> torch.Tensor:
    idx = idx.long().to(device)
    return torch.where(idx < 0, idx + size, idx)


def _gather(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, idx = xs[0], xs[1]
    assert x is not None and idx is not None
    axis = node.attr("axis", 0) % x.ndim
    idx = _positive(idx, x.shape[axis], x.device)
    out = x.index_select(axis, idx.reshape(-1))
    return [out.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :]))]


def _gather_elements(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, idx = xs[0], xs[1]
    assert x is not None and idx is not None
    axis = node.attr("axis", 0) % x.ndim
    return [torch.gather(x, axis, _positive(idx, x.shape[axis], x.device))]


def _gather_nd(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    """GatherND: the last index axis addresses the first m data axes after batch_dims."""
    x, idx = xs[0], xs[1]
    assert x is not None and idx is not None
    b = int(node.attr("batch_dims", 0))
    m = int(idx.shape[-1])
    batch = x.shape[:b]
    flat_batch = int(torch.tensor(batch).prod()) if b else 1
    data = x.reshape(flat_batch, *x.shape[b:])
    index = idx.reshape(flat_batch, -1, m).long().to(x.device)
    sizes = torch.tensor(data.shape[1 : 1 + m], device=x.device)
    index = torch.where(index < 0, index + sizes, index)
    rows = torch.arange(flat_batch, device=x.device).reshape(-1, 1).expand(index.shape[:2])
    picked = data[(rows, *index.unbind(-1))]  # (flat_batch, k, *rest)
    return [picked.reshape(*batch, *idx.shape[b:-1], *data.shape[1 + m :])]


def _slice(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    if node.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes = list(node.attr("axes") or range(len(starts)))
        steps = [1] * len(starts)
    else:
        starts, ends = ints(xs[1]), ints(xs[2])
        axes = ints(xs[3]) if len(xs) > 3 and xs[3] is not None else list(range(len(starts)))
        steps = ints(xs[4]) if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis %= x.ndim
        begin, stop, stride = slice(start, end, step).indices(x.shape[axis])
        if stride > 0:
            x = (
                x.narrow(axis, begin, max(0, stop - begin))
                if stride == 1
                else x[(slice(None),) * axis + (slice(begin, stop, stride),)]
            )
        else:
            index = torch.arange(begin, stop, stride, dtype=torch.long, device=x.device)
            x = x.index_select(axis, index)
    return [x]


def _split(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axis = node.attr("axis", 0) % x.ndim
    sizes = ints(xs[1]) if len(xs) > 1 and xs[1] is not None else node.attr("split")
    if not sizes:
        parts = node.attr("num_outputs") or len(node.outputs)
        chunk = math.ceil(x.shape[axis] / parts)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(parts)]
    return list(torch.split(x, list(sizes), dim=axis))


def _expand(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    shape = np.broadcast_shapes(tuple(x.shape), tuple(ints(xs[1])))
    return [x.expand(shape)]


def _tile(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [xs[0].repeat(*ints(xs[1]))]


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _pad(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    pads = ints(xs[1]) if node.opset >= 11 else list(node.attr("pads"))
    value = 0.0
    if node.opset >= 11 and len(xs) > 2 and xs[2] is not None and xs[2].numel():
        value = float(xs[2].reshape(-1)[0])
    elif node.opset < 11:
        value = node.attr("value", 0.0)
    axes = ints(xs[3]) if len(xs) > 3 and xs[3] is not None else list(range(x.ndim))
    n = len(axes)
    full = [0] * (2 * x.ndim)
    for i, axis in enumerate(axes):
        full[axis % x.ndim], full[x.ndim + axis % x.ndim] = pads[i], pads[n + i]
    torch_pads: list[int] = []
    for axis in reversed(range(x.ndim)):
        torch_pads += [full[axis], full[x.ndim + axis]]
    mode = _PAD_MODES.get(node.attr("mode", "constant"))
    if mode is None:
        raise node.unsupported(f"mode {node.attr('mode')!r}")
    if mode == "constant":
        return [F.pad(x, torch_pads, value=value)]
    # torch pads the trailing 1-3 axes of a batched tensor in the other modes
    inner = torch_pads[: 2 * (x.ndim - 2)]
    if not 3 <= x.ndim <= 5 or any(torch_pads[2 * (x.ndim - 2) :]) or min(full) < 0:
        raise node.unsupported(f"mode {node.attr('mode')!r} on these axes or with cropping")
    return [F.pad(x, inner, mode=mode)]


HANDLERS: dict[str, Handler] = {
    "Shape": _shape,
    "Size": _size,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Gather": _gather,
    "GatherElements": _gather_elements,
    "GatherND": _gather_nd,
    "Slice": _slice,
    "Split": _split,
    "Expand": _expand,
    "Tile": _tile,
    "Pad": _pad,
}
