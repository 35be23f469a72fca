"""normalize(): torch exports both ways, external data, quantized ONNX, digest properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    quantize_dynamic,
    quantize_static,
)

from model_factory import make_model
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.normalize import CANONICAL_OPSET, NORMALIZATION_VERSION, normalize
from modelgif.runtime import make_session

KINDS = ["mlp", "cnn", "resnet", "transformer"]


def run_onnx(model_bytes: bytes, batch: np.ndarray) -> np.ndarray:
    session = make_session(model_bytes)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: batch})[0])


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_export_matches_torch_in_onnxruntime(kind: str, exporter: str) -> None:
    module, example = make_model(kind)
    normalized = normalize(module, example, exporter=exporter)  # type: ignore[arg-type]
    assert normalized.max_abs_diff is not None and normalized.max_abs_diff < 1e-4
    assert normalized.opset == CANONICAL_OPSET
    assert normalized.input_spec.shape == (None, *example.shape[1:])
    # An independent check on a fresh batch of another size than the export's example.
    batch = torch.randn(7, *example.shape[1:], generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        expected = module(batch).numpy()
    got = run_onnx(normalized.to_bytes(), batch.numpy())
    relative = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    print(f"{kind}/{exporter}: max relative difference {relative:.2e}")
    assert relative < 1e-4


def test_onnx_file_with_external_data(tmp_path: Path) -> None:
    module, example = make_model("cnn")
    path = export_torch(module, example, tmp_path / "m.onnx", "dynamo")
    assert (tmp_path / "m.onnx.data").exists()
    normalized = normalize(path)
    with torch.no_grad():
        expected = module(example).numpy()
    assert np.allclose(run_onnx(normalized.to_bytes(), example.numpy()), expected, atol=1e-5)
    initializers = normalized.model.graph.initializer
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in initializers)


class _Reader(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, shape: tuple[int, ...]) -> None:
        rng = np.random.default_rng(0)
        self.batches = iter([{"input": rng.standard_normal(shape).astype(np.float32)}
                             for _ in range(4)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


@pytest.mark.parametrize("method", ["dynamic", "qdq"])
def test_quantized_onnx(tmp_path: Path, method: str) -> None:
    module, example = make_model("cnn")
    float_path = export_torch(module, example, tmp_path / "f.onnx")
    quant_path = tmp_path / "q.onnx"
    if method == "dynamic":
        quantize_dynamic(str(float_path), str(quant_path))
    else:
        quantize_static(str(float_path), str(quant_path), _Reader((8, 1, 40)),
                        quant_format=QuantFormat.QDQ)
    normalized = normalize(quant_path)
    ops = {node.op_type for node in normalized.model.graph.node}
    assert ops & {"DynamicQuantizeLinear", "QuantizeLinear", "MatMulInteger", "ConvInteger"}
    expected = run_onnx(quant_path.read_bytes(), example.numpy())
    assert np.array_equal(run_onnx(normalized.to_bytes(), example.numpy()), expected)
    assert normalized.digest != normalize(float_path).digest


def _rewrite_names_and_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same function saved again: other names everywhere, other metadata."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    mapping: dict[str, str] = {}
    for node in copy.graph.node:
        for name in [*node.input, *node.output]:
            if name:
                mapping.setdefault(name, f"renamed_{len(mapping)}_{name[::-1]}")
    for index, node in enumerate(copy.graph.node):
        node.name = f"thief_node_{index * 7}"
        node.doc_string = "innocent"
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    for value in [*copy.graph.input, *copy.graph.output, *copy.graph.initializer]:
        value.name = mapping.get(value.name, value.name)
    copy.producer_name = "someone-else"
    copy.doc_string = "my very own model"
    entry = copy.metadata_props.add()
    entry.key, entry.value = "author", "thief"
    return copy


def test_digest_ignores_names_and_metadata_and_tracks_weights(tmp_path: Path) -> None:
    module, example = make_model("mlp")
    path = export_torch(module, example, tmp_path / "m.onnx")
    original = onnx.load(str(path))
    digest = normalize(original).digest
    assert normalize(_rewrite_names_and_metadata(original)).digest == digest
    changed = onnx.ModelProto()
    changed.CopyFrom(original)
    weight = onnx.numpy_helper.to_array(changed.graph.initializer[0]).copy()
    weight.flat[0] += 1e-3
    changed.graph.initializer[0].CopyFrom(
        onnx.numpy_helper.from_array(weight, changed.graph.initializer[0].name))
    assert normalize(changed).digest != digest


def test_the_digest_is_tagged_with_the_normalization_version() -> None:
    """A digest names a function only within one canonical form: summaries (and so
    `normalize --json`) and fingerprints say which one."""
    module, example = make_model("mlp")
    assert normalize(module, example).summary()["normalization_version"] == NORMALIZATION_VERSION
    assert NORMALIZATION_VERSION >= 1


def test_normalizing_a_normalized_file_is_the_identity(tmp_path: Path) -> None:
    module, example = make_model("resnet")
    first = normalize(module, example, input_range=(0.0, 1.0))
    path = first.save(tmp_path / "n.onnx")
    second = normalize(path)
    assert second.digest == first.digest
    assert second.input_spec.value_range == (0.0, 1.0)
    assert second.to_bytes() == first.to_bytes()


class _Drifting(torch.nn.Module):
    """Eager output changes after export: the numeric check must catch it."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.calls = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1.0
        return self.linear(x) + self.calls


def test_a_mismatch_with_torch_fails_loudly() -> None:
    with pytest.raises(ModelLoadError, match="differs from the original"):
        normalize(_Drifting(), torch.randn(2, 4))
