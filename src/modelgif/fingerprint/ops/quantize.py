"""The ops onnxruntime's quantizers emit: values per the ONNX spec, straight-through gradients.

Quantized values are float tensors holding integers. Their values follow the spec (round
half to even, saturation, exact integer accumulation in float64); their gradients are
straight-through: d round(x / s) / dx = 1 / s inside the saturation range and 0 outside
(QDQ graphs fold ReLU into saturation), so a quantized model's field is the field of the
float function it approximates, evaluated at its own operating point.
"""

from __future__ import annotations

import onnx
import torch

from modelgif.fingerprint.ops.base import (
    QRANGE,
    Handler,
    Node,
    Value,
    bcast_axis,
    element_type,
    ste,
    type_name,
)
from modelgif.fingerprint.ops.nn import conv_core

__all__ = ["HANDLERS", "QUANTIZATION_OPS"]

QUANTIZATION_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"}
)


def _zero_point_type(node: Node, zp: Value) -> int:
    if zp is None:
        return int(node.attr("output_dtype", 0) or onnx.TensorProto.UINT8)
    elem = element_type(zp.dtype)
    if elem is None:
        raise node.unsupported(f"with a {zp.dtype} zero point")
    return elem


def _quantize(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale = xs[0], xs[1]
    assert x is not None and scale is not None
    zp = xs[2] if len(xs) > 2 else None
    if node.attr("block_size", 0):
        raise node.unsupported("with blocks")
    elem = _zero_point_type(node, zp)
    if elem not in QRANGE:
        raise node.unsupported(f"to {type_name(elem)}")
    lo, hi = QRANGE[elem]
    axis = node.attr("axis", 1)
    scale_b = bcast_axis(scale.float(), x.ndim, axis)
    zero = bcast_axis(zp.float(), x.ndim, axis) if zp is not None else 0.0
    scaled = x / scale_b
    value = torch.clamp(torch.round(scaled.detach()) + zero, lo, hi)
    # Clipped straight-through: saturation keeps its zero gradient, because onnxruntime's
    # QDQ graphs fold ReLU into the saturation of the following QuantizeLinear.
    return [ste(value, torch.clamp(scaled + zero, lo, hi))]


def _dequantize(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    x, scale = xs[0], xs[1]
    assert x is not None and scale is not None
    zp = xs[2] if len(xs) > 2 else None
    if node.attr("block_size", 0):
        raise node.unsupported("with blocks")
    axis = node.attr("axis", 1)
    rank = max(x.ndim, 1)
    xf = x.float() if not x.is_floating_point() else x
    zero = bcast_axis(zp.float(), rank, axis) if zp is not None else 0.0
    out = (xf - zero) * bcast_axis(scale.float(), rank, axis)
    return [out.to(scale.dtype)]


def _dynamic_quantize(node: Node, xs: list[Value]) -> list[torch.Tensor]:
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
    return [ste(value, scaled + zp), scale, zp.to(torch.uint8)]


def _integer_inputs(xs: list[Value]) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    a_zp = xs[2] if len(xs) > 2 and xs[2] is not None else None
    b_zp = xs[3] if len(xs) > 3 and xs[3] is not None else None
    af = a if a.is_floating_point() else a.float()
    bf = b if b.is_floating_point() else b.float()
    if a_zp is not None:
        af = af - bcast_axis(a_zp.float(), af.ndim, 0 if a_zp.numel() == af.shape[0] else -1)
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


# Products of two 8-bit values less their zero points are at most 255^2 in magnitude, so a
# float32 sum of up to this many of them is an integer below 2^24: exact in any order.
EXACT_CHUNK = 256


def _matmul_integer(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    """The value is the exact integer product, the gradient the float product's.

    The exact value costs one float32 matmul more, not a float64 one: chunks of EXACT_CHUNK
    terms are each exact in float32, and their sum is taken in float64 (the int8
    transformer's verdict time is mostly these matmuls)."""
    a, b = _integer_inputs(xs)
    with torch.no_grad():
        ad, bd = a.detach(), b.detach()
        if a.ndim < 2 or b.ndim < 2:
            exact = torch.matmul(ad.double(), bd.double())
        else:
            exact = torch.matmul(ad[..., :EXACT_CHUNK], bd[..., :EXACT_CHUNK, :]).double()
            for i in range(EXACT_CHUNK, a.shape[-1], EXACT_CHUNK):
                exact += torch.matmul(ad[..., i:i + EXACT_CHUNK], bd[..., i:i + EXACT_CHUNK, :])
    return [ste(exact.float(), torch.matmul(a, b))]


def _conv_integer(node: Node, xs: list[Value]) -> list[torch.Tensor]:
    a, b = _integer_inputs(xs)
    with torch.no_grad():
        exact = conv_core(node, a.detach().double(), b.detach().double(), None)
    return [ste(exact.float(), conv_core(node, a, b, None))]


HANDLERS: dict[str, Handler] = {
    "QuantizeLinear": _quantize,
    "DequantizeLinear": _dequantize,
    "DynamicQuantizeLinear": _dynamic_quantize,
    "MatMulInteger": _matmul_integer,
    "ConvInteger": _conv_integer,
}
