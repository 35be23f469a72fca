"""Every graph, node and tensor of an ONNX model, subgraphs and local functions included.

Why one walk: a check that looks at the main graph only is a check an attacker steps around
(an initializer inside an If branch, 300k nodes inside a Loop body, a function that calls
itself in a 3 KB file). Every safety rule in safe_onnx.py iterates these lists, so a rule
cannot forget a place where a tensor or a node can hide.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from modelgif.errors import ModelLoadError

__all__ = ["all_graphs", "all_nodes", "all_tensors", "inlined_node_count"]


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    graphs: list[onnx.GraphProto] = []
    for attribute in node.attribute:
        if attribute.HasField("g"):
            graphs.append(attribute.g)
        graphs.extend(attribute.graphs)
    return graphs


def all_graphs(model: onnx.ModelProto) -> list[onnx.GraphProto]:
    """The main graph and every subgraph, also those inside local functions' nodes."""
    found: list[onnx.GraphProto] = []
    pending = [model.graph]
    for function in model.functions:
        for node in function.node:
            pending.extend(_subgraphs(node))
    while pending:
        graph = pending.pop()
        found.append(graph)
        for node in graph.node:
            pending.extend(_subgraphs(node))
    return found


def all_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Nodes of every graph and every local function."""
    nodes = [node for graph in all_graphs(model) for node in graph.node]
    for function in model.functions:
        nodes.extend(function.node)
    return nodes


def all_tensors(model: onnx.ModelProto, name: str) -> list[TensorProto]:
    """Initializers and constant-attribute tensors of every graph, subgraph and function.

    Sparse tensors (initializers or attributes) are refused: modelgif does not support them,
    and one fewer place for data to hide is one fewer place to check.
    """
    tensors: list[TensorProto] = []
    for graph in all_graphs(model):
        if len(graph.sparse_initializer) > 0:
            raise ModelLoadError(f"{name}: sparse initializers are not supported")
        tensors.extend(graph.initializer)
    for node in all_nodes(model):
        for attribute in node.attribute:
            if attribute.HasField("sparse_tensor") or len(attribute.sparse_tensors) > 0:
                raise ModelLoadError(
                    f"{name}: node '{node.name or node.op_type}' has a sparse tensor attribute"
                )
            if attribute.HasField("t"):
                tensors.append(attribute.t)
            tensors.extend(attribute.tensors)
    return tensors


def inlined_node_count(model: onnx.ModelProto, limit: int, name: str) -> int:
    """Nodes the model has once local functions are inlined, computed without inlining.

    Counting stops past `limit` (so 40 nested functions of two calls each, 2^39 nodes, cost
    40 steps, not 2^39); a function that calls itself is refused.
    """
    functions = {(f.domain, f.name): f for f in model.functions}
    sizes: dict[tuple[str, str], int] = {}
    active: set[tuple[str, str]] = set()

    def node_cost(node: onnx.NodeProto) -> int:
        callee = (node.domain, node.op_type)
        cost = function_cost(callee) if callee in functions else 1
        for graph in _subgraphs(node):
            cost = min(cost + graph_cost(list(graph.node)), limit + 1)
        return cost

    def graph_cost(nodes: list[onnx.NodeProto]) -> int:
        total = 0
        for node in nodes:
            total = min(total + node_cost(node), limit + 1)
            if total > limit:
                break
        return total

    def function_cost(key: tuple[str, str]) -> int:
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ModelLoadError(f"{name}: local function '{key[1]}' calls itself")
        active.add(key)
        sizes[key] = graph_cost(list(functions[key].node))
        active.discard(key)
        return sizes[key]

    return graph_cost(list(model.graph.node))
