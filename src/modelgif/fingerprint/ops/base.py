"""What every op family shares: the parsed node, the handler signature, tensor conversions.

A handler takes the node and its input values (None for an omitted optional input) and
returns its outputs in order. It may return fewer outputs than the node names: the
interpreter then declares the node unsupported rather than leave a name unbound. A variant
a handler cannot compute exactly (an attribute value, a mode, a dtype) raises BackendError,
never returns an approximation, because BackendError is what sends a model to the
black-box backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from modelgif.errors import BackendError

__all__ = [
    "ONNX_TO_TORCH",
    "QRANGE",
    "Handler",
    "Node",
    "Unsupported",
    "Value",
    "axes_of",
    "bcast_axis",
    "element_type",
    "ints",
    "ste",
    "tensor_from_proto",
    "type_name",
]

Value = torch.Tensor | None
Attrs = dict[str, Any]

# Element types the interpreter computes with. Unsigned 16/32/64-bit integers, 8/4/2-bit
# floats and integers, strings and complex numbers are declared unsupported: torch has no
# (or only partial) arithmetic for them, and silently widening them would change results.
ONNX_TO_TORCH: dict[int, torch.dtype] = {
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
_TORCH_TO_ONNX = {v: k for k, v in ONNX_TO_TORCH.items()}

# Integer ranges of the quantized types. Quantized values live in float tensors (so that
# straight-through gradients can flow), which is why UINT16 can appear here but not above.
QRANGE: dict[int, tuple[int, int]] = {
    onnx.TensorProto.UINT8: (0, 255),
    onnx.TensorProto.INT8: (-128, 127),
    onnx.TensorProto.UINT16: (0, 65535),
    onnx.TensorProto.INT16: (-32768, 32767),
}


class Unsupported(BackendError):
    """A model, op variant or type the interpreter declares outside itself.

    Distinct from a BackendError wrapping a failure inside torch, so tests can tell a
    declaration from a crash; both send the model to the black-box backend."""


class Node:
    """One ONNX node, with parsed attributes and its opset version."""

    def __init__(self, proto: onnx.NodeProto, opset: int) -> None:
        self.op = proto.op_type
        self.name = proto.name or proto.op_type
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.attrs: Attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}
        self.opset = opset

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value

    def unsupported(self, what: str) -> Unsupported:
        """The error that declares this node's variant outside the interpreter."""
        return Unsupported(f"{self.op} {what} not supported ({self.name}).")


Handler = Callable[[Node, list[Value]], list[torch.Tensor]]


def ints(t: Value) -> list[int]:
    if t is None:
        return []
    return [int(v) for v in t.reshape(-1).tolist()]


def axes_of(node: Node, xs: list[Value], position: int) -> list[int] | None:
    """Axes from input `position` (newer opsets) or the `axes` attribute (older ones)."""
    if len(xs) > position and xs[position] is not None:
        return ints(xs[position])
    axes = node.attr("axes")
    return list(axes) if axes is not None else None


def ste(value: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """`value` forward, gradient of `surrogate` backward (straight-through)."""
    if not surrogate.requires_grad:
        return value
    return value.to(surrogate.dtype) + (surrogate - surrogate.detach())


def bcast_axis(param: torch.Tensor, rank: int, axis: int) -> torch.Tensor:
    """A per-axis (1-D) quantization parameter reshaped to broadcast along `axis`."""
    if param.ndim != 1 or param.numel() == 1:
        return param
    axis = axis % rank
    shape = [1] * rank
    shape[axis] = param.numel()
    return param.reshape(shape)


def element_type(dtype: torch.dtype) -> int | None:
    """The ONNX element type of a torch dtype the interpreter uses, else None."""
    return _TORCH_TO_ONNX.get(dtype)


def type_name(elem_type: int) -> str:
    try:
        return str(onnx.TensorProto.DataType.Name(elem_type))
    except ValueError:
        return str(elem_type)


def tensor_from_proto(proto: onnx.TensorProto) -> torch.Tensor:
    """An ONNX tensor as a torch tensor of the same element type, or BackendError."""
    if proto.data_type not in ONNX_TO_TORCH:
        raise Unsupported(f"ONNX tensors of type {type_name(proto.data_type)} not supported.")
    array = numpy_helper.to_array(proto)
    if proto.data_type == onnx.TensorProto.BFLOAT16:  # numpy holds it as ml_dtypes.bfloat16
        bits = np.ascontiguousarray(array).view(np.int16)
        return torch.from_numpy(bits.copy()).view(torch.bfloat16)
    return torch.from_numpy(np.array(array, copy=True))
