"""A small ONNX interpreter in torch: exact input gradients of any normalised ONNX model.

Why our own: onnxruntime has no autograd, onnx2torch and onnx2pytorch import torchvision
(broken next to a CPU torch) and stop at opset 17 with no quantization ops
(shared/design/FINDINGS.md). What we need is narrow: run the nodes of one graph in
topological order with differentiable torch ops, for what torch's legacy (opset 17) and
dynamo (opset 18-20) exporters emit for MLPs, CNNs, ResNets and transformer blocks, plus the
ops onnxruntime's quantizers emit (DynamicQuantizeLinear, MatMulInteger, ConvInteger,
QuantizeLinear, DequantizeLinear).

Conventions:
- Initializers become buffers: never Parameters, never requires_grad.
- Shape subgraphs run on int64 tensors (no gradient flows through them).
- Quantized values are float tensors holding integers. Their *values* follow the ONNX spec
  (round half to even, saturation, exact integer accumulation in float64); their
  *gradients* are straight-through: d round(x / s) / dx = 1 / s inside the saturation
  range and 0 outside (QDQ graphs fold ReLU into saturation), so a quantized model's field
  is the field of the float function it approximates, evaluated at its own operating point.
- An op outside the table raises BackendError naming it (the auto backend then falls back
  to finite differences). Subgraph ops (If, Loop, Scan) are not supported.
- DynamicQuantizeLinear takes its scale from the whole tensor, batch included, so such a
  graph is `batch_coupled`: callers must evaluate it one sample at a time to get the
  function an inference API computes for a single request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

from modelgif.errors import BackendError

__all__ = ["QUANTIZATION_OPS", "SUPPORTED_OPS", "TorchGraph", "graph_ops"]

Value = torch.Tensor | None
Attrs = dict[str, Any]
Handler = Callable[["_Node", list[Value]], list[torch.Tensor]]

_ONNX_TO_TORCH: dict[int, torch.dtype] = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.BFLOAT16: torch.bfloat16,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT16: torch.int16,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.BOOL: torch.bool,
}
_QRANGE: dict[int, tuple[int, int]] = {
    onnx.TensorProto.UINT8: (0, 255),
    onnx.TensorProto.INT8: (-128, 127),
    onnx.TensorProto.UINT16: (0, 65535),
    onnx.TensorProto.INT16: (-32768, 32767),
}
QUANTIZATION_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"}
)


class _Node:
    """One ONNX node, with parsed attributes and its opset version."""

    def __init__(self, proto: onnx.NodeProto, opset: int) -> None:
        self.op = proto.op_type
        self.name = proto.name or proto.op_type
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.attrs: Attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}
        self.opset = opset
        self.quant_meta: int | None = None  # ONNX element type of a quantized output

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value


def _is_float(t: torch.Tensor) -> bool:
    return t.is_floating_point()


def _ints(t: Value) -> list[int]:
    if t is None:
        return []
    return [int(v) for v in t.reshape(-1).tolist()]


def _ste(value: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """`value` forward, gradient of `surrogate` backward (straight-through)."""
    if not surrogate.requires_grad:
        return value
    return value.to(surrogate.dtype) + (surrogate - surrogate.detach())


def _bcast_axis(param: torch.Tensor, rank: int, axis: int) -> torch.Tensor:
    """A per-axis (1-D) quantization parameter reshaped to broadcast along `axis`."""
    if param.ndim != 1 or param.numel() == 1:
        return param
    axis = axis % rank
    shape = [1] * rank
    shape[axis] = param.numel()
    return param.reshape(shape)


# --- elementwise ------------------------------------------------------------------------------


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Handler:
    def run(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
        assert xs[0] is not None
        return [fn(xs[0])]

    return run


def _binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Handler:
    def run(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
        a, b = xs[0], xs[1]
        assert a is not None and b is not None
        return [fn(a, b)]

    return run


def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if not _is_float(a) and not _is_float(b):
        return torch.div(a, b, rounding_mode="trunc")
    return a / b


def _mod(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    return [torch.fmod(a, b) if node.attr("fmod", 0) else torch.remainder(a, b)]


def _variadic(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Handler:
    def run(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
        items = [x for x in xs if x is not None]
        out = items[0]
        for x in items[1:]:
            out = fn(out, x)
        return [out]

    return run


def _clip(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    lo = xs[1] if len(xs) > 1 else None
    hi = xs[2] if len(xs) > 2 else None
    if node.opset < 11:
        lo_f, hi_f = node.attr("min"), node.attr("max")
        return [torch.clamp(x, lo_f, hi_f)]
    return [torch.clamp(x, lo, hi)]


def _leaky_relu(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [F.leaky_relu(xs[0], node.attr("alpha", 0.01))]


def _elu(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [F.elu(xs[0], node.attr("alpha", 1.0))]


def _gelu(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [F.gelu(xs[0], approximate=node.attr("approximate", "none"))]


def _hard_sigmoid(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    return [torch.clamp(alpha * xs[0] + beta, 0.0, 1.0)]


def _where(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    c, a, b = xs
    assert c is not None and a is not None and b is not None
    return [torch.where(c.bool().to(a.device), a, b.to(a.device))]


def _not(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [torch.logical_not(xs[0])]


# --- linear algebra, convolution, normalisation, pooling --------------------------------------


def _gemm(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    if node.attr("transA", 0):
        a = a.t()
    if node.attr("transB", 0):
        b = b.t()
    out = node.attr("alpha", 1.0) * (a @ b)
    c = xs[2] if len(xs) > 2 else None
    if c is not None:
        out = out + node.attr("beta", 1.0) * c
    return [out]


def _matmul(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    return [torch.matmul(a, b)]


def _same_pads(node: _Node, spatial: Sequence[int], kernel: Sequence[int]) -> list[int] | None:
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        return None if auto == "NOTSET" else [0] * (2 * len(spatial))
    strides = node.attr("strides") or [1] * len(spatial)
    dilations = node.attr("dilations") or [1] * len(spatial)
    begins, ends = [], []
    for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
        out = math.ceil(size / s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else large)
        ends.append(large if auto == "SAME_UPPER" else small)
    return begins + ends


def _pads(node: _Node, x: torch.Tensor, kernel: Sequence[int]) -> list[int]:
    n = len(kernel)
    pads = _same_pads(node, x.shape[2:], kernel)
    if pads is None:
        pads = list(node.attr("pads") or [0] * (2 * n))
    return pads


def _split_pads(x: torch.Tensor, pads: list[int], value: float) -> tuple[torch.Tensor, list[int]]:
    """Symmetric part of the ONNX pads as a list, asymmetric rest applied with F.pad."""
    n = len(pads) // 2
    begins, ends = pads[:n], pads[n:]
    if begins == ends:
        return x, begins
    torch_pads: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        torch_pads += [b, e]
    return F.pad(x, torch_pads, value=value), [0] * n


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _conv_core(node: _Node, x: torch.Tensor, w: torch.Tensor, b: Value) -> torch.Tensor:
    kernel = list(w.shape[2:])
    n = len(kernel)
    if n not in _CONV:
        raise BackendError(f"Conv with {n} spatial dimensions is not supported ({node.name}).")
    x, padding = _split_pads(x, _pads(node, x, kernel), 0.0)
    return _CONV[n](
        x,
        w,
        b,
        stride=node.attr("strides") or [1] * n,
        padding=padding,
        dilation=node.attr("dilations") or [1] * n,
        groups=node.attr("group", 1),
    )


def _conv(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, w = xs[0], xs[1]
    assert x is not None and w is not None
    return [_conv_core(node, x, w, xs[2] if len(xs) > 2 else None)]


def _conv_transpose(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, w = xs[0], xs[1]
    assert x is not None and w is not None
    n = w.ndim - 2
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}.get(n)
    pads = list(node.attr("pads") or [0] * (2 * n))
    if fn is None or pads[:n] != pads[n:] or node.attr("auto_pad", "NOTSET") != "NOTSET":
        raise BackendError(f"ConvTranspose variant not supported ({node.name}).")
    if node.attr("output_shape"):
        raise BackendError(f"ConvTranspose with output_shape not supported ({node.name}).")
    return [
        fn(
            x,
            w,
            xs[2] if len(xs) > 2 else None,
            stride=node.attr("strides") or [1] * n,
            padding=pads[:n],
            output_padding=node.attr("output_padding") or [0] * n,
            groups=node.attr("group", 1),
            dilation=node.attr("dilations") or [1] * n,
        )
    ]


def _batch_norm(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale, bias, mean, var = xs[:5]
    assert x is not None and mean is not None and var is not None
    if node.attr("training_mode", 0):
        raise BackendError(f"BatchNormalization in training mode ({node.name}).")
    return [F.batch_norm(x, mean, var, scale, bias, False, 0.0, node.attr("epsilon", 1e-5))]


def _instance_norm(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale, bias = xs[:3]
    assert x is not None
    return [F.instance_norm(x, weight=scale, bias=bias, eps=node.attr("epsilon", 1e-5))]


def _layer_norm(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale = xs[0], xs[1]
    assert x is not None and scale is not None
    bias = xs[2] if len(xs) > 2 else None
    axis = node.attr("axis", -1) % x.ndim
    dims = list(range(axis, x.ndim))
    eps = node.attr("epsilon", 1e-5)
    shape = list(x.shape[axis:])
    if list(scale.shape) == shape and (bias is None or list(bias.shape) == shape):
        out = F.layer_norm(x, shape, scale, bias, eps)
    else:
        mean = x.mean(dim=dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
        out = (x - mean) / torch.sqrt(var + eps) * scale
        out = out + bias if bias is not None else out
    return [out]


def _max_pool(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    kernel = list(node.attr("kernel_shape"))
    n = len(kernel)
    if len(node.outputs) > 1 and node.outputs[1]:
        raise BackendError(f"MaxPool with indices output not supported ({node.name}).")
    x, padding = _split_pads(x, _pads(node, x, kernel), -math.inf)
    fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
    return [
        fn(
            x,
            kernel,
            stride=node.attr("strides") or [1] * n,
            padding=padding,
            dilation=node.attr("dilations") or [1] * n,
            ceil_mode=bool(node.attr("ceil_mode", 0)),
        )
    ]


def _avg_pool(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    kernel = list(node.attr("kernel_shape"))
    n = len(kernel)
    pads = _pads(node, x, kernel)
    if pads[:n] != pads[n:] or (node.attr("dilations") and set(node.attr("dilations")) != {1}):
        raise BackendError(f"AveragePool with asymmetric pads or dilation ({node.name}).")
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
    return [
        fn(
            x,
            kernel,
            stride=node.attr("strides") or [1] * n,
            padding=pads[:n],
            ceil_mode=bool(node.attr("ceil_mode", 0)),
            count_include_pad=bool(node.attr("count_include_pad", 0)),
        )
    ]


def _global_pool(reduce: str) -> Handler:
    def run(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        dims = list(range(2, x.ndim))
        if reduce == "mean":
            return [x.mean(dim=dims, keepdim=True)]
        return [torch.amax(x, dim=dims, keepdim=True)]

    return run


def _softmax(fn: Callable[..., torch.Tensor]) -> Handler:
    def run(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        if node.opset >= 13:
            return [fn(x, dim=node.attr("axis", -1))]
        axis = node.attr("axis", 1) % x.ndim
        flat = x.reshape(*x.shape[:axis], -1) if axis > 0 else x.reshape(1, -1)
        return [fn(flat, dim=-1).reshape(x.shape)]

    return run


# --- shapes and data movement -------------------------------------------------------------------


def _shape(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    dims = list(x.shape)
    start, end = node.attr("start", 0), node.attr("end", None)
    return [torch.tensor(dims[start:end], dtype=torch.int64)]


def _size(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [torch.tensor(xs[0].numel(), dtype=torch.int64)]


def _reshape(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    shape = _ints(xs[1])
    if not node.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


def _flatten(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axis = node.attr("axis", 1) % (x.ndim + 1) if x.ndim else 0
    lead = int(np.prod(x.shape[:axis])) if axis else 1
    return [x.reshape(lead, -1)]


def _transpose(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    perm = node.attr("perm") or list(reversed(range(x.ndim)))
    return [x.permute(*perm)]


def _axes(node: _Node, xs: list[Value], position: int) -> list[int] | None:
    if len(xs) > position and xs[position] is not None:
        return _ints(xs[position])
    axes = node.attr("axes")
    return list(axes) if axes is not None else None


def _unsqueeze(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axes = _axes(node, xs, 1) or []
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = x.unsqueeze(axis)
    return [x]


def _squeeze(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axes = _axes(node, xs, 1)
    if axes is None:
        return [x.squeeze()]
    for axis in sorted((a % x.ndim for a in axes), reverse=True):
        x = x.squeeze(axis)
    return [x]


def _concat(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    items = [x for x in xs if x is not None]
    dtype = items[0].dtype
    return [torch.cat([t.to(dtype) for t in items], dim=node.attr("axis"))]


def _gather(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, idx = xs[0], xs[1]
    assert x is not None and idx is not None
    axis = node.attr("axis", 0) % x.ndim
    idx = idx.long().to(x.device)
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.reshape(-1))
    return [out.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :]))]


def _gather_elements(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, idx = xs[0], xs[1]
    assert x is not None and idx is not None
    axis = node.attr("axis", 0) % x.ndim
    idx = idx.long().to(x.device)
    return [torch.gather(x, axis, torch.where(idx < 0, idx + x.shape[axis], idx))]


def _slice(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    if node.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes = list(node.attr("axes") or range(len(starts)))
        steps = [1] * len(starts)
    else:
        starts, ends = _ints(xs[1]), _ints(xs[2])
        axes = _ints(xs[3]) if len(xs) > 3 and xs[3] is not None else list(range(len(starts)))
        steps = _ints(xs[4]) if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis %= x.ndim
        size = x.shape[axis]
        begin, stop, stride = slice(start, end, step).indices(size)
        if stride > 0:
            x = (
                x.narrow(axis, begin, max(0, stop - begin))
                if stride == 1
                else x[(slice(None),) * axis + (slice(begin, stop, stride),)]
            )
        else:
            index = torch.arange(begin, stop, stride, dtype=torch.long)
            x = x.index_select(axis, index)
    return [x]


def _split(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    axis = node.attr("axis", 0) % x.ndim
    sizes = _ints(xs[1]) if len(xs) > 1 and xs[1] is not None else node.attr("split")
    if not sizes:
        parts = node.attr("num_outputs") or len(node.outputs)
        chunk = math.ceil(x.shape[axis] / parts)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(parts)]
    return list(torch.split(x, list(sizes), dim=axis))


def _expand(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    shape = np.broadcast_shapes(tuple(x.shape), tuple(_ints(xs[1])))
    return [x.expand(shape)]


def _tile(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [xs[0].repeat(*_ints(xs[1]))]


def _pad(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    pads = _ints(xs[1]) if node.opset >= 11 else list(node.attr("pads"))
    value = 0.0
    if node.opset >= 11 and len(xs) > 2 and xs[2] is not None and xs[2].numel():
        value = float(xs[2].reshape(-1)[0])
    elif node.opset < 11:
        value = node.attr("value", 0.0)
    axes = _ints(xs[3]) if len(xs) > 3 and xs[3] is not None else list(range(x.ndim))
    n = len(axes)
    full = [0] * (2 * x.ndim)
    for i, axis in enumerate(axes):
        full[axis % x.ndim], full[x.ndim + axis % x.ndim] = pads[i], pads[n + i]
    torch_pads: list[int] = []
    for axis in reversed(range(x.ndim)):
        torch_pads += [full[axis], full[x.ndim + axis]]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}.get(
        node.attr("mode", "constant")
    )
    if mode is None:
        raise BackendError(f"Pad mode {node.attr('mode')!r} not supported ({node.name}).")
    if mode == "constant":
        return [F.pad(x, torch_pads, value=value)]
    return [F.pad(x, torch_pads[: 2 * (x.ndim - 2)], mode=mode)]


def _constant(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            value = node.attrs[key]
            if key == "value":
                return [_tensor(value)]
            dtype = torch.float32 if "float" in key else torch.int64
            return [torch.tensor(value, dtype=dtype)]
    raise BackendError(f"Constant without a supported value attribute ({node.name}).")


def _constant_of_shape(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    value = node.attrs.get("value")
    fill = _tensor(value) if value is not None else torch.zeros(1, dtype=torch.float32)
    return [torch.full(_ints(xs[0]), fill.reshape(-1)[0].item(), dtype=fill.dtype)]


def _range(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    start, limit, delta = xs
    assert start is not None and limit is not None and delta is not None
    return [torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)]


def _cast(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    to = node.attr("to")
    dtype = _ONNX_TO_TORCH.get(to)
    if dtype is None:
        raise BackendError(f"Cast to ONNX type {to} not supported ({node.name}).")
    if x.dtype == dtype:
        return [x]
    if x.is_floating_point() and to in _QRANGE:  # float -> small int: saturate, as ORT does
        lo, hi = _QRANGE[to]
        return [torch.clamp(torch.trunc(x), lo, hi).to(dtype)]
    return [x.to(dtype)]


def _cast_like(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, like = xs[0], xs[1]
    assert x is not None and like is not None
    return [x.to(like.dtype)]


def _reduce(kind: str) -> Handler:
    def run(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        axes = _axes(node, xs, 1)
        keep = bool(node.attr("keepdims", 1))
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.ndim))
        dims = [a % x.ndim for a in axes]
        if kind == "mean":
            return [x.mean(dim=dims, keepdim=keep)]
        if kind == "sum":
            return [x.sum(dim=dims, keepdim=keep)]
        if kind == "max":
            return [torch.amax(x, dim=dims, keepdim=keep)]
        if kind == "min":
            return [torch.amin(x, dim=dims, keepdim=keep)]
        if kind == "prod":
            out = x
            for d in sorted(dims, reverse=True):
                out = out.prod(dim=d, keepdim=keep)
            return [out]
        if kind == "l2":
            return [torch.sqrt((x * x).sum(dim=dims, keepdim=keep))]
        return [torch.logsumexp(x, dim=dims, keepdim=keep)]

    return run


def _argmax(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    return [torch.argmax(x, dim=node.attr("axis", 0), keepdim=bool(node.attr("keepdims", 1)))]


def _identity(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [xs[0]]


def _dropout(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    assert xs[0] is not None
    return [xs[0], torch.ones_like(xs[0], dtype=torch.bool)][: len(node.outputs)]


# --- quantization (values per the ONNX spec, straight-through gradients) ----------------------


def _quantize(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale = xs[0], xs[1]
    assert x is not None and scale is not None
    zp = xs[2] if len(xs) > 2 else None
    if node.attr("block_size", 0):
        raise BackendError(f"Blocked QuantizeLinear not supported ({node.name}).")
    elem = _zp_type(node, zp)
    lo, hi = _QRANGE.get(elem, (None, None))
    if lo is None:
        raise BackendError(f"QuantizeLinear to ONNX type {elem} not supported ({node.name}).")
    axis = node.attr("axis", 1)
    scale_b = _bcast_axis(scale.float(), x.ndim, axis)
    zero = _bcast_axis(zp.float(), x.ndim, axis) if zp is not None else 0.0
    scaled = x / scale_b
    value = torch.clamp(torch.round(scaled.detach()) + zero, lo, hi)
    node.quant_meta = elem
    # Clipped straight-through: saturation keeps its zero gradient, because onnxruntime's
    # QDQ graphs fold ReLU into the saturation of the following QuantizeLinear.
    return [_ste(value, torch.clamp(scaled + zero, lo, hi))]


def _zp_type(node: _Node, zp: Value) -> int:
    if zp is None:
        return int(node.attr("output_dtype", 0) or onnx.TensorProto.UINT8)
    inverse = {v: k for k, v in _ONNX_TO_TORCH.items()}
    return inverse.get(zp.dtype, onnx.TensorProto.UINT8)


def _dequantize(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale = xs[0], xs[1]
    assert x is not None and scale is not None
    zp = xs[2] if len(xs) > 2 else None
    if node.attr("block_size", 0):
        raise BackendError(f"Blocked DequantizeLinear not supported ({node.name}).")
    axis = node.attr("axis", 1)
    rank = max(x.ndim, 1)
    xf = x.float() if not x.is_floating_point() else x
    zero = _bcast_axis(zp.float(), rank, axis) if zp is not None else 0.0
    return [(xf - zero) * _bcast_axis(scale.float(), rank, axis)]


def _dynamic_quantize(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    with torch.no_grad():
        lo = torch.clamp(x.min(), max=0.0)
        hi = torch.clamp(x.max(), min=0.0)
        scale = (hi - lo) / 255.0
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        zp = torch.clamp(torch.round(-lo / scale), 0, 255)
    scaled = x / scale
    value = torch.clamp(torch.round(scaled.detach()) + zp, 0, 255)
    return [_ste(value, scaled + zp), scale, zp.to(torch.uint8)]


def _integer_inputs(xs: list[Value]) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    a_zp = xs[2] if len(xs) > 2 and xs[2] is not None else None
    b_zp = xs[3] if len(xs) > 3 and xs[3] is not None else None
    af = a if a.is_floating_point() else a.float()
    bf = b if b.is_floating_point() else b.float()
    if a_zp is not None:
        af = af - _bcast_axis(a_zp.float(), af.ndim, 0 if a_zp.numel() == af.shape[0] else -1)
    if b_zp is not None:
        bf = bf - _zp_for_b(b_zp, bf)
    return af, bf


def _zp_for_b(zp: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MatMulInteger's b_zero_point is per column (last axis); ConvInteger's per filter."""
    z = zp.float()
    if z.numel() == 1:
        return z.reshape(())
    if b.ndim == 2:
        return z.reshape(1, -1)
    return z.reshape(-1, *([1] * (b.ndim - 1)))


def _matmul_integer(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = _integer_inputs(xs)
    with torch.no_grad():
        exact = torch.matmul(a.detach().double(), b.detach().double())
    return [_ste(exact.float(), torch.matmul(a, b))]


def _conv_integer(node: _Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = _integer_inputs(xs)
    with torch.no_grad():
        exact = _conv_core(node, a.detach().double(), b.detach().double(), None)
    return [_ste(exact.float(), _conv_core(node, a, b, None))]


_HANDLERS: dict[str, Handler] = {
    # elementwise
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(_div),
    "Pow": _binary(torch.pow),
    "Mod": _mod,
    "Equal": _binary(torch.eq),
    "Less": _binary(torch.lt),
    "LessOrEqual": _binary(torch.le),
    "Greater": _binary(torch.gt),
    "GreaterOrEqual": _binary(torch.ge),
    "And": _binary(torch.logical_and),
    "Or": _binary(torch.logical_or),
    "Not": _not,
    "Where": _where,
    "Max": _variadic(torch.maximum),
    "Min": _variadic(torch.minimum),
    "Sum": _variadic(torch.add),
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
    "Tanh": _unary(torch.tanh),
    "Sigmoid": _unary(torch.sigmoid),
    "Relu": _unary(torch.relu),
    "Softplus": _unary(F.softplus),
    "Sin": _unary(torch.sin),
    "Cos": _unary(torch.cos),
    "HardSwish": _unary(F.hardswish),
    "LeakyRelu": _leaky_relu,
    "Elu": _elu,
    "Gelu": _gelu,
    "HardSigmoid": _hard_sigmoid,
    "Clip": _clip,
    # linear algebra, conv, normalisation, pooling
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "BatchNormalization": _batch_norm,
    "InstanceNormalization": _instance_norm,
    "LayerNormalization": _layer_norm,
    "MaxPool": _max_pool,
    "AveragePool": _avg_pool,
    "GlobalAveragePool": _global_pool("mean"),
    "GlobalMaxPool": _global_pool("max"),
    "Softmax": _softmax(torch.softmax),
    "LogSoftmax": _softmax(torch.log_softmax),
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
    "ReduceProd": _reduce("prod"),
    "ReduceL2": _reduce("l2"),
    "ReduceLogSumExp": _reduce("logsumexp"),
    "ArgMax": _argmax,
    # shapes and data movement
    "Identity": _identity,
    "Dropout": _dropout,
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
    "Slice": _slice,
    "Split": _split,
    "Expand": _expand,
    "Tile": _tile,
    "Pad": _pad,
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Cast": _cast,
    "CastLike": _cast_like,
    # quantization
    "QuantizeLinear": _quantize,
    "DequantizeLinear": _dequantize,
    "DynamicQuantizeLinear": _dynamic_quantize,
    "MatMulInteger": _matmul_integer,
    "ConvInteger": _conv_integer,
}
SUPPORTED_OPS = frozenset(_HANDLERS)


def _tensor(proto: onnx.TensorProto) -> torch.Tensor:
    array = numpy_helper.to_array(proto)
    if array.dtype == np.uint16 or array.dtype == np.uint32 or array.dtype == np.uint64:
        array = array.astype(np.int64)
    return torch.from_numpy(np.array(array, copy=True))


def graph_ops(model: onnx.ModelProto) -> set[str]:
    """The op types (domain-qualified when not the default domain) a model uses."""
    return {
        (n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}")
        for n in model.graph.node
    }


class TorchGraph(torch.nn.Module):
    """An onnx.ModelProto as a torch module: forward(x) -> first graph output.

    Raises BackendError at construction if the graph uses an op outside SUPPORTED_OPS, has
    more than one non-initializer input, or uses subgraphs.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        graph = model.graph
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        unsupported = sorted(op for op in graph_ops(model) if op not in _HANDLERS)
        if unsupported:
            raise BackendError(f"ONNX ops not supported by the exact backend: {unsupported}")
        init_names = {t.name for t in graph.initializer}
        inputs = [i.name for i in graph.input if i.name not in init_names]
        if len(inputs) != 1:
            raise BackendError(f"The exact backend needs exactly one graph input; got {inputs}.")
        self.input_name = inputs[0]
        self.output_name = graph.output[0].name
        self._buffer_of: dict[str, str] = {}
        for i, init in enumerate(graph.initializer):
            attr = f"init_{i}"
            self.register_buffer(attr, _tensor(init), persistent=False)
            self._buffer_of[init.name] = attr
        self._nodes = []
        for n in graph.node:
            node = _Node(n, opset)
            if node.op == "Constant":  # a buffer, so it follows the module's device
                attr = f"const_{len(self._buffer_of)}"
                self.register_buffer(attr, _constant(node, [])[0], persistent=False)
                self._buffer_of[node.outputs[0]] = attr
            else:
                self._nodes.append(node)
        self.ops = frozenset(n.op for n in self._nodes)
        self.batch_coupled = "DynamicQuantizeLinear" in self.ops
        self.quantized = bool(self.ops & QUANTIZATION_OPS)
        self._last_use = self._liveness()

    def _liveness(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for i, node in enumerate(self._nodes):
            for name in node.inputs:
                last[name] = i
        last[self.output_name] = len(self._nodes)
        return last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env: dict[str, torch.Tensor] = {self.input_name: x}
        for name, attr in self._buffer_of.items():
            env[name] = getattr(self, attr)
        for i, node in enumerate(self._nodes):
            args: list[Value] = [env[n] if n else None for n in node.inputs]
            try:
                outs = _HANDLERS[node.op](node, args)
            except BackendError:
                raise
            except (RuntimeError, ValueError, IndexError, TypeError, KeyError) as exc:
                raise BackendError(f"{node.op} node {node.name!r} failed: {exc}") from exc
            for name, value in zip(node.outputs, outs, strict=False):
                if name:
                    if value.device != x.device and (
                        value.is_floating_point() or value.dtype == torch.bool
                    ):
                        value = value.to(x.device)
                    env[name] = value
            for name in node.inputs:
                if self._last_use.get(name) == i and name not in self._buffer_of:
                    env.pop(name, None)
        return env[self.output_name]
