"""Hostile model files: each gives ONE clear line and exit code 2; nothing outside is read.

Every file is built here, by the test, from a real exported model or onnx.helper.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from hostile.harness import recorded_opens
from model_factory import make_model
from modelgif.cli import main
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.export import export_torch
from modelgif.fingerprint.normalize import normalize
from modelgif.fingerprint.safe_onnx import Limits


def _valid_model(folder: Path) -> Path:
    module, example = make_model("mlp")
    return export_torch(module, example, folder / "valid.onnx")


def _tiny_graph(
    inputs: list[onnx.ValueInfoProto],
    nodes: list[onnx.NodeProto],
    initializers: list[TensorProto] | None = None,
    domains: list[tuple[str, int]] | None = None,
) -> onnx.ModelProto:
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph(nodes, "g", inputs, [output], initializer=initializers or [])
    opsets = [helper.make_opsetid(d, v) for d, v in (domains or [("", 17)])]
    return helper.make_model(graph, opset_imports=opsets)


def _external_weight() -> TensorProto:
    return TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4])


def _float_input(name: str = "x", shape: list[int | str] | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape or ["batch", 4])


def garbage(folder: Path) -> tuple[Path, str]:
    path = folder / "garbage.onnx"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    return path, "not a valid ONNX protobuf"


def truncated(folder: Path) -> tuple[Path, str]:
    data = _valid_model(folder).read_bytes()
    path = folder / "truncated.onnx"
    path.write_bytes(data[: len(data) - 1500])
    return path, "not a valid ONNX protobuf"


def escaping_external_data(folder: Path) -> tuple[Path, str]:
    weight = _external_weight()
    weight.data_location = TensorProto.EXTERNAL
    for key, value in {"location": "../outside/secret.bin", "offset": "0", "length": "64"}.items():
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    model = _tiny_graph([_float_input()], [helper.make_node("MatMul", ["x", "w"], ["y"])],
                        [weight])
    path = folder / "escaping.onnx"
    path.write_bytes(model.SerializeToString())
    return path, "'w' external data location '../outside/secret.bin' escapes"


def symlink_escape(folder: Path) -> tuple[Path, str]:
    link = folder / "weights.bin"
    if not link.exists():
        link.symlink_to(folder.parent / "outside" / "secret.bin")
    weight = _external_weight()
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    model = _tiny_graph([_float_input()], [helper.make_node("MatMul", ["x", "w"], ["y"])],
                        [weight])
    path = folder / "symlink.onnx"
    path.write_bytes(model.SerializeToString())
    return path, "'w' external data location 'weights.bin' escapes"


def huge_initializer(folder: Path) -> tuple[Path, str]:
    weight = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[200_000, 200_000])
    weight.raw_data = b"\x00" * 16
    model = _tiny_graph([_float_input()], [helper.make_node("MatMul", ["x", "huge"], ["y"])],
                        [weight])
    path = folder / "huge.onnx"
    path.write_bytes(model.SerializeToString())
    return path, "tensor 'huge' declares"


def unknown_domain(folder: Path) -> tuple[Path, str]:
    node = helper.make_node("Backdoor", ["x"], ["y"], name="evil_node", domain="com.attacker")
    model = _tiny_graph([_float_input()], [node], domains=[("", 17), ("com.attacker", 1)])
    path = folder / "domain.onnx"
    path.write_bytes(model.SerializeToString())
    return path, "domain 'com.attacker'"


def integer_input(folder: Path) -> tuple[Path, str]:
    tokens = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", 4])
    nodes = [helper.make_node("Cast", ["tokens"], ["y"], to=TensorProto.FLOAT)]
    path = folder / "integer.onnx"
    path.write_bytes(_tiny_graph([tokens], nodes).SerializeToString())
    return path, "input 'tokens' is int64"


def two_inputs(folder: Path) -> tuple[Path, str]:
    nodes = [helper.make_node("Add", ["a", "b"], ["y"])]
    path = folder / "two_inputs.onnx"
    path.write_bytes(_tiny_graph([_float_input("a"), _float_input("b")], nodes)
                     .SerializeToString())
    return path, "model has 2 inputs ('a', 'b')"


def missing_shape(folder: Path) -> tuple[Path, str]:
    shapeless = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    path = folder / "shapeless.onnx"
    path.write_bytes(_tiny_graph([shapeless], [helper.make_node("Relu", ["x"], ["y"])])
                     .SerializeToString())
    return path, "input 'x' has no declared shape"


def past_end_of_data(folder: Path) -> tuple[Path, str]:
    (folder / "short.bin").write_bytes(b"\x00" * 8)
    weight = _external_weight()
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "short.bin"
    model = _tiny_graph([_float_input()], [helper.make_node("MatMul", ["x", "w"], ["y"])],
                        [weight])
    path = folder / "past_end.onnx"
    path.write_bytes(model.SerializeToString())
    return path, "'w' reads past the end of 'short.bin'"


HOSTILE: list[Callable[[Path], tuple[Path, str]]] = [
    garbage, truncated, escaping_external_data, symlink_escape, huge_initializer,
    unknown_domain, integer_input, two_inputs, missing_shape, past_end_of_data,
]


@pytest.fixture()
def hostile_folder(tmp_path: Path) -> Path:
    """tmp/models/ holds the hostile files; tmp/outside/secret.bin must never be opened."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.bin").write_bytes(b"\x01" * 64)
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


@pytest.mark.parametrize("make", HOSTILE, ids=[f.__name__ for f in HOSTILE])
def test_hostile_file_gives_one_line_and_exit_2(
    make: Callable[[Path], tuple[Path, str]],
    hostile_folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, expected = make(hostile_folder)
    secret = os.path.realpath(hostile_folder.parent / "outside" / "secret.bin")
    with recorded_opens() as opened:
        code = main(["normalize", str(path), "-o", str(hostile_folder / "out.onnx")])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("modelgif: error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert secret not in opened
    outside = [p for p in opened if p.startswith(str(hostile_folder.parent))
               and not p.startswith(os.path.realpath(hostile_folder))]
    assert outside == []
    assert not (hostile_folder / "out.onnx").exists()


def test_memory_limit_is_checked_before_reading(tmp_path: Path) -> None:
    """A model just over a small limit is refused by declared size alone."""
    module, example = make_model("mlp")
    path = export_torch(module, example, tmp_path / "m.onnx")
    with pytest.raises(ModelLoadError, match="over the limit"):
        normalize(path, limits=Limits(max_tensor_bytes=1000))
    assert normalize(path).digest.startswith("sha256:")


def test_console_script_reports_one_line(hostile_folder: Path) -> None:
    """The installed entry point, not only main(): exit 2, one line, no traceback."""
    path, expected = unknown_domain(hostile_folder)
    result = subprocess.run(
        [sys.executable, "-m", "modelgif", "normalize", str(path), "-o", "x.onnx"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and expected in result.stderr
