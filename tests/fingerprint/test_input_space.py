"""uint8 NHWC image models with preprocessing in the graph: the float view, the grid, steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from tests.fingerprint.shipped_models import PixelsCNN, default_export, seeded

from modelgif.crypto.keys import generate_key
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import normalize
from modelgif.runtime import make_session


def pixels(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 12, 12, 3), dtype=torch.uint8, generator=generator)


@pytest.fixture(scope="module", params=[True, False], ids=["dynamo", "legacy"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[torch.nn.Module, Path]:
    module = seeded(PixelsCNN())
    path = default_export(module, pixels(1), tmp_path_factory.mktemp("px") / "pixels.onnx",
                          dynamo=request.param)
    return module, path


def test_uint8_nhwc_export_is_read_as_its_float_view(
    exported: tuple[torch.nn.Module, Path]
) -> None:
    module, path = exported
    graph_input = onnx.load(str(path)).graph.input[0].type.tensor_type
    assert graph_input.elem_type == TensorProto.UINT8  # the file really takes raw pixels
    normalized = normalize(path)
    spec = normalized.input_spec
    assert (spec.dtype, spec.value_range, spec.shape) == ("uint8", (0.0, 255.0),
                                                          (None, 12, 12, 3))
    assert normalized.model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    x = pixels(5, seed=1)
    with torch.no_grad():
        expected = module(x).numpy()
    session = make_session(normalized.to_bytes())
    got = session.run(None, {"input": x.numpy().astype(np.float32)})[0]
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5)
    # between the grey levels the float view is the graph's own arithmetic (no rounding)
    half = session.run(None, {"input": x.numpy().astype(np.float32) + 0.5})[0]
    assert not np.allclose(half, got, atol=1e-6)
    again = normalize(normalized.to_bytes())  # the saved file remembers the input space
    assert again.input_spec == spec and again.digest == normalized.digest


def test_fingerprint_anchors_on_the_grid_and_steps_of_a_quantum(
    exported: tuple[torch.nn.Module, Path], tmp_path: Path
) -> None:
    _, path = exported
    key = generate_key()
    from modelgif.fingerprint.anchors import AnchorConfig

    fingerprint = create_fingerprint(path, key, tmp_path / "px.mgf",
                                     anchor_config=AnchorConfig(n_anchors=6, source="synthetic"),
                                     field_config=FieldConfig(n_steps=3, sketch_dim=8))
    anchors = open_secrets(fingerprint, key).anchors
    assert np.array_equal(anchors, np.rint(anchors)) and anchors.min() >= 0
    assert anchors.max() <= 255 and len(np.unique(anchors)) > 100
    config = fingerprint.config
    assert config["input_spec"]["dtype"] == "uint8"
    assert config["field"]["estimator"]["name"] == "exact"  # gradients of the float view
    assert config["field_coarse"]["config"]["fd_eps"] >= 1.0


def test_raw_pixels_used_before_a_cast_are_refused() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.UINT8, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    nodes = [helper.make_node("Add", ["x", "x"], ["s"]),
             helper.make_node("Cast", ["s"], ["y"], to=TensorProto.FLOAT)]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 20)])
    with pytest.raises(ModelLoadError, match="uint8 and used by Add before any Cast"):
        normalize(model)
