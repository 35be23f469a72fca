"""Hostile ONNX models through `modelgif normalize`: one line, exit 2, quick, nothing outside.

Each model is built here with onnx.helper; each test names the guard it exercises, and
fails when that guard is removed (the command would exit 0, hang, or print a traceback).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hostile.harness import (
    Outcome,
    assert_refused,
    external,
    float_output,
    if_with_branch,
    model_of,
    run_cli,
    save,
)
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.safe_onnx import Limits


def _normalize(path: Path, capsys: pytest.CaptureFixture[str]) -> Outcome:
    return run_cli(["normalize", str(path), "-o", str(path.with_suffix(".out.onnx"))], capsys)


def test_subgraph_initializer_cannot_read_the_current_directory(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The red team's case: an If-branch initializer at 'secret.bin', run where it lives."""
    weight = external("w", "secret.bin", [4])
    model = if_with_branch([helper.make_node("Identity", ["w"], ["b"])], [weight])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "'w' external data file 'secret.bin' is missing", outside, 60)


def test_subgraph_initializer_cannot_climb_out(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weight = external("w", "../outside/secret.bin", [4])
    model = if_with_branch([helper.make_node("Identity", ["w"], ["b"])], [weight])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "escapes the model's folder", outside, 60)


def test_function_constant_cannot_be_external(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Constant inside a local function, with external data pointing outside."""
    value = external("c", "../outside/secret.bin", [4])
    body = [helper.make_node("Constant", [], ["c"], value=value),
            helper.make_node("Add", ["a", "c"], ["r"])]
    function = helper.make_function("", "AddSecret", ["a"], ["r"], body,
                                    [helper.make_opsetid("", 17)])
    model = model_of([helper.make_node("AddSecret", ["x"], ["y"], domain="")],
                     functions=[function])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "escapes the model's folder", outside, 60)


def test_hard_link_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.link(outside / "secret.bin", models / "weights.bin")
    weight = external("w", "weights.bin", [4, 4])
    model = model_of([helper.make_node("MatMul", ["x", "w"], ["y"])], [weight])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "hard link or special file", outside, 60)


def test_fifo_as_external_data_is_refused_without_blocking(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(models / "weights.bin")
    weight = external("w", "weights.bin", [4, 4])
    model = model_of([helper.make_node("MatMul", ["x", "w"], ["y"])], [weight])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "hard link or special file", outside, 60)


def test_fifo_as_the_model_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(models / "m.onnx")
    outcome = _normalize(models / "m.onnx", capsys)
    assert_refused(outcome, "not a regular file", outside, 60)


def test_nan_weight_is_refused_by_name(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weight = numpy_helper.from_array(np.array([[np.nan] * 4] * 4, np.float32), "poisoned")
    model = model_of([helper.make_node("MatMul", ["x", "poisoned"], ["y"])], [weight])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "tensor 'poisoned' holds 16 NaN or infinite values", outside, 60)


def test_nan_output_fails_the_normalization_check(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """y = x + 0 * sqrt(0.3 - max|x|): NaN wherever the data leaves [-0.3, 0.3]."""
    limit = numpy_helper.from_array(np.array(0.3, np.float32), "limit")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    nodes = [helper.make_node("Abs", ["x"], ["a"]),
             helper.make_node("ReduceMax", ["a"], ["m"], keepdims=0),
             helper.make_node("Sub", ["limit", "m"], ["d"]),
             helper.make_node("Sqrt", ["d"], ["s"]),
             helper.make_node("Mul", ["zero", "s"], ["z"]),
             helper.make_node("Add", ["x", "z"], ["y"])]
    model = model_of(nodes, [limit, zero])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "returns NaN/Inf on 8 of 8 check inputs", outside, 60)


def test_nodes_hidden_in_a_branch_count(models: Path) -> None:
    """The node limit counts subgraph nodes: 1001 in each branch, If and Add (a small limit
    keeps the test fast)."""
    zero = numpy_helper.from_array(np.zeros(4, np.float32), "t0")
    chain = [helper.make_node("Identity", [f"t{i}"], [f"t{i + 1}"]) for i in range(1000)]
    chain.append(helper.make_node("Identity", ["t1000"], ["b"]))
    path = save(if_with_branch(chain, [zero]), models / "m.onnx")
    with pytest.raises(ModelLoadError, match="over 1000 nodes once subgraphs"):
        normalize(path, limits=Limits(max_nodes=1000))
    assert normalize(path, limits=Limits(max_nodes=2004)).digest.startswith("sha256:")


def test_string_tensors_are_sized_by_content(models: Path) -> None:
    """One declared element holding 2 MB of text counts as 2 MB."""
    text = helper.make_tensor("label", TensorProto.STRING, [1],
                              [b"x" * (2 << 20)])  # type: ignore[list-item]  # onnx's stub
    model = model_of([helper.make_node("Relu", ["x"], ["y"])], [text])
    path = save(model, models / "m.onnx")
    with pytest.raises(ModelLoadError, match="tensor 'label' declares 2097160 bytes"):
        normalize(path, limits=Limits(max_tensor_bytes=1 << 20))


def _nested_functions(depth: int) -> list[onnx.FunctionProto]:
    opset = [helper.make_opsetid("", 17)]
    functions = [helper.make_function("", "F0", ["a"], ["r"],
                                      [helper.make_node("Relu", ["a"], ["r"])], opset)]
    for level in range(1, depth):
        body = [helper.make_node(f"F{level - 1}", ["a"], ["h"], domain=""),
                helper.make_node(f"F{level - 1}", ["h"], ["r"], domain="")]
        functions.append(helper.make_function("", f"F{level}", ["a"], ["r"], body, opset))
    return functions


def test_nested_functions_are_counted_before_inlining(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """40 levels of two calls each: 2^39 nodes after inlining, from a file of a few KB."""
    model = model_of([helper.make_node("F39", ["x"], ["y"], domain="")],
                     functions=_nested_functions(40))
    path = save(model, models / "m.onnx")
    assert path.stat().st_size < 10_000
    outcome = _normalize(path, capsys)
    assert_refused(outcome, "over 200000 nodes", outside, 30)


def test_recursive_function_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opset = [helper.make_opsetid("", 17)]
    loop = helper.make_function("", "Ouro", ["a"], ["r"],
                                [helper.make_node("Ouro", ["a"], ["r"], domain="")], opset)
    model = model_of([helper.make_node("Ouro", ["x"], ["y"], domain="")], functions=[loop])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "local function 'Ouro' calls itself", outside, 30)


def test_endless_loop_hits_the_wall_time_budget(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Loop of 1e12 trips; the budget kills it after 3 s."""
    monkeypatch.setenv("MODELGIF_BUDGET_SECONDS", "3")
    body_out = helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [4])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "one"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), body_out],
        initializer=[numpy_helper.from_array(np.ones(4, np.float32), "one")],
    )
    trips = numpy_helper.from_array(np.array(10**12, np.int64), "trips")
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    start = numpy_helper.from_array(np.zeros(4, np.float32), "start")
    nodes = [helper.make_node("Loop", ["trips", "cond", "start"], ["acc"], body=body),
             helper.make_node("Add", ["x", "acc"], ["y"])]
    model = model_of(nodes, [trips, cond, start])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "model exceeded the 3 s budget", outside, 30)


def test_constant_of_shape_bomb_hits_the_memory_budget(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ConstantOfShape([1e9]) of float32: 4 GB from a 200-byte file, past a 2 GiB budget."""
    monkeypatch.setenv("MODELGIF_BUDGET_MEMORY_GIB", "2")
    shape = numpy_helper.from_array(np.array([10**9], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"],
                              value=numpy_helper.from_array(np.array([1.0], np.float32))),
             helper.make_node("ReduceSum", ["c"], ["s"], keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"])]
    path = save(model_of(nodes, [shape]), models / "m.onnx")
    assert path.stat().st_size < 400
    outcome = _normalize(path, capsys)
    assert_refused(outcome, "2 GiB memory budget", outside, 60)


def test_huge_declared_input_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 10**8])]
    model = model_of([helper.make_node("Relu", ["x"], ["y"])], inputs=inputs,
                     output=float_output("y", ["batch", 10**8]))
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "over 16777216 values per sample", outside, 60)


def test_integer_output_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = helper.make_tensor_value_info("y", TensorProto.INT64, ["batch", 4])
    model = model_of([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT64)], output=out)
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "output 'y' is int64", outside, 60)


def test_batch_reduced_output_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = model_of([helper.make_node("ReduceSum", ["x"], ["y"], keepdims=0)],
                     output=float_output("y", []))
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "does not keep the batch dimension", outside, 60)


def test_out_of_range_gather_is_one_line(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = numpy_helper.from_array(np.array([0, 1, 2, 99], np.int64), "index")
    model = model_of([helper.make_node("Gather", ["x", "index"], ["y"], axis=1)], [index])
    outcome = _normalize(save(model, models / "m.onnx"), capsys)
    assert_refused(outcome, "onnxruntime cannot", outside, 60)


def test_infinite_input_range_is_refused(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = model_of([helper.make_node("Relu", ["x"], ["y"])])
    path = save(model, models / "m.onnx")
    outcome = run_cli(["normalize", str(path), "-o", str(models / "o.onnx"),
                       "--input-range=-inf,inf"], capsys)
    assert_refused(outcome, "must be finite", outside, 60)
    assert not (models / "o.onnx").exists()


def _weight(name: str, seed: int) -> TensorProto:
    values = np.random.default_rng(seed).normal(size=(4, 4)).astype(np.float32)
    return numpy_helper.from_array(values, name)


def _external_at(offset: int) -> onnx.ModelProto:
    weight = external("w", "w.bin", [4, 4])
    weight.external_data.add(key="offset", value=str(offset))
    return model_of([helper.make_node("MatMul", ["x", "w"], ["y"])], [weight])


MORE_MODELS: dict[str, tuple[Callable[[], onnx.ModelProto], str]] = {
    # which of the two a runtime takes is not defined: the digest would not name one function
    "duplicate_initializers": (
        lambda: model_of([helper.make_node("MatMul", ["x", "w"], ["y"])],
                         [_weight("w", 0), _weight("w", 1)]),
        "two initializers are named 'w'"),
    # was a WARNING line from the opset converter, then the error: two lines
    "unknown_opset": (
        lambda: helper.make_model(model_of([helper.make_node("Relu", ["x"], ["y"])]).graph,
                                  opset_imports=[helper.make_opsetid("", 999)]),
        "ONNX opset 999 is not one this onnx knows"),
    "negative_external_offset": (lambda: _external_at(-1000), "negative external offset"),
}


@pytest.mark.parametrize("case", sorted(MORE_MODELS))
def test_more_hostile_models(case: str, models: Path, outside: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    build, expected = MORE_MODELS[case]
    (models / "w.bin").write_bytes(bytes(64))
    outcome = _normalize(save(build(), models / "m.onnx"), capsys)
    assert_refused(outcome, expected, outside, 60)
