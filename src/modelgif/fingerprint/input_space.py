"""The input space a model declares: float32, or uint8 images with preprocessing in the graph.

Why: owners ship image models that take raw pixels, `uint8` (N, H, W, C), and do Cast,
/255, mean subtraction and the NHWC->NCHW Transpose inside the graph. A gradient needs a
real-valued input, so modelgif differentiates the *float view* of such a model: the graph
input becomes float32 and feeds the graph's own Cast(to=float), which is then the identity.
On integer inputs the float view computes exactly the original function (checked at
normalization); between the integers it is the graph's own arithmetic, which is what the
exact backend differentiates. This is only sound when every use of the raw input is such a
Cast, so anything else (a uint8 Add, an index) is refused.

The input space is recorded in the input spec: dtype "uint8" with value range [0, 255] and
a quantum of one grey level. Anchors are rounded to that grid (a uint8 model never sees
anything else), and black-box finite differences step at least one quantum, the smallest
change a request to the deployed model can make. The dtype rides in the normalized file's
metadata, so re-normalizing a normalized file keeps it. Float inputs are unchanged; older
fingerprints (dtype float32) read as before.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from modelgif.errors import ModelLoadError

__all__ = [
    "DTYPE_KEY",
    "INTEGER_SPACES",
    "float_view",
    "quantum",
    "source_dtype",
    "space_range",
    "stored_dtype",
    "to_grid",
    "to_source_dtype",
]

DTYPE_KEY = "modelgif.input_dtype"
# dtype -> (value range, ONNX element type); one quantum is 1 for every integer space
INTEGER_SPACES: dict[str, tuple[tuple[float, float], int]] = {
    "uint8": ((0.0, 255.0), TensorProto.UINT8),
}
_FLOAT_CASTS = {TensorProto.FLOAT}


def quantum(dtype: str) -> float | None:
    """The smallest step of the input space (1 for integer spaces), None for float."""
    return 1.0 if dtype in INTEGER_SPACES else None


def space_range(dtype: str) -> tuple[float, float] | None:
    """The full value range of an integer input space, None for float."""
    return INTEGER_SPACES[dtype][0] if dtype in INTEGER_SPACES else None


def to_grid(x: np.ndarray, dtype: str) -> np.ndarray:
    """Inputs rounded and clipped to the input space's grid (unchanged for float), float32."""
    if dtype not in INTEGER_SPACES:
        return x
    low, high = INTEGER_SPACES[dtype][0]
    rounded: np.ndarray = np.clip(np.rint(x), low, high).astype(np.float32)
    return rounded


def to_source_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    """Grid-valued float inputs as the original model's input dtype (to run the original)."""
    if dtype not in INTEGER_SPACES:
        return x
    converted: np.ndarray = x.astype(np.uint8)
    return converted


def float_view(model: onnx.ModelProto) -> str | None:
    """Make a uint8 input float32 in place and return "uint8"; None if the input is float.

    Raises ModelLoadError when the raw input is used by anything but a Cast to float.
    """
    value = model.graph.input[0]
    tensor_type = value.type.tensor_type
    dtype = next((name for name, (_, elem) in INTEGER_SPACES.items()
                  if elem == tensor_type.elem_type), None)
    if dtype is None:
        return None
    users = [n for n in model.graph.node if value.name in n.input]
    for node in users:
        cast_to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type != "Cast" or cast_to not in _FLOAT_CASTS:
            raise ModelLoadError(
                f"input '{value.name}' is {dtype} and used by {node.op_type} before any Cast "
                "to float; modelgif needs the graph to Cast raw pixels to float first"
            )
    if not users:
        raise ModelLoadError(f"input '{value.name}' is {dtype} and unused")
    tensor_type.elem_type = TensorProto.FLOAT
    return dtype


def source_dtype(model: onnx.ModelProto) -> str:
    """The input space of the model's (first non-weight) input: "float32" or an integer one."""
    initializers = {t.name for t in model.graph.initializer}
    value = next((i for i in model.graph.input if i.name not in initializers), None)
    elem = value.type.tensor_type.elem_type if value is not None else TensorProto.FLOAT
    return next((n for n, (_, e) in INTEGER_SPACES.items() if e == elem), "float32")


def stored_dtype(model: onnx.ModelProto) -> str:
    """The input space a normalized file remembers (its graph input is already float)."""
    for prop in model.metadata_props:
        if prop.key == DTYPE_KEY:
            if prop.value not in INTEGER_SPACES:
                raise ModelLoadError(f"malformed {DTYPE_KEY} metadata: {prop.value!r}")
            return str(prop.value)
    return "float32"
