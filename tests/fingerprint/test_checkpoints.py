"""Checkpoints where a model is expected: refused in one line, by name and by content, unread."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file
from tests.fingerprint.shipped_models import DigitsCNN, seeded

from modelgif.cli import main
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.normalize import normalize


def checkpoints(folder: Path) -> dict[str, Path]:
    """Real files as torch and safetensors write them, some under misleading names."""
    state = seeded(DigitsCNN()).state_dict()
    files = {"zip": folder / "model.pt", "renamed_zip": folder / "model.onnx",
             "legacy_pickle": folder / "weights.pth", "renamed_pickle": folder / "suspect.onnx",
             "safetensors": folder / "model.safetensors", "bin": folder / "pytorch_model.bin",
             "ckpt": folder / "last.ckpt"}
    torch.save(state, files["zip"])
    torch.save(state, files["renamed_zip"])
    torch.save(state, files["legacy_pickle"], _use_new_zipfile_serialization=False)
    files["renamed_pickle"].write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    save_file({k: v.numpy() for k, v in state.items()}, str(files["safetensors"]))
    files["bin"].write_bytes(np.arange(64, dtype=np.float32).tobytes())  # only its name says
    torch.save({"state_dict": state, "epoch": 3}, files["ckpt"])
    return files


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return checkpoints(tmp_path_factory.mktemp("checkpoints"))


def test_every_checkpoint_is_refused_without_unpickling(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a checkpoint was unpickled")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    for kind, path in files.items():
        with pytest.raises(ModelLoadError) as info:
            normalize(path)
        message = str(info.value)
        assert message.startswith(f"{path.name}: "), (kind, message)
        assert "not an ONNX model" in message and "torch.onnx.export" in message, kind
        assert "\n" not in message


def test_cli_names_the_export_in_one_line(files: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["normalize", str(files["renamed_pickle"]), "-o",
                 str(files["renamed_pickle"].with_suffix(".out.onnx"))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "a Python pickle" in err and "README" in err
