"""Token-id ONNX -> a one-float-input model: cut the graph at the token-embedding lookup.

    input_ids ──Gather(E [vocab, hidden])──> token representation [batch, T, hidden] ──> ...
    attention_mask, token_type_ids, position_ids ─────────────────────────────────────────┘

becomes

    embeddings [batch, T, hidden] (float input) ──> ...            (T fixed: the anchor length)
    attention_mask  = ones  [batch, T]   (every anchor is T real tokens: no padding at all)
    token_type_ids  = zeros [batch, T]   (one segment)
    position_ids    = 0..T-1
    input_ids       = zeros [batch, T]   (only its shape may still be used, e.g. by Shape)

Why cut there: gradients need a continuous input, and the token-embedding table is where
a token id becomes one. Everything after the lookup (position and segment embeddings,
LayerNorm, the encoder) stays the model's own graph, so the cut model computes exactly the
original function on E[ids] (checked in onnxruntime on the anchors themselves, see
`check_cut`). The table E is returned: it maps the one-hot token space, which every model of
the same tokenizer shares whatever its hidden size, to this model's own embedding space
(field.py).

Why no padding: a padded position is a token the model is told to ignore, and whether a
model honours the mask is itself part of its function; fixing the mask to ones and every
anchor to exactly T real tokens removes that freedom, so two models are compared on the
same inputs, and the mask input can be a constant.

The embedding lookup is found, not named: a Gather whose data is a rank-2 initializer
[vocab, hidden] (vocab >= 2) and whose indices are an integer graph input (or a Reshape,
Identity or integer Cast of one, as GPT-2 exports it; the cut is checked either way); among several
(token-type and position tables are Gathers too) the largest table. A table quantized by
onnxruntime's dynamic quantizer (Gather of a uint8/int8 table, then DequantizeLinear with
constant scale and zero point) is read dequantized, and the cut is made after the
DequantizeLinear. Anything else (a fused com.microsoft EmbedLayerNormalization, an id
input with no lookup) is refused in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx.inliner
from onnx import TensorProto, helper, numpy_helper

from modelgif.errors import ModelLoadError

__all__ = [
    "EMBEDDINGS",
    "EmbeddingCut",
    "Lookup",
    "cut_embedding",
    "find_lookup",
    "is_token_model",
]

EMBEDDINGS = "embeddings"
INTEGER_TYPES = frozenset({TensorProto.INT64, TensorProto.INT32})
QUANTIZED_TABLES = frozenset({TensorProto.UINT8, TensorProto.INT8})
FLOAT_OUTPUTS = frozenset({TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE})


@dataclass(frozen=True)
class Lookup:
    """Where a token-id model turns ids into vectors."""

    id_input: str
    table: np.ndarray  # (vocab, hidden) float32, dequantized when the graph stores it int8
    output: str  # the tensor holding E[ids]
    nodes: tuple[int, ...]  # indices of the nodes that compute it (Gather [, DequantizeLinear])
    quantized: bool


@dataclass(frozen=True)
class EmbeddingCut:
    """The cut model (one float input [batch, T, hidden]) and what defines the cut."""

    model: onnx.ModelProto
    table: np.ndarray  # (vocab, hidden) float32
    length: int
    id_input: str
    constant_inputs: dict[str, str]  # other integer input -> "ones" | "zeros" | "positions"
    quantized_table: bool

    @property
    def vocab(self) -> int:
        return int(self.table.shape[0])

    @property
    def hidden(self) -> int:
        return int(self.table.shape[1])


def _inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def is_token_model(model: onnx.ModelProto) -> bool:
    """True when some graph input is an integer tensor (token ids, masks)."""
    return any(i.type.tensor_type.elem_type in INTEGER_TYPES for i in _inputs(model))


def find_lookup(model: onnx.ModelProto) -> Lookup:
    """The token-embedding lookup of a token-id model (module docstring), else refuse."""
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    integer_inputs = {i.name for i in _inputs(model)
                      if i.type.tensor_type.elem_type in INTEGER_TYPES}
    id_of = _id_views(graph, integer_inputs)
    consumers: dict[str, list[int]] = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            consumers.setdefault(name, []).append(index)
    best: Lookup | None = None
    for index, node in enumerate(graph.node):
        if node.op_type != "Gather" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        data, ids = node.input[0], id_of.get(node.input[1], "")
        tensor = initializers.get(data)
        if tensor is None and ids:
            tensor = _constant_table(graph, data, initializers)
        if not ids or tensor is None or len(tensor.dims) != 2:
            continue
        if any(a.name == "axis" and a.i != 0 for a in node.attribute) or tensor.dims[0] < 2:
            continue
        lookup = _float_lookup(node, index, ids, tensor, initializers, consumers, graph)
        if lookup is not None and (best is None or lookup.table.shape[0] > best.table.shape[0]):
            best = lookup
    if best is None:
        names = ", ".join(sorted(integer_inputs)) or "none"
        fused = {n.op_type for n in graph.node if n.domain == "com.microsoft"}
        hint = (f" (fused {', '.join(sorted(fused))}: export without onnxruntime's "
                "transformer fusions)" if fused else "")
        raise ModelLoadError(
            f"no token-embedding lookup found (a Gather of a [vocab, hidden] initializer by an "
            f"integer input; integer inputs: {names}){hint}"
        )
    return best


VIEW_OPS = frozenset({"Reshape", "Identity", "Cast"})


def _id_views(graph: onnx.GraphProto, integer_inputs: set[str]) -> dict[str, str]:
    """Each integer graph input, and the tensors that are only a view of one (GPT-2 looks
    up input_ids.view(-1, T), a Reshape): tensor name -> the graph input it shows."""
    views = {name: name for name in integer_inputs}
    for node in graph.node:
        if (node.op_type in VIEW_OPS and node.domain in ("", "ai.onnx") and node.input
                and node.input[0] in views):
            if node.op_type == "Cast" and not any(
                    a.name == "to" and a.i in INTEGER_TYPES for a in node.attribute):
                continue
            views[node.output[0]] = views[node.input[0]]
    return views


CONSTANT_OPS = frozenset({"Cast", "Mul", "Sub", "Add", "Div", "DequantizeLinear", "Reshape",
                          "Identity", "Constant", "Transpose", "Squeeze", "Unsqueeze"})


def _constant_table(
    graph: onnx.GraphProto, name: str, initializers: dict[str, onnx.TensorProto]
) -> onnx.TensorProto | None:
    """A table computed from initializers alone (weight-only int8: Cast, Mul by a scale),
    evaluated with onnx's reference evaluator; None when anything else feeds it."""
    producers = {out: node for node in graph.node for out in node.output}
    needed: list[onnx.NodeProto] = []
    stack, seen = [name], set()
    while stack:
        current = stack.pop()
        if current in seen or current in initializers or not current:
            continue
        seen.add(current)
        node = producers.get(current)
        if node is None or node.op_type not in CONSTANT_OPS or node.domain not in ("", "ai.onnx"):
            return None
        needed.append(node)
        stack.extend(node.input)
        if len(needed) > 16:
            return None
    from onnx.reference import ReferenceEvaluator

    used = {i for n in needed for i in n.input}
    sub = helper.make_graph(list(reversed(_ordered(needed, graph))), "table", [],
                            [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)],
                            [t for k, t in initializers.items() if k in used])
    try:
        value = ReferenceEvaluator(helper.make_model(sub)).run(None, {})[0]  # type: ignore[index]
    except Exception:  # the reference evaluator raises many types: not a constant table
        return None
    array = np.asarray(value)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        return None
    return numpy_helper.from_array(array.astype(np.float32), name)


def _ordered(nodes: list[onnx.NodeProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """`nodes` in reverse graph order (reversed again by the caller: topological)."""
    wanted = {id(n) for n in nodes}
    return [n for n in reversed(graph.node) if id(n) in wanted]


def _float_lookup(
    node: onnx.NodeProto,
    index: int,
    ids: str,
    tensor: onnx.TensorProto,
    initializers: dict[str, onnx.TensorProto],
    consumers: dict[str, list[int]],
    graph: onnx.GraphProto,
) -> Lookup | None:
    if tensor.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
        table = numpy_helper.to_array(tensor).astype(np.float32)
        return Lookup(ids, table, node.output[0], (index,), False)
    if tensor.data_type not in QUANTIZED_TABLES:
        return None
    users = consumers.get(node.output[0], [])
    if len(users) != 1:
        return None
    dq = graph.node[users[0]]
    if dq.op_type != "DequantizeLinear" or dq.input[0] != node.output[0]:
        return None
    scale = initializers.get(dq.input[1])
    zero = initializers.get(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else None
    if scale is None or (len(dq.input) > 2 and dq.input[2] and zero is None):
        return None
    s = numpy_helper.to_array(scale).astype(np.float32)
    z = numpy_helper.to_array(zero).astype(np.float32) if zero is not None else np.float32(0)
    if s.size != 1 or np.size(z) != 1 or any(a.name == "axis" for a in dq.attribute):
        return None  # per-axis table quantization: not the dynamic quantizer's layout
    table = (numpy_helper.to_array(tensor).astype(np.float32) - z.reshape(())) * s.reshape(())
    return Lookup(ids, table.astype(np.float32), dq.output[0], (index, users[0]), True)


def _role(name: str) -> str:
    lowered = name.lower()
    if "mask" in lowered:
        return "ones"
    if "position" in lowered:
        return "positions"
    return "zeros"


def cut_embedding(model: onnx.ModelProto, length: int) -> EmbeddingCut:
    """Cut `model` at its token-embedding lookup; the sequence length is fixed at `length`."""
    if len(model.functions) > 0:
        model = onnx.inliner.inline_local_functions(model)
    lookup = find_lookup(model)
    graph_in = _inputs(model)
    roles: dict[str, str] = {}
    for value in graph_in:
        elem = value.type.tensor_type.elem_type
        if value.name == lookup.id_input:
            continue
        if elem not in INTEGER_TYPES:
            raise ModelLoadError(
                f"input '{value.name}' is not an integer input; a token-id model may take "
                "only integer inputs (ids, masks, token types, positions)"
            )
        roles[value.name] = _role(value.name)
    hidden = lookup.table.shape[1]
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    graph = cut.graph
    types = {v.name: v.type.tensor_type.elem_type for v in graph_in}
    keep = [n for i, n in enumerate(graph.node) if i not in lookup.nodes]
    prelude = _prelude(lookup, roles, types, length)
    del graph.node[:]
    graph.node.extend(prelude + keep)
    del graph.input[:]
    embeddings = helper.make_tensor_value_info(EMBEDDINGS, TensorProto.FLOAT,
                                               ["batch", length, hidden])
    graph.input.append(embeddings)
    _rename_everywhere(graph, lookup.output, EMBEDDINGS)
    floats = [o for o in graph.output if o.type.tensor_type.elem_type in FLOAT_OUTPUTS]
    if not floats:
        raise ModelLoadError("the token-id model has no float output")
    del graph.output[:]  # integer outputs (the ids echoed back by some exports) are not answers
    graph.output.extend(floats)
    for output in graph.output:  # the sequence is fixed now: drop the declared dynamic dims
        for dim in output.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.ClearField("dim_param")
    del graph.value_info[:]
    if lookup.quantized:
        used = {n for node in graph.node for n in node.input}
        kept = [t for t in graph.initializer if t.name in used]
        del graph.initializer[:]
        graph.initializer.extend(kept)
    return EmbeddingCut(cut, lookup.table, length, lookup.id_input, roles, lookup.quantized)


def _prelude(
    lookup: Lookup, roles: dict[str, str], types: dict[str, int], length: int
) -> list[onnx.NodeProto]:
    """Nodes computing the constant integer inputs from the embeddings' [batch, T] shape."""
    shape2 = "modelgif_text_shape2"
    nodes = [
        helper.make_node("Constant", [], ["modelgif_text_zero1"],
                         value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Constant", [], ["modelgif_text_two1"],
                         value=numpy_helper.from_array(np.array([2], np.int64))),
        helper.make_node("Shape", [EMBEDDINGS], ["modelgif_text_shape"]),
        helper.make_node("Slice", ["modelgif_text_shape", "modelgif_text_zero1",
                                   "modelgif_text_two1"], [shape2]),
    ]
    wanted = {lookup.id_input: "zeros", **roles}
    for name, role in wanted.items():
        dtype = helper.tensor_dtype_to_np_dtype(types[name])
        if role == "positions":
            nodes.append(helper.make_node(
                "Constant", [], [f"{name}__positions"],
                value=numpy_helper.from_array(np.arange(length, dtype=dtype)[None])))
            nodes.append(helper.make_node("Expand", [f"{name}__positions", shape2], [name]))
        else:
            fill = np.array([1 if role == "ones" else 0], dtype=dtype)
            nodes.append(helper.make_node("ConstantOfShape", [shape2], [name],
                                          value=numpy_helper.from_array(fill)))
    return nodes


def _rename_everywhere(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a tensor in every node input (subgraphs included) and graph output."""
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _rename_everywhere(attribute.g, old, new)
            for sub in attribute.graphs:
                _rename_everywhere(sub, old, new)
    for output in graph.output:
        if output.name == old:
            output.name = new
