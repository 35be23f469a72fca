"""onnx's own node test cases, run through the interpreter.

The cases come from the installed onnx package (onnx.backend.test.case.node: the code that
writes onnx's backend test data, run in memory; the wheel does not ship the data files).
Every case whose ops the interpreter claims to support is run as written (its own opset,
its own input types) and must either match onnx's expected outputs, with the tolerances of
onnx's backend runner, or be declared unsupported: an `Unsupported` error, which sends a
model to the black-box backend, for a case listed in DECLARED with the reason. A wrong value,
a crash inside torch, an undeclared refusal and a stale DECLARED entry all fail.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from modelgif.fingerprint.ops import QUANTIZATION_OPS, SUPPORTED_OPS
from modelgif.fingerprint.ops.base import Unsupported, tensor_from_proto
from modelgif.fingerprint.torch_graph import Interpreter, graph_ops

with warnings.catch_warnings():  # the generators overflow casts on purpose
    warnings.simplefilter("ignore")
    from onnx.backend.test.case.node import collect_testcases

    ALL_CASES = collect_testcases()

CASES = [c for c in ALL_CASES if graph_ops(c.model) <= SUPPORTED_OPS]

# name pattern (re.search) -> why the interpreter declares those cases unsupported
DECLARED: dict[str, str] = {
    r"(?i)float[48]|e4m3|e5m2|(?<![0-9])u?int[24](?![0-9])": "8-, 4- and 2-bit types",
    r"(?i)uint(16|32|64)": "unsigned 16/32/64-bit integers",
    r"string": "strings",
    r"_sequence|_opt$|optional": "non-tensor graph values",
    r"training_dropout": "training-mode Dropout (random)",
    r"batchnorm_.*training_mode": "training-mode BatchNormalization",
    r"_blocked": "blocked quantization",
    r"maxpool_with_argmax": "MaxPool's indices output",
    r"averagepool_2d_(same_upper|same_lower|pads|pads_count_include_pad|dilations)$"
    r"|averagepool_3d_dilations": "AveragePool with dilations, asymmetric or large pads",
    r"convtranspose_(output_shape|kernel_shape|autopad_same)": "ConvTranspose output shapes",
}


def _declared(name: str) -> str | None:
    return next((why for pattern, why in DECLARED.items() if re.search(pattern, name)), None)


def _torch_input(value: Any) -> torch.Tensor:
    proto = value if isinstance(value, onnx.TensorProto) else numpy_helper.from_array(value)
    return tensor_from_proto(proto)


def _numpy(value: Any) -> np.ndarray:
    return numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else value


def _compare(ours: torch.Tensor, ref: np.ndarray, case: Any) -> None:
    """onnx's backend runner's check: shape, dtype, then allclose at the case's tolerance."""
    assert tuple(ours.shape) == ref.shape
    rtol = case.rtol
    if ours.dtype == torch.bfloat16:
        assert ref.dtype.name == "bfloat16"
        got, ref, rtol = ours.float().numpy(), ref.astype(np.float32), max(rtol, 2**-6)
    else:
        got = ours.detach().numpy()
        if got.dtype == np.float16:  # two float16 ULPs, as the runner allows for bfloat16
            rtol = max(rtol, 2**-9)
        if got.dtype != ref.dtype and graph_ops(case.model) & QUANTIZATION_OPS:
            # quantized values are float tensors holding integers (straight-through grads)
            assert got.dtype.kind == "f" and ref.dtype.kind in "iu"
            np.testing.assert_array_equal(got, np.round(got))
            got = got.astype(ref.dtype)
        assert got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=case.atol)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case_matches_onnx_or_is_declared_unsupported(case: Any) -> None:
    inputs, expected = case.data_sets[0]
    why = _declared(case.name)
    try:
        interpreter = Interpreter(case.model)
        with torch.no_grad():
            outputs = interpreter.run(*[_torch_input(v) for v in inputs])
    except Unsupported:
        assert why is not None, "declared unsupported, but not listed in DECLARED"
        return
    assert why is None, f"DECLARED says {why!r}, but the case ran"
    assert len(outputs) == len(expected)
    for ours, ref in zip(outputs, expected, strict=True):
        _compare(ours, _numpy(ref), case)


def test_the_selection_covers_the_interpreter() -> None:
    """Guard against a vacuous run: most ops have cases, and every DECLARED entry is used."""
    covered = set().union(*(graph_ops(c.model) for c in CASES))
    assert len(CASES) > 900
    assert len(covered) >= 0.9 * len(SUPPORTED_OPS)
    for pattern in DECLARED:
        assert any(re.search(pattern, c.name) for c in CASES), pattern
