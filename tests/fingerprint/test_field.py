from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from modelgif.errors import InputError
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.field import FieldConfig, compute_field, field_cosines
from modelgif.fingerprint.quadrature import quadrature
from modelgif.fingerprint.sketch import jl_cosine_error

from .field_models import SHAPES, inputs, onnx_model, torch_model

SECRET = bytes(range(32))


def _torch_field(name: str, x: np.ndarray, n_steps: int) -> np.ndarray:
    """The reference definition, straight from the original torch model (not via ONNX)."""
    model = torch_model(name)
    q = quadrature("gauss-legendre", n_steps)
    classes = model(torch.from_numpy(x)).argmax(1)
    grads = []
    for a in q.nodes:
        xt = torch.from_numpy((a * x).astype(np.float32)).requires_grad_(True)
        out = model(xt).gather(1, classes[:, None]).sum()
        grads.append(torch.autograd.grad(out, xt)[0].numpy().reshape(len(x), -1))
    g = np.stack(grads, axis=1).astype(np.float64)  # (N, S, D)
    return np.cumsum(g * q.weights[None, :, None], axis=1) * x.reshape(len(x), 1, -1)


def test_config_round_trip_and_validation() -> None:
    cfg = FieldConfig(n_steps=8, target="class", target_class=3, fd_eps=0.01)
    assert FieldConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="Unknown"):
        FieldConfig.from_dict({**cfg.to_dict(), "extra": 1})
    with pytest.raises(InputError, match="'n_steps' parameter of FieldConfig"):
        FieldConfig(n_steps=0)
    with pytest.raises(InputError, match="'target_class'"):
        FieldConfig(target="class")
    with pytest.raises(InputError, match="'backend'"):
        FieldConfig(backend="gpu")


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
@pytest.mark.parametrize("name", ["cnn2d", "tf"])
def test_exact_field_of_onnx_equals_torch_models_field(name: str, exporter: str) -> None:
    x = inputs(name, 6, seed=7)
    result = compute_field(
        onnx_model(name, exporter), x, SECRET, FieldConfig(n_steps=8), keep_full=True
    )
    assert result.full is not None
    reference = _torch_field(name, x, 8)
    for ours, ref in zip(result.full.reshape(6 * 8, -1), reference.reshape(6 * 8, -1), strict=True):
        assert np.linalg.norm(ours - ref) <= 1e-4 * np.linalg.norm(ref)
    # the stored sketch is the projection of the full field
    np.testing.assert_allclose(
        result.sketch,
        result.projection.project(result.full),
        rtol=1e-4,
        atol=1e-6 * np.abs(result.sketch).max(),
    )


def test_small_input_is_sketched_by_a_secret_projection() -> None:
    x = inputs("tanh_mlp", 4)
    result = compute_field(
        onnx_model("tanh_mlp"), x, SECRET, FieldConfig(n_steps=4), keep_full=True
    )
    assert result.sketch.shape == (4, 4, 64) and not result.projection.is_identity
    assert result.full is not None and result.full.shape == (4, 4, 40)
    np.testing.assert_allclose(
        result.sketch, result.projection.project(result.full), rtol=1e-4,
        atol=1e-6 * np.abs(result.sketch).max(),
    )  # fmt: skip


def test_version_1_config_keeps_the_exact_field_of_a_small_input() -> None:
    x = inputs("tanh_mlp", 4)
    config = FieldConfig(n_steps=4, version=1)
    result = compute_field(onnx_model("tanh_mlp"), x, SECRET, config, keep_full=True)
    assert result.sketch.shape == (4, 4, 40) and result.projection.is_identity
    assert result.full is not None and result.config.version == 1
    np.testing.assert_allclose(result.sketch, result.full, rtol=1e-6)


@pytest.mark.parametrize("backend", ["exact", "blackbox"])
def test_completeness_error_is_small_on_a_smooth_float_model(backend: str) -> None:
    x = inputs("tanh_mlp", 16)
    result = compute_field(
        onnx_model("tanh_mlp"), x, SECRET, FieldConfig(n_steps=16, backend=backend)
    )
    assert result.completeness.summary()["max_relative"] < (1e-4 if backend == "exact" else 1e-2)


def test_completeness_error_shrinks_with_steps_on_relu_networks() -> None:
    x = inputs("cnn2d", 8)
    errors = [
        np.median(
            compute_field(
                onnx_model("cnn2d"), x, SECRET, FieldConfig(n_steps=n)
            ).completeness.abs_error
        )
        for n in (4, 32)
    ]
    assert errors[1] < errors[0]


def test_sketch_cosines_track_full_field_cosines() -> None:
    x = inputs("cnn2d", 16, seed=1)
    cfg = FieldConfig(n_steps=4, sketch_dim=128)
    a = compute_field(onnx_model("cnn2d", seed=0), x, SECRET, cfg, keep_full=True)
    b = compute_field(onnx_model("cnn2d", seed=1), x, SECRET, cfg, keep_full=True)
    assert a.full is not None and b.full is not None
    gap = np.abs(field_cosines(a, b) - field_cosines(a.full, b.full))
    assert gap.max() <= jl_cosine_error(128, gap.size, delta=1e-3) or gap.max() < 0.5
    assert np.sqrt(np.mean(gap**2)) < 1.5 / np.sqrt(128)


def test_deterministic_on_one_machine() -> None:
    x = inputs("cnn1d", 8)
    runs = [
        compute_field(onnx_model("cnn1d"), x, SECRET, FieldConfig(n_steps=4)).sketch
        for _ in range(2)
    ]
    assert runs[0].tobytes() == runs[1].tobytes()


def test_targets_and_progress() -> None:
    x = inputs("relu_mlp", 4)
    calls: list[tuple[int, int]] = []
    lse = compute_field(
        onnx_model("relu_mlp"),
        x,
        SECRET,
        FieldConfig(n_steps=4, target="logsumexp"),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (16, 16)
    assert np.all(lse.classes == -1)
    cls = compute_field(
        onnx_model("relu_mlp"), x, SECRET, FieldConfig(n_steps=4, target="class", target_class=2)
    )
    assert np.all(cls.classes == 2)
    assert np.median(field_cosines(lse, cls)) < 0.99


class _Permuted(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module, perm: torch.Tensor) -> None:
        super().__init__()
        self.inner, self.perm = inner, perm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[:, self.perm]


def _renamed(proto: onnx.ModelProto) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    names: dict[str, str] = {}

    def new(name: str) -> str:
        if name and name not in names:
            names[name] = f"t{len(names) * 7919 % 100003}"
        return names.get(name, name)

    graph = model.graph
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = new(value.name)
    for init in graph.initializer:
        init.name = new(init.name)
    for node in graph.node:
        node.name = f"n{len(names)}_{node.op_type}"
        node.input[:] = [new(n) for n in node.input]
        node.output[:] = [new(n) for n in node.output]
    return model


def _reordered(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Another valid topological order (latest-ready first) and reversed initializers."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    nodes = list(model.graph.node)
    known = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    order: list[onnx.NodeProto] = []
    while nodes:
        ready = [n for n in nodes if all(not i or i in known for i in n.input)]
        pick = ready[-1]
        order.append(pick)
        nodes.remove(pick)
        known.update(pick.output)
    del model.graph.node[:]
    model.graph.node.extend(order)
    inits = list(model.graph.initializer)[::-1]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    return model


def test_function_preserving_rewrites_leave_the_field_unchanged(tmp_path: object) -> None:
    name = "cnn2d"
    x = inputs(name, 8, seed=11)
    cfg = FieldConfig(n_steps=4, sketch_dim=32)
    original = compute_field(onnx_model(name), x, SECRET, cfg)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    relabelled_path = export_torch(
        _Permuted(torch_model(name), perm), torch.zeros(2, *SHAPES[name]), f"{tmp_path}/perm.onnx"
    )
    rewrites = {
        "re-exported (dynamo)": onnx_model(name, "dynamo"),
        "renamed": _renamed(onnx_model(name)),
        "reordered": _reordered(onnx_model(name)),
        "relabelled outputs": onnx.load(str(relabelled_path)),
    }
    for label, model in rewrites.items():
        field = compute_field(model, x, SECRET, cfg)
        assert field.config.backend == "exact", label
        assert field_cosines(original, field).min() >= 0.99, label
    other = compute_field(onnx_model(name, seed=1), x, SECRET, cfg)
    assert np.median(field_cosines(original, other)) < 0.9  # and an unrelated model differs


class _Shifted(torch.nn.Module):
    """The same classifier with a per-input constant added to every logit: the freedom a
    student distilled from the teacher's probabilities keeps (softmax cannot see it)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + 3.0 * torch.sin(x).sum(dim=1, keepdim=True)


@pytest.mark.parametrize("backend", ["exact", "blackbox"])
def test_logprob_target_ignores_a_per_input_logit_shift_that_top1_sees(
    backend: str, tmp_path: Path
) -> None:
    x = inputs("tanh_mlp", 6, seed=3)
    plain = onnx_model("tanh_mlp")
    exported = export_torch(
        _Shifted(torch_model("tanh_mlp")), torch.zeros(2, 40), tmp_path / "shifted.onnx"
    )
    shifted = onnx.load(str(exported))

    def fields(target: str) -> tuple[np.ndarray, np.ndarray]:
        cfg = FieldConfig(n_steps=4, target=target, backend=backend)
        a = compute_field(plain, x, SECRET, cfg)
        b = compute_field(shifted, x, SECRET, cfg)
        np.testing.assert_array_equal(a.classes, b.classes)  # the shift keeps the top-1
        return field_cosines(a, b), a.completeness.abs_error

    logprob, error = fields("logprob")
    top1, _ = fields("top1")
    assert logprob.min() > 0.999 and np.median(top1) < 0.9
    assert np.max(error) < (1e-4 if backend == "exact" else 1e-2)  # F is log p(top-1)
