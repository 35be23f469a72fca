from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import helper

from modelgif.errors import BackendError
from modelgif.fingerprint.backends import BlackBoxBackend, ExactBackend, select_backend
from modelgif.fingerprint.backends import exact as exact_module
from modelgif.fingerprint.field import FieldConfig, compute_field, field_cosines
from modelgif.runtime import make_session

from .field_models import inputs, onnx_model, quantized_path

SECRET = bytes(range(32))


def _with_unsupported_op(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Append a (function-preserving) Det-free detour through an op TorchGraph lacks."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    out = model.graph.output[0].name
    model.graph.node[-1].output[0] = "pre_out"
    model.graph.node.append(helper.make_node("Shrink", ["pre_out"], [out], lambd=0.0, bias=0.0))
    return model


def test_auto_picks_exact_for_float_onnx() -> None:
    backend, reason = select_backend(onnx_model("relu_mlp"), inputs("relu_mlp", 4))
    assert isinstance(backend, ExactBackend) and "matches onnxruntime" in reason


def test_unsupported_op_falls_back_to_blackbox_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    model = _with_unsupported_op(onnx_model("relu_mlp"))
    with caplog.at_level(logging.WARNING):
        backend, reason = select_backend(model, inputs("relu_mlp", 4))
    assert isinstance(backend, BlackBoxBackend)
    assert "Shrink" in reason and "Shrink" in caplog.text
    with pytest.raises(BackendError, match="Shrink"):
        select_backend(model, inputs("relu_mlp", 4), "exact")


def test_failed_conversion_check_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact_module, "FLOAT_TOLERANCE", 0.0)
    backend, reason = select_backend(onnx_model("cnn2d"), inputs("cnn2d", 4))
    assert isinstance(backend, BlackBoxBackend) and "disagrees with onnxruntime" in reason


@pytest.mark.parametrize(
    ("name", "exporter"),
    [("relu_mlp", "legacy"), ("cnn2d", "dynamo"), ("tf", "legacy"), ("cnn1d", "dynamo")],
)
def test_exact_and_blackbox_sketches_agree_on_float_models(name: str, exporter: str) -> None:
    model, x = onnx_model(name, exporter), inputs(name, 8, seed=5)
    config = FieldConfig(n_steps=8, sketch_dim=32)
    exact = compute_field(model, x, SECRET, config)
    black = compute_field(
        model, x, SECRET, FieldConfig(n_steps=8, sketch_dim=32, backend="blackbox")
    )
    assert exact.config.backend == "exact" and black.config.backend == "blackbox"
    assert black.config.fd_eps == pytest.approx(1e-3 * float(np.std(x)))
    assert np.median(field_cosines(exact, black)) >= 0.99
    np.testing.assert_array_equal(exact.classes, black.classes)


def test_callable_model_uses_blackbox_and_matches_onnx_blackbox() -> None:
    model, x = onnx_model("tanh_mlp"), inputs("tanh_mlp", 4)
    session = make_session(model.SerializeToString())

    def api(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"input": batch})[0])

    config = FieldConfig(n_steps=4)
    via_callable = compute_field(api, x, SECRET, config)
    via_onnx = compute_field(model, x, SECRET, FieldConfig(n_steps=4, backend="blackbox"))
    assert via_callable.estimator["name"] == "blackbox"
    assert "callable" in via_callable.estimator["reason"]
    np.testing.assert_allclose(via_callable.sketch, via_onnx.sketch, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("name", "kind"), [("relu_mlp", "dynamic"), ("cnn2d", "qdq"), ("cnn1d", "dynamic")]
)
def test_quantized_models_get_exact_straight_through_fields(name: str, kind: str) -> None:
    model, x = onnx.load(str(quantized_path(name, kind))), inputs(name, 4, seed=2)
    result = compute_field(model, x, SECRET, FieldConfig(n_steps=4, sketch_dim=16))
    assert result.config.backend == "exact"
    assert result.estimator["params"]["straight_through"] is True
    assert np.all(np.isfinite(result.sketch)) and np.abs(result.sketch).sum() > 0
    # the same quantized model measured black-box gets the larger (quantized) eps
    black = compute_field(
        model, x, SECRET, FieldConfig(n_steps=4, sketch_dim=16, backend="blackbox")
    )
    assert black.config.fd_eps == pytest.approx(0.1 * float(np.std(x)))
    assert np.median(field_cosines(result, black)) > 0.5


@pytest.mark.parametrize("name", ["cnn2d", "cnn1d"])
def test_channels_last_layout_changes_no_number_that_matters(name: str) -> None:
    """The layout is a speed choice only: fields with it on and off agree to float32
    rounding, and on a 1-D model (3-D tensors) it is not even switched on."""
    x = inputs(name, 6, seed=2)
    cfg = FieldConfig(n_steps=4)
    on = ExactBackend(onnx_model(name), channels_last=True)
    off = ExactBackend(onnx_model(name), channels_last=False)
    assert on.channels_last == (name == "cnn2d") and not off.channels_last
    a = compute_field(onnx_model(name), x, SECRET, cfg, backend=on, keep_full=True)
    b = compute_field(onnx_model(name), x, SECRET, cfg, backend=off, keep_full=True)
    assert a.full is not None and b.full is not None
    assert np.linalg.norm(a.full - b.full) <= 1e-5 * np.linalg.norm(b.full)


def test_fall_back_reason_logs_and_records_why_or_reraises_when_exact_was_asked(
        caplog: pytest.LogCaptureFixture) -> None:
    from modelgif.fingerprint.backends.select import fall_back_reason

    error = BackendError("op Foo has no torch conversion")
    with caplog.at_level(logging.WARNING):
        reason = fall_back_reason(error, "auto")
    assert reason == "exact backend unavailable, using black-box: op Foo has no torch conversion"
    assert reason in caplog.text
    with pytest.raises(BackendError, match="op Foo"):
        fall_back_reason(error, "exact")
