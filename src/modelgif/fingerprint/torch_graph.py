"""A small ONNX interpreter in torch: exact input gradients of any normalised ONNX model.

The op handlers live in fingerprint.ops, by family (why we interpret ONNX ourselves is
explained there); this module is the core that runs them: it checks that every op, input
and output type is one the handlers support, turns initializers and Constant nodes into
buffers, and runs the nodes in topological order, freeing each value after its last use.

Conventions:
- Initializers become buffers: never Parameters, never requires_grad.
- Shape subgraphs run on int64 tensors (no gradient flows through them).
- Quantized values are float tensors holding integers, with straight-through gradients
  (see fingerprint.ops.quantize).
- Anything outside the handlers (an op, a variant, a dtype, a subgraph op such as If, Loop
  or Scan) raises BackendError naming it; the auto backend then falls back to finite
  differences. It is never approximated.
- DynamicQuantizeLinear takes its scale from the whole tensor, batch included, so such a
  graph is `batch_coupled`: callers must evaluate it one sample at a time to get the
  function an inference API computes for a single request.
"""

from __future__ import annotations

import onnx
import torch

from modelgif.errors import BackendError
from modelgif.fingerprint.ops import HANDLERS, QUANTIZATION_OPS
from modelgif.fingerprint.ops.base import (
    ONNX_TO_TORCH,
    Node,
    Unsupported,
    Value,
    tensor_from_proto,
    type_name,
)
from modelgif.fingerprint.ops.tensor import constant

__all__ = ["Interpreter", "TorchGraph", "graph_ops"]


def graph_ops(model: onnx.ModelProto) -> set[str]:
    """The op types (domain-qualified when not the default domain) a model uses."""
    return {
        (n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}")
        for n in model.graph.node
    }


def _check_tensor_type(value: onnx.ValueInfoProto, typed: bool) -> None:
    """A graph input (`typed`) must be a tensor of a supported type; an output may be untyped."""
    kind = value.type.WhichOneof("value")
    if kind is None and not typed:
        return
    if kind != "tensor_type":
        raise Unsupported(f"Graph value {value.name!r} is a {kind}, not a tensor.")
    elem = value.type.tensor_type.elem_type
    if elem not in ONNX_TO_TORCH and (typed or elem):
        raise Unsupported(f"Graph value {value.name!r} of type {type_name(elem)} not supported.")


class Interpreter(torch.nn.Module):
    """An onnx.ModelProto as a torch module: run(*inputs) -> every graph output.

    Raises BackendError at construction if the graph uses an op outside SUPPORTED_OPS or a
    graph input or output that is not a tensor of a supported type, and at run time for a
    variant the handlers do not support.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        graph = model.graph
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        unsupported = sorted(op for op in graph_ops(model) if op not in HANDLERS)
        if unsupported:
            raise Unsupported(f"ONNX ops not supported by the exact backend: {unsupported}")
        init_names = {t.name for t in graph.initializer}
        inputs = [i for i in graph.input if i.name not in init_names]
        for value in inputs:
            _check_tensor_type(value, typed=True)
        for value in graph.output:
            _check_tensor_type(value, typed=False)
        self.input_names = [i.name for i in inputs]
        self.output_names = [o.name for o in graph.output]
        self._buffer_of: dict[str, str] = {}
        for i, init in enumerate(graph.initializer):
            attr = f"init_{i}"
            self.register_buffer(attr, tensor_from_proto(init), persistent=False)
            self._buffer_of[init.name] = attr
        self._nodes: list[Node] = []
        for n in graph.node:
            node = Node(n, opset)
            if node.op == "Constant":  # a buffer, so it follows the module's device
                attr = f"const_{len(self._buffer_of)}"
                self.register_buffer(attr, constant(node, [])[0], persistent=False)
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
        for name in self.output_names:
            last[name] = len(self._nodes)
        return last

    def run(self, *xs: torch.Tensor) -> list[torch.Tensor]:
        """Every graph output, given the graph inputs in order."""
        if len(xs) != len(self.input_names):
            raise BackendError(f"The graph takes {len(self.input_names)} inputs, got {len(xs)}.")
        device = xs[0].device if xs else torch.device("cpu")
        env: dict[str, torch.Tensor] = dict(zip(self.input_names, xs, strict=True))
        for name, attr in self._buffer_of.items():
            env[name] = getattr(self, attr)
        for i, node in enumerate(self._nodes):
            try:
                args: list[Value] = [env[n] if n else None for n in node.inputs]
                outs = HANDLERS[node.op](node, args)
            except BackendError:
                raise
            except (RuntimeError, ValueError, IndexError, TypeError, KeyError) as exc:
                raise BackendError(f"{node.op} node {node.name!r} failed: {exc}") from exc
            for index, name in enumerate(node.outputs):
                if not name:
                    continue
                if index >= len(outs):
                    raise node.unsupported(f"output {index} ({name!r})")
                value = outs[index]
                if value.device != device and (
                    value.is_floating_point() or value.dtype == torch.bool
                ):
                    value = value.to(device)
                env[name] = value
            for name in node.inputs:
                if self._last_use.get(name) == i and name not in self._buffer_of:
                    env.pop(name, None)
        missing = [name for name in self.output_names if name not in env]
        if missing:
            raise BackendError(f"Graph outputs {missing} are produced by no node.")
        return [env[name] for name in self.output_names]


class TorchGraph(Interpreter):
    """An onnx.ModelProto as a torch module: forward(x) -> first graph output.

    Raises BackendError at construction as Interpreter does, and if the graph has more
    than one non-initializer input.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__(model)
        if len(self.input_names) != 1:
            raise BackendError(
                f"The exact backend needs exactly one graph input; got {self.input_names}."
            )
        self.input_name = self.input_names[0]
        self.output_name = self.output_names[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[0]
