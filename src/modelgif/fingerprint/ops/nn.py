"""Neural-network ops: matrix products, convolutions, normalisations, pooling, softmax."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from modelgif.fingerprint.ops.base import Handler, Node, Value

__all__ = ["HANDLERS", "conv_core"]


def _gemm(node: Node, xs: list[Value]) -> list[torch.Tensor]:
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


def _matmul(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    return [torch.matmul(a, b)]


def _same_pads(node: Node, spatial: Sequence[int], kernel: Sequence[int]) -> list[int] | None:
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


def _pads(node: Node, x: torch.Tensor, kernel: Sequence[int]) -> list[int]:
    pads = _same_pads(node, x.shape[2:], kernel)
    if pads is None:
        pads = list(node.attr("pads") or [0] * (2 * len(kernel)))
    return pads


def _split_pads(
    x: torch.Tensor, pads: list[int], value: float, limit: Sequence[int] | None = None
) -> tuple[torch.Tensor, list[int]]:
    """Symmetric ONNX pads within `limit` as a list; anything else applied with F.pad.

    torch's pooling takes symmetric padding of at most half the (dilated) kernel only."""
    n = len(pads) // 2
    begins, ends = pads[:n], pads[n:]
    fits = limit is None or all(b <= m for b, m in zip(begins, limit, strict=True))
    if begins == ends and fits:
        return x, begins
    torch_pads: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        torch_pads += [b, e]
    return F.pad(x, torch_pads, value=value), [0] * n


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def conv_core(node: Node, x: torch.Tensor, w: torch.Tensor, b: Value) -> torch.Tensor:
    """Conv (also ConvInteger's arithmetic) with ONNX padding rules."""
    kernel = list(w.shape[2:])
    n = len(kernel)
    if n not in _CONV:
        raise node.unsupported(f"with {n} spatial dimensions")
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


def _conv(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, w = xs[0], xs[1]
    assert x is not None and w is not None
    return [conv_core(node, x, w, xs[2] if len(xs) > 2 else None)]


def _conv_transpose(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, w = xs[0], xs[1]
    assert x is not None and w is not None
    n = w.ndim - 2
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}.get(n)
    pads = list(node.attr("pads") or [0] * (2 * n))
    if fn is None or pads[:n] != pads[n:] or node.attr("auto_pad", "NOTSET") != "NOTSET":
        raise node.unsupported("with auto_pad, asymmetric pads or this rank")
    if node.attr("output_shape"):
        raise node.unsupported("with output_shape")
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


def _batch_norm(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale, bias, mean, var = xs[:5]
    assert x is not None and mean is not None and var is not None
    if node.attr("training_mode", 0) or node.opset < 7 or not node.attr("spatial", 1):
        raise node.unsupported("in training mode, per activation or before opset 7")
    return [F.batch_norm(x, mean, var, scale, bias, False, 0.0, node.attr("epsilon", 1e-5))]


def _instance_norm(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale, bias = xs[:3]
    assert x is not None
    return [F.instance_norm(x, weight=scale, bias=bias, eps=node.attr("epsilon", 1e-5))]


def _layer_norm(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    """LayerNormalization, with its optional Mean and InvStdDev outputs (in float32)."""
    x, scale = xs[0], xs[1]
    assert x is not None and scale is not None
    bias = xs[2] if len(xs) > 2 else None
    axis = node.attr("axis", -1) % x.ndim
    eps = node.attr("epsilon", 1e-5)
    shape = list(x.shape[axis:])
    simple = list(scale.shape) == shape and (bias is None or list(bias.shape) == shape)
    if len(node.outputs) == 1 and simple:
        return [F.layer_norm(x, shape, scale, bias, eps)]
    if node.attr("stash_type", 1) != 1:
        raise node.unsupported("with a stash_type other than float")
    dims = list(range(axis, x.ndim))
    xf = x.float()
    mean = xf.mean(dim=dims, keepdim=True)
    inv_std = torch.rsqrt(((xf - mean) ** 2).mean(dim=dims, keepdim=True) + eps)
    out = ((xf - mean) * inv_std).to(x.dtype) * scale
    out = out + bias if bias is not None else out
    return [out, mean, inv_std]


def _kernel(node: Node) -> list[int]:
    kernel = list(node.attr("kernel_shape") or [])
    if not 1 <= len(kernel) <= 3:
        raise node.unsupported(f"with kernel_shape {kernel}")
    return kernel


def _max_pool(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    kernel = _kernel(node)
    n = len(kernel)
    if len(node.outputs) > 1 and node.outputs[1]:
        raise node.unsupported("with indices output")
    dilations = node.attr("dilations") or [1] * n
    half = [(d * (k - 1) + 1) // 2 for k, d in zip(kernel, dilations, strict=True)]
    lowest = -math.inf if x.is_floating_point() else float(torch.iinfo(x.dtype).min)
    x, padding = _split_pads(x, _pads(node, x, kernel), lowest, half)
    fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
    return [
        fn(
            x,
            kernel,
            stride=node.attr("strides") or [1] * n,
            padding=padding,
            dilation=dilations,
            ceil_mode=bool(node.attr("ceil_mode", 0)),
        )
    ]


def _avg_pool(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x = xs[0]
    assert x is not None
    kernel = _kernel(node)
    n = len(kernel)
    pads = _pads(node, x, kernel)
    if pads[:n] != pads[n:] or any(p > k // 2 for p, k in zip(pads, kernel * 2, strict=True)):
        raise node.unsupported("with asymmetric pads or pads over half the kernel")
    if node.attr("dilations") and set(node.attr("dilations")) != {1}:
        raise node.unsupported("with dilations")
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
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        dims = list(range(2, x.ndim))
        if reduce == "mean":
            return [x.mean(dim=dims, keepdim=True)]
        return [torch.amax(x, dim=dims, keepdim=True)]

    return run


def _softmax(fn: Callable[..., torch.Tensor]) -> Handler:
    def run(node: Node, xs: list[Value]) -> list[torch.Tensor]:
        x = xs[0]
        assert x is not None
        if node.opset >= 13:
            return [fn(x, dim=node.attr("axis", -1))]
        axis = node.attr("axis", 1) % x.ndim  # before opset 13: over the flattened tail
        flat = x.reshape(*x.shape[:axis], -1) if axis > 0 else x.reshape(1, -1)
        return [fn(flat, dim=-1).reshape(x.shape)]

    return run


HANDLERS: dict[str, Handler] = {
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
}
