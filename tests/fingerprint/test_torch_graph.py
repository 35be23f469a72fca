from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

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
