from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from modelgif.errors import BackendError
from modelgif.fingerprint.torch_graph import TorchGraph

from .field_models import inputs, onnx_model, onnx_path, quantized_path, torch_gradients

CASES = [(m, e) for m in ("relu_mlp", "cnn1d", "cnn2d", "tf") for e in ("legacy", "dynamo")]


def _ort(path: object, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize(("name", "exporter"), CASES)
def test_outputs_match_onnxruntime_and_gradients_match_torch(name: str, exporter: str) -> None:
    proto = onnx_model(name, exporter)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    assert opset == 17 if exporter == "legacy" else 18 <= opset <= 20
    graph = TorchGraph(proto)
    assert not any(b.requires_grad for b in graph.buffers())
    assert not list(graph.parameters())
    x = inputs(name, 8)
    xt = torch.from_numpy(x).requires_grad_(True)
    out = graph(xt)
    assert _rel(out.detach().numpy(), _ort(onnx_path(name, exporter), x)) < 1e-5
    ref_grad, classes = torch_gradients(name, x)
    (grad,) = torch.autograd.grad(out.gather(1, torch.from_numpy(classes)[:, None]).sum(), xt)
    for g, r in zip(grad.numpy(), ref_grad, strict=True):  # per sample, relative L2
        assert _rel(g, r) <= 1e-4


@pytest.mark.parametrize("kind", ["dynamic", "qdq"])
@pytest.mark.parametrize("name", ["relu_mlp", "cnn2d"])
def test_quantized_graphs_match_onnxruntime_with_straight_through_gradients(
    name: str, kind: str
) -> None:
    path = quantized_path(name, kind)
    graph = TorchGraph(onnx.load(str(path)))
    assert graph.quantized and graph.batch_coupled == (kind == "dynamic")
    x = inputs(name, 4, seed=3)
    cosines = []
    for i in range(len(x)):  # one request at a time: dynamic scales are per tensor
        xi = torch.from_numpy(x[i : i + 1]).requires_grad_(True)
        out = graph(xi)
        assert _rel(out.detach().numpy(), _ort(path, x[i : i + 1])) < 2e-2
        cls = int(out.argmax())
        (grad,) = torch.autograd.grad(out[0, cls], xi)
        ref, _ = torch_gradients(name, x[i : i + 1], classes=np.array([cls]))
        cosines.append(
            float((grad.numpy() * ref).sum() / np.linalg.norm(grad) / np.linalg.norm(ref))
        )
    # the STE gradient of the quantized model tracks the float model's, except where the
    # quantized model saturates (a real difference between the two functions)
    assert np.median(cosines) > 0.95 and min(cosines) > 0.5


def _single_op_model(node: onnx.NodeProto, shape: list[int]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


@pytest.mark.parametrize(
    "node",
    [
        helper.make_node("Gelu", ["x"], ["y"], approximate="tanh"),
        helper.make_node("Softmax", ["x"], ["y"], axis=1),
        helper.make_node("ReduceMean", ["x"], ["y"], keepdims=0),
        helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0]),
        helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.2),
        helper.make_node("HardSigmoid", ["x"], ["y"]),
        helper.make_node("Flatten", ["x"], ["y"], axis=0),
    ],
    ids=lambda n: n.op_type,
)
def test_single_ops_match_onnxruntime(node: onnx.NodeProto) -> None:
    model = _single_op_model(node, [3, 5])
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ref = session.run(None, {"x": x})[0]
    ours = TorchGraph(model)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_unsupported_op_raises_backend_error_naming_it() -> None:
    model = _single_op_model(helper.make_node("Det", ["x"], ["y"]), [3, 3])
    with pytest.raises(BackendError, match="Det"):
        TorchGraph(model)


def _f64(*shape: int, positive: bool = False) -> np.ndarray:
    values = np.random.default_rng(len(shape) + sum(shape)).normal(size=shape)
    return np.abs(values) + 0.5 if positive else values


def _i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# op -> (node attributes, extra inputs as initializers, input shape); the node reads x then
# the initializers in order, and writes y (first output only)
GRAD_CASES: dict[str, tuple[dict[str, Any], list[np.ndarray], list[int]]] = {
    "Gemm": ({"transB": 1, "alpha": 0.5}, [_f64(4, 5), _f64(4)], [3, 5]),
    "MatMul": ({}, [_f64(2, 5, 3)], [4, 2, 4, 5]),
    "Conv": (
        {"pads": [1, 0, 1, 2], "strides": [2, 1], "group": 1},
        [_f64(2, 3, 3, 3)],
        [1, 3, 5, 5],
    ),
    "ConvTranspose": ({"strides": [2, 2], "pads": [1, 1, 1, 1]}, [_f64(3, 2, 3, 3)], [1, 3, 4, 4]),
    "MaxPool": ({"kernel_shape": [2, 2], "pads": [0, 0, 1, 1]}, [], [1, 2, 5, 5]),
    "AveragePool": ({"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, [], [1, 2, 5, 5]),
    "LayerNormalization": ({"axis": -2}, [_f64(4, 5), _f64(4, 5)], [3, 4, 5]),
    "BatchNormalization": (
        {},
        [_f64(3), _f64(3), _f64(3), _f64(3, positive=True)],
        [2, 3, 4],
    ),
    "InstanceNormalization": ({}, [_f64(3), _f64(3)], [2, 3, 4]),
    "Softmax": ({"axis": 1}, [], [3, 5]),
    "LogSoftmax": ({"axis": -1}, [], [3, 5]),
    "Gelu": ({}, [], [3, 5]),
    "Erf": ({}, [], [3, 5]),
    "Mish": ({}, [], [3, 5]),
    "Selu": ({}, [], [3, 5]),
    "PRelu": ({}, [_f64(5)], [3, 5]),
    "Div": ({}, [_f64(5, positive=True)], [3, 5]),
    "Pow": ({}, [np.array(3.0)], [3, 5]),
    "ReduceLogSumExp": ({"keepdims": 0}, [_i64(1)], [3, 5]),
    "ReduceL2": ({}, [_i64(0, 1)], [3, 5]),
    "ReduceProd": ({}, [_i64(-1)], [3, 5]),
    "Slice": ({}, [_i64(4, 0), _i64(0, 5), _i64(1, 2), _i64(-2, 2)], [2, 5, 5]),
    "Gather": ({"axis": 1}, [_i64(2, 0, 2, -1)], [3, 5]),
    "Pad": ({"mode": "reflect"}, [_i64(0, 0, 1, 2, 0, 0, 2, 1)], [1, 2, 4, 4]),
    "Expand": ({}, [_i64(2, 3, 5)], [3, 1]),
    "Transpose": ({"perm": [2, 0, 1]}, [], [2, 3, 4]),
}


def _grad_model(op: str, elem: int) -> onnx.ModelProto:
    attrs, extras, shape = GRAD_CASES[op]
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    names = [f"c{i}" for i in range(len(extras))]
    node = helper.make_node(op, ["x", *names], ["y"], **attrs)
    inits = [
        numpy_helper.from_array(v.astype(dtype) if v.dtype.kind == "f" else v, n)
        for v, n in zip(extras, names, strict=True)
    ]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", elem, shape)],
        [helper.make_tensor_value_info("y", elem, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


@pytest.mark.parametrize("op", sorted(GRAD_CASES))
def test_gradients_pass_gradcheck_in_float64(op: str) -> None:
    graph = TorchGraph(_grad_model(op, TensorProto.DOUBLE))
    x = torch.from_numpy(_f64(*GRAD_CASES[op][2]) * 0.7).requires_grad_(True)
    y = graph(x)
    assert y.dtype == torch.float64 and y.requires_grad
    # the function itself: onnxruntime on the float32 model (it lacks some float64 kernels)
    x32 = x.detach().numpy().astype(np.float32)
    ref = _ort_bytes(_grad_model(op, TensorProto.FLOAT).SerializeToString(), x32)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    assert torch.autograd.gradcheck(graph, (x,), eps=1e-6, atol=1e-7, rtol=1e-5)


def _ort_bytes(model: bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


@pytest.mark.parametrize("depth", [100, 256, 257, 1536])
def test_matmul_integer_is_exact_at_the_extremes(depth: int) -> None:
    """Chunked float32 accumulation equals the spec's int32 product (numpy int64 here:
    onnxruntime's u8s8 kernels saturate at these extremes), even where every product is the
    largest and a float32 sum over the whole depth would round."""
    rng = np.random.default_rng(depth)
    a = np.concatenate([np.full((1, depth), 255), rng.integers(0, 256, (3, depth))])
    a = a.astype(np.uint8)
    b = np.concatenate([np.full((depth, 1), -128), rng.integers(-128, 128, (depth, 4))], 1)
    b = b.astype(np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "", "bz"], ["y"])], "g",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [4, depth])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [4, 5])],
        [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.int8(127), "bz")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    want = a.astype(np.int64) @ (b.astype(np.int64) - 127)  # products up to 255 x 255
    assert int(np.abs(want).max()) > 2**24 or depth < 300  # float32 sums would round
    got = TorchGraph(model)(torch.from_numpy(a.astype(np.float32)))
    assert np.array_equal(got.double().numpy(), want.astype(np.float32).astype(np.float64))
