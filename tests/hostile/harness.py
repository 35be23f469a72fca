"""Driving the CLI on hostile input: one stderr line, exit 2, bounded time, no read outside.

`folder` fixtures: tmp/models/ holds the hostile files, tmp/outside/secret.bin (and the
owner's key in tmp/outside/) must never be opened by a command run on tmp/models/.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from modelgif.cli import main

SECRET = b"\x01" * 64


@contextmanager
def recorded_opens() -> Iterator[list[str]]:
    """Every path opened inside the block (sys audit hook 'open'), in this process AND in
    the forked children that budget.py runs computations in: the hook appends to a log
    file through a descriptor the children inherit."""
    log_fd, log_path = tempfile.mkstemp(prefix="modelgif-opens-")
    os.set_inheritable(log_fd, True)
    active = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if active[0] and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            os.write(log_fd, os.fsencode(os.path.realpath(os.fsdecode(args[0]))) + b"\n")

    sys.addaudithook(hook)
    opened: list[str] = []
    try:
        yield opened
    finally:
        active[0] = False
        os.close(log_fd)
        with open(log_path, "rb") as handle:
            opened.extend(os.fsdecode(line) for line in handle.read().splitlines())
        os.unlink(log_path)


@dataclass(frozen=True)
class Outcome:
    code: int
    lines: list[str]
    out: str
    seconds: float
    opened: list[str]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    capsys.readouterr()
    start = time.monotonic()
    with recorded_opens() as opened:
        code = main(argv)
    captured = capsys.readouterr()
    return Outcome(code, captured.err.strip().splitlines(), captured.out,
                   time.monotonic() - start, opened)


def assert_refused(outcome: Outcome, expected: str, outside: Path, max_seconds: float) -> None:
    """Exit 2, exactly one 'modelgif: error:' line containing `expected`, quick, confined."""
    assert outcome.code == 2, outcome
    assert len(outcome.lines) == 1, outcome.lines
    assert outcome.lines[0].startswith("modelgif: error: "), outcome.lines
    assert expected in outcome.lines[0], outcome.lines[0]
    assert outcome.seconds < max_seconds, outcome.seconds
    inside_outside = [p for p in outcome.opened if p.startswith(os.path.realpath(outside))]
    assert inside_outside == [], inside_outside


def float_input(name: str = "x", shape: list[int | str] | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape or ["batch", 4])


def float_output(name: str = "y", shape: list[int | str] | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(
        name, TensorProto.FLOAT, ["batch", 4] if shape is None else shape
    )


def model_of(
    nodes: list[onnx.NodeProto],
    initializers: list[TensorProto] | None = None,
    output: onnx.ValueInfoProto | None = None,
    functions: list[onnx.FunctionProto] | None = None,
    inputs: list[onnx.ValueInfoProto] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs or [float_input()], [output or float_output()],
                              initializer=initializers or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             functions=functions or [])


def external(name: str, location: str, dims: list[int] | None = None) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims or [4])
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def if_with_branch(branch_nodes: list[onnx.NodeProto],
                   branch_initializers: list[TensorProto] | None = None) -> onnx.ModelProto:
    """y = x + If(true){branch: b}: the branch computes tensor 'b' of shape [4]."""
    out = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])
    branch = helper.make_graph(branch_nodes, "branch", [], [out],
                               initializer=branch_initializers or [])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    nodes = [helper.make_node("If", ["cond"], ["b"], then_branch=branch, else_branch=branch),
             helper.make_node("Add", ["x", "b"], ["y"])]
    return model_of(nodes, [cond])


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path
