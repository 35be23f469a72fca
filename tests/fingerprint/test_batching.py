"""Fixed-batch exports: rewritten and checked, run per sample, or refused in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from tests.fingerprint.shipped_models import BatchBoundCNN, DigitsCNN, default_export, seeded

from modelgif.errors import ModelLoadError
from modelgif.fingerprint.normalize import normalize
from modelgif.runtime import make_session

ROOT = Path(__file__).resolve().parents[2]


def per_sample(module: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([module(x[i:i + 1]) for i in range(len(x))]).numpy()


def run_normalized(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    session = make_session(model_bytes)
    return np.asarray(session.run(None, {"input": x})[0])


def batch_of(n: int) -> torch.Tensor:
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(n))


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
@pytest.mark.parametrize("fixed", [1, 8])
def test_fixed_batch_is_rewritten_and_checked(tmp_path: Path, dynamo: bool, fixed: int) -> None:
    module = seeded(DigitsCNN())
    path = default_export(module, batch_of(fixed), tmp_path / "owner.onnx", dynamo)
    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type
    assert dims.shape.dim[0].dim_value == fixed  # the exporter really fixed the batch
    normalized = normalize(path)
    assert any("made dynamic" in note for note in normalized.notes), normalized.notes
    ops = {n.op_type for n in normalized.model.graph.node}
    assert "Scan" not in ops  # a plain graph: the exact backend can take it
    x = batch_of(7)
    got = run_normalized(normalized.to_bytes(), x.numpy())
    assert np.allclose(got, per_sample(module, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "legacy"])
def test_batch_bound_model_at_batch_one_runs_per_sample(tmp_path: Path, dynamo: bool) -> None:
    module = seeded(BatchBoundCNN())
    path = default_export(module, batch_of(1), tmp_path / "owner.onnx", dynamo)
    normalized = normalize(path)
    assert any("one sample at a time" in note for note in normalized.notes), normalized.notes
    assert [n.op_type for n in normalized.model.graph.node] == ["Scan"]
    x = batch_of(5)
    got = run_normalized(normalized.to_bytes(), x.numpy())
    assert got.shape == (5, 10)
    assert np.allclose(got, per_sample(module, x), rtol=1e-4, atol=1e-5)
    # the per-sample graph is canonical too: saving and re-reading changes nothing
    again = normalize(normalized.to_bytes())
    assert again.digest == normalized.digest


def test_batch_bound_model_at_batch_eight_is_refused(tmp_path: Path) -> None:
    module = seeded(BatchBoundCNN())
    path = default_export(module, batch_of(8), tmp_path / "owner8.onnx")
    with pytest.raises(ModelLoadError) as info:
        normalize(path)
    message = str(info.value)
    assert message.startswith("owner8.onnx: onnxruntime cannot run this model at a batch "
                              "other than 8")
    assert "dynamic_shapes" in message and "\n" not in message


def cli(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process, so onnxruntime's C++ stderr would show."""
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "modelgif", *map(str, argv)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_cli_refusal_is_one_line_and_onnxruntime_stays_quiet(tmp_path: Path) -> None:
    module = seeded(BatchBoundCNN())
    default_export(module, batch_of(8), tmp_path / "suspect.onnx")
    # the legacy exporter with a dynamic axis DECLARED, but the graph only runs at batch 1
    liar = seeded(BatchBoundCNN(rows=1))
    default_export(liar, batch_of(1), tmp_path / "liar.onnx", dynamo=False,
                   input_names=["x"], dynamic_axes={"x": {0: "n"}})
    for name, expected in [("suspect.onnx", "at a batch other than 8 ("),
                           ("liar.onnx", "at batch 8 (")]:
        done = cli("normalize", name, "-o", "out.onnx", cwd=tmp_path)
        lines = done.stderr.splitlines()
        assert done.returncode == 2, done.stderr
        assert len(lines) == 1, done.stderr  # no onnxruntime log line, no traceback
        assert lines[0].startswith(f"modelgif: error: {name}: onnxruntime cannot run this "
                                   "model"), lines[0]
        assert expected in lines[0] and "re-export with a dynamic batch" in lines[0]
        assert "[ONNXRuntimeError]" not in lines[0]
