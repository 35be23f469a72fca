"""A suspect that sees its batch: the field is that of the model answering one sample alone.

The red team's case: the owner's model exactly, plus 50 sin(37 y) whenever the batch holds
more than one row. Served one request at a time it IS the stolen model; evaluated on
batches of path points it looked unrelated (verify said "not derived", p = 0.7).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hostile.harness import float_output, model_of
from modelgif.fingerprint.field import FieldConfig, compute_field

SECRET = b"\x07" * 32
ONE_AT_A_TIME = "one sample at a time"


def _honest_nodes() -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
               for name, shape in (("w1", (4, 8)), ("w2", (8, 3)))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
             helper.make_node("MatMul", ["t", "w2"], ["honest"])]
    return nodes, weights


def _honest() -> onnx.ModelProto:
    nodes, weights = _honest_nodes()
    nodes.append(helper.make_node("Identity", ["honest"], ["y"]))
    return model_of(nodes, weights, output=float_output("y", ["batch", 3]))


def _batch_aware() -> onnx.ModelProto:
    """y = honest + (batch > 1) * 50 sin(37 honest)."""
    nodes, weights = _honest_nodes()
    nodes += [helper.make_node("Shape", ["x"], ["size"], start=0, end=1),
              helper.make_node("Greater", ["size", "one"], ["many"]),
              helper.make_node("Cast", ["many"], ["flag"], to=TensorProto.FLOAT),
              helper.make_node("Mul", ["honest", "k37"], ["a"]),
              helper.make_node("Sin", ["a"], ["s"]),
              helper.make_node("Mul", ["s", "flag"], ["fs"]),
              helper.make_node("Mul", ["fs", "k50"], ["noise"]),
              helper.make_node("Add", ["honest", "noise"], ["y"])]
    weights += [numpy_helper.from_array(np.array([1], np.int64), "one"),
                numpy_helper.from_array(np.array(37, np.float32), "k37"),
                numpy_helper.from_array(np.array(50, np.float32), "k50")]
    return model_of(nodes, weights, output=float_output("y", ["batch", 3]))


@pytest.mark.parametrize("backend", ["exact", "blackbox"])
def test_batch_aware_model_gets_its_single_sample_field(backend: str) -> None:
    anchors = np.random.default_rng(1).uniform(0, 1, (6, 4)).astype(np.float32)
    config = FieldConfig(n_steps=2, sketch_dim=4, backend=backend)
    honest = compute_field(_honest(), anchors, SECRET, config)
    aware = compute_field(_batch_aware(), anchors, SECRET, config)
    assert ONE_AT_A_TIME not in honest.estimator["reason"]
    assert ONE_AT_A_TIME in aware.estimator["reason"]
    np.testing.assert_allclose(aware.sketch, honest.sketch, rtol=1e-3, atol=1e-4)
