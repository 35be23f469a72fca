"""Hostile suspects for scan tests: a real ONNX file that hangs onnxruntime, and a
TEST-ONLY work function that crashes its worker with os.abort() on a marked suspect."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelgif.scan.jobs import ScanJob
from modelgif.scan.work import decide_suspect

CRASH_MARKER = "crash-me"  # a suspect whose name contains this aborts its worker


def hanging_model(path: Path, width: int = 40, trip_count: int = 10**15) -> Path:
    """x[batch, width] -> Loop(trip_count) { v + 0 } -> logits: valid ONNX that never ends."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "zero"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["batch", width])],
        [numpy_helper.from_array(np.zeros((1, width), np.float32), "zero")],
    )
    weight = np.random.default_rng(0).standard_normal((width, 10)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "always", "x"], ["looped"], body=body),
         helper.make_node("MatMul", ["looped", "w"], ["logits"])],
        "hang",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(np.array(trip_count, np.int64), "trips"),
         numpy_helper.from_array(np.array(True), "always"),
         numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def crashing_work(jobs: Sequence[ScanJob], name: str, path: str, backend: str = "auto",
                  cache: str | None = None) -> Iterator[dict[str, Any]]:
    """TEST ONLY: decide_suspect, except that a marked suspect aborts the worker process
    (a real SIGABRT, as a crashing onnxruntime would give)."""
    if CRASH_MARKER in name:
        os.abort()
    yield from decide_suspect(jobs, name, path, backend, cache)


def thread_report_work(jobs: Sequence[ScanJob], name: str, path: str, backend: str = "auto",
                       cache: str | None = None) -> Iterator[dict[str, Any]]:
    """TEST ONLY: one line per suspect saying how many threads this worker's math uses."""
    import torch

    from modelgif.runtime import make_session

    session = make_session(onnx.load(path).SerializeToString(), ["CPUExecutionProvider"])
    options = session.get_session_options()
    yield {"kind": "pair", "fingerprint": jobs[0].fingerprint_id, "name": name,
           "torch_threads": torch.get_num_threads(),
           "ort_threads": options.intra_op_num_threads}
