"""Which output of a several-output model the field is taken of, and how a suspect matches it.

Why: detection heads, auxiliary logits, (logits, features) tuples: the field needs ONE
output, and which one is part of what the fingerprint means. The owner names it (default:
the first), normalization keeps only that output and the nodes it needs (so the digest
names the function of that output), the fingerprint records its original name, and a
suspect is read at the output of the same role: the one with that name, else its first.
"""

from __future__ import annotations

import onnx

from modelgif.errors import ModelLoadError

__all__ = ["CONFIG_KEY", "choose_output", "keep_output", "output_names", "recorded_output"]

CONFIG_KEY = "model_output"  # in a fingerprint's config echo; absent in older fingerprints


def output_names(model: onnx.ModelProto) -> list[str]:
    """The graph's output names, in order."""
    return [o.name for o in model.graph.output]


def recorded_output(config: dict[str, object]) -> str | None:
    """The output name a fingerprint was taken of (None: the first, as older files mean)."""
    name = config.get(CONFIG_KEY)
    return name if isinstance(name, str) else None


def choose_output(model: onnx.ModelProto, wanted: str | None, strict: bool) -> str:
    """`wanted` if the model has it; else the first output (or, when `strict`, an error)."""
    names = output_names(model)
    if not names:
        raise ModelLoadError("model declares no output")
    if wanted is None or wanted in names:
        return wanted or names[0]
    if strict:
        raise ModelLoadError(f"model has no output '{wanted}'; its outputs: {', '.join(names)}")
    return names[0]


def keep_output(model: onnx.ModelProto, name: str) -> None:
    """Keep only output `name`, the nodes it depends on and the weights they use (in place)."""
    graph = model.graph
    chosen = next(o for o in graph.output if o.name == name)
    needed = {name}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
            needed.update(_subgraph_inputs(node))
    kept.reverse()
    chosen_copy = onnx.ValueInfoProto()
    chosen_copy.CopyFrom(chosen)
    del graph.output[:]
    graph.output.append(chosen_copy)
    if len(kept) != len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)
        weights = [t for t in graph.initializer if t.name in needed]
        del graph.initializer[:]
        graph.initializer.extend(weights)


def _subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Outer-scope names a node's subgraphs (If, Loop, Scan bodies) may read."""
    names: set[str] = set()
    for attribute in node.attribute:
        for graph in [*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs]:
            for inner in graph.node:
                names.update(i for i in inner.input if i)
                names.update(_subgraph_inputs(inner))
    return names
