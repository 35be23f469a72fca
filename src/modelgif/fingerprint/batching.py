"""Fixed-batch exports -> a dynamic batch, rewritten where a check proves it, else per sample.

torch 2.13's default `torch.onnx.export(model, (x,), "m.onnx")` (and the legacy exporter
without `dynamic_axes`) fixes the batch at the example's size, and bakes it into Reshape
shape constants: `x.view(x.size(0), -1)` becomes `Reshape(x, [1, -1])`. Such a file runs at
its own batch only, but modelgif evaluates many path points at once.

Why this decision, in this order:

1. rewrite: in every Reshape whose data input's leading dimension is the fixed batch B and
   whose constant shape starts with B, replace that B by 0 ("copy the input's dimension").
   This keeps a plain graph (the exact backend, fast batches). It is only kept if the
   rewritten model, run at batch 1 and at a batch that is not a multiple of B, equals the
   ORIGINAL run on its own batches of B (the function a single request computes). Other
   places where an exporter can bake the batch in (Expand, Concat with a constant, Tile,
   ConstantOfShape) fail this check, and nothing is guessed.
2. per sample, for B = 1 only: the original graph becomes the body of an ONNX Scan over the
   batch, which runs it one sample at a time; exactly the original function, in any
   runtime, but the exact backend does not convert subgraphs, so fields use finite
   differences (recorded as the estimator).
3. otherwise (B > 1 and the rewrite fails the check) refuse in one line that names the fix:
   running chunks of B would make one sample's output depend on the padding next to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from modelgif.errors import ModelLoadError
from modelgif.fingerprint.ort_errors import ort_message
from modelgif.runtime import make_session

__all__ = ["DYNAMIC_FIX", "BatchPlan", "fixed_batch", "make_batch_dynamic", "run_in_batches"]

log = logging.getLogger(__name__)

BATCH = "batch"
MAX_RELATIVE_ERROR = 1e-5
DYNAMIC_FIX = (
    "re-export with a dynamic batch: torch.onnx.export(model, (x,), 'model.onnx', "
    "dynamic_shapes=({0: torch.export.Dim('batch')},))"
)
SCAN_PREFIX = "scan/"
Run = Callable[[onnx.ModelProto, np.ndarray], np.ndarray]


class BatchPlan:
    """What was done to the batch dimension, in words (kept in the normalized model's notes)."""

    def __init__(self, model: onnx.ModelProto, note: str | None) -> None:
        self.model = model
        self.note = note


def fixed_batch(model: onnx.ModelProto) -> int | None:
    """The input's fixed leading dimension, or None when it is dynamic (a dim_param or unset)."""
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    return int(dim.dim_value) if dim.HasField("dim_value") and dim.dim_value > 0 else None


def run_in_batches(run: Callable[[np.ndarray], np.ndarray], batch: int, x: np.ndarray
                   ) -> np.ndarray:
    """`run` on chunks of exactly `batch` rows (the last padded by repeating its first row)."""
    out = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        rows = len(chunk)
        if rows < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], batch - rows, axis=0)])
        out.append(np.asarray(run(chunk))[:rows])
    return np.concatenate(out)


def make_batch_dynamic(
    model: onnx.ModelProto, sample: Callable[[int], np.ndarray], name: str = "model"
) -> BatchPlan:
    """Return the model with a dynamic batch (see the module docstring for how and why).

    `model` is canonically named (input "input"); `sample(n)` draws n inputs for the check;
    `name` names the file in the one-line refusal.
    """
    batch = fixed_batch(model)
    if batch is None:
        _set_dynamic(model.graph.input[0])
        return BatchPlan(model, None)
    reference = _original_runner(model, batch, name)
    rewritten, count = _rewrite_reshapes(model, batch)
    failure = _check(rewritten, reference, sample, batch)
    if failure is None:
        return BatchPlan(rewritten, f"batch fixed at {batch} in the file: made dynamic "
                                    f"({count} Reshape shape(s) rewritten, checked against "
                                    "the original at batch 1 and 3)")
    log.info("batch rewrite rejected: %s", failure)
    if batch == 1:
        scanned = _scan_per_sample(model)
        failure_scan = _check(scanned, reference, sample, batch)
        if failure_scan is None:
            return BatchPlan(scanned, "batch fixed at 1 in the file: run one sample at a time "
                                      "(ONNX Scan over the batch; fields by finite differences)")
        failure = failure_scan
    raise ModelLoadError(
        f"{name}: onnxruntime cannot run this model at a batch other than {batch} "
        f"({failure}): {DYNAMIC_FIX}"
    )


def _set_dynamic(value: onnx.ValueInfoProto) -> None:
    dim = value.type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_param = BATCH


def _original_runner(model: onnx.ModelProto, batch: int, name: str
                     ) -> Callable[[np.ndarray], np.ndarray]:
    try:
        session = make_session(model.SerializeToString())
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelLoadError(f"{name}: onnxruntime cannot load this model "
                             f"({ort_message(error)})") from None

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"input": x})[0])

    return lambda x: run_in_batches(run, batch, x)


def _rewrite_reshapes(model: onnx.ModelProto, batch: int) -> tuple[onnx.ModelProto, int]:
    """Replace a leading `batch` by 0 in Reshape shapes whose data input leads with `batch`."""
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    graph = rewritten.graph
    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # onnx raises several unrelated types; then nothing is rewritten
        inferred = model
    leading = {v.name: v.type.tensor_type.shape.dim[0] for v in
               [*inferred.graph.value_info, *inferred.graph.input]
               if v.type.tensor_type.shape.dim}
    constants = {t.name: t for t in graph.initializer}
    constants.update({n.output[0]: n.attribute[0].t for n in graph.node if n.op_type == "Constant"
                      and n.attribute and n.attribute[0].name == "value"})
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:  # only the shape input (position 1) of a Reshape is rewritten
        for position, value in enumerate(node.input):
            consumers.setdefault(value, []).append(node if position == 1 else _NOT_A_SHAPE)
    count = 0
    for shape_name, tensor in constants.items():
        users = consumers.get(shape_name, [])
        shape = numpy_helper.to_array(tensor)
        if (not users or shape.ndim != 1 or len(shape) == 0 or int(shape[0]) != batch
                or not all(_batch_leading(u, leading, batch) for u in users)):
            continue
        if np.any(shape == 0):  # a literal 0 elsewhere: its meaning depends on allowzero
            continue
        shape = shape.copy()
        shape[0] = 0
        tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
        for user in users:  # 0 must mean "copy"; with no other 0, allowzero changes nothing else
            _clear_allowzero(user)
        count += 1
    _set_dynamic(graph.input[0])
    for output in graph.output:
        dims = output.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == batch:
            _set_dynamic(output)
    del graph.value_info[:]
    return rewritten, count


_NOT_A_SHAPE = onnx.NodeProto()  # a use of a constant other than as a Reshape shape


def _batch_leading(node: onnx.NodeProto, leading: dict[str, onnx.TensorShapeProto.Dimension],
                   batch: int) -> bool:
    dim = leading.get(node.input[0])
    return (node.op_type == "Reshape" and dim is not None
            and dim.HasField("dim_value") and dim.dim_value == batch)


def _clear_allowzero(node: onnx.NodeProto) -> None:
    keep = [a for a in node.attribute if a.name != "allowzero"]
    del node.attribute[:]
    node.attribute.extend(keep)


def _check(candidate: onnx.ModelProto, reference: Callable[[np.ndarray], np.ndarray],
           sample: Callable[[int], np.ndarray], batch: int) -> str | None:
    """None when `candidate` equals the original at batch 1 and 3; else why not, in words."""
    x = sample(max(3, batch + 3))
    try:
        session = make_session(candidate.SerializeToString())
        singles = np.concatenate([session.run(None, {"input": x[i:i + 1]})[0]
                                  for i in range(len(x))])
        together = np.asarray(session.run(None, {"input": x[:3]})[0])
    except Exception as error:  # onnxruntime raises its own exception types
        return f"at batch 3: {ort_message(error)}"
    expected = reference(x)
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    for got, want, size in ((singles, expected, 1), (together, expected[:3], 3)):
        if got.shape != want.shape:
            return f"output shape {got.shape} at batch {size}, expected {want.shape}"
        diff = float(np.max(np.abs(got.astype(np.float64) - want))) / scale
        if not diff <= MAX_RELATIVE_ERROR:
            return f"outputs differ from per-batch runs by {diff:.2g} relative at batch {size}"
    return None


def _scan_per_sample(model: onnx.ModelProto) -> onnx.ModelProto:
    """The batch-1 graph as the body of a Scan over the batch: one sample at a time."""
    graph = model.graph
    body_nodes = [helper.make_node("Unsqueeze", ["scan/x", "scan/axes"], [SCAN_PREFIX + "input"])]
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [SCAN_PREFIX + n if n else n for n in node.input]
        copy.output[:] = [SCAN_PREFIX + n if n else n for n in node.output]
        copy.name = SCAN_PREFIX + node.name if node.name else ""
        body_nodes.append(copy)
    body_outputs = []
    for output in graph.output:
        squeezed = f"{SCAN_PREFIX}{output.name}_sample"
        body_nodes.append(helper.make_node("Squeeze", [SCAN_PREFIX + output.name, "scan/axes"],
                                           [squeezed]))
        elem = output.type.tensor_type.elem_type
        body_outputs.append(helper.make_tensor_value_info(squeezed, elem, None))
    initializers = []
    for tensor in graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.name = SCAN_PREFIX + tensor.name
        initializers.append(copy)
    initializers.append(numpy_helper.from_array(np.array([0], np.int64), "scan/axes"))
    value = graph.input[0]
    dims = [d.dim_value for d in value.type.tensor_type.shape.dim[1:]]
    sample_in = helper.make_tensor_value_info("scan/x", value.type.tensor_type.elem_type, dims)
    body = helper.make_graph(body_nodes, "per_sample", [sample_in], body_outputs, initializers)
    scan = helper.make_node("Scan", [value.name], [o.name for o in graph.output],
                            name="n0", body=body, num_scan_inputs=1)  # named as _rename would
    outer_in = onnx.ValueInfoProto()
    outer_in.CopyFrom(value)
    _set_dynamic(outer_in)
    outer_out = [helper.make_tensor_value_info(o.name, o.type.tensor_type.elem_type, None)
                 for o in graph.output]
    wrapped = onnx.ModelProto()
    wrapped.CopyFrom(model)
    wrapped.graph.CopyFrom(helper.make_graph([scan], graph.name, [outer_in], outer_out))
    return wrapped
