"""The op handlers of modelgif's ONNX interpreter (fingerprint.torch_graph), by op family.

Why we interpret ONNX ourselves: the exact backend needs reverse-mode input gradients of
the very function an ONNX file computes. onnxruntime has no autograd; onnx2torch and
onnx2pytorch import torchvision, which fails to import next to a CPU-only torch, stop at
opset 17 and have no quantization ops. What we need is narrow: run the nodes of one graph
in topological order with differentiable torch ops, for what torch's legacy (opset 17) and
dynamo (opset 18-20) exporters emit for MLPs, CNNs, ResNets and transformer blocks, plus
the ops onnxruntime's quantizers emit.

Each family module registers its handlers in a dict keyed by op type; HANDLERS merges them.
Every op listed here is held to onnx's own node test cases (tests/fingerprint/
test_onnx_node_cases.py): each case either matches the expected outputs or raises
BackendError, which declares the variant unsupported and sends the model to the black-box
backend. A silently wrong value is the one outcome not allowed.
"""

from __future__ import annotations

from modelgif.fingerprint.ops import elementwise, nn, quantize, reduce, shape, tensor
from modelgif.fingerprint.ops.base import Handler
from modelgif.fingerprint.ops.quantize import QUANTIZATION_OPS

__all__ = ["HANDLERS", "QUANTIZATION_OPS", "SUPPORTED_OPS"]


def _merge(*families: dict[str, Handler]) -> dict[str, Handler]:
    merged: dict[str, Handler] = {}
    for family in families:
        clash = merged.keys() & family.keys()
        assert not clash, f"op registered twice: {sorted(clash)}"
        merged.update(family)
    return merged


HANDLERS = _merge(
    elementwise.HANDLERS,
    nn.HANDLERS,
    reduce.HANDLERS,
    shape.HANDLERS,
    tensor.HANDLERS,
    quantize.HANDLERS,
)
SUPPORTED_OPS = frozenset(HANDLERS)
