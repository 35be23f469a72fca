"""Several outputs: the owner picks one, the fingerprint records it, suspects match it by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.fingerprint.shipped_models import TwoHeads, default_export, seeded

from modelgif.crypto.keys import generate_key
from modelgif.errors import ModelLoadError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig
from modelgif.fingerprint.normalize import normalize
from modelgif.runtime import make_session
from modelgif.verifiers.ownership import compare_suspect


class Swapped(torch.nn.Module):
    """The same function with its outputs in the other order and other names."""

    def __init__(self, inner: TwoHeads) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, logits = self.inner(x)
        return logits, features


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[TwoHeads, Path, Path]:
    folder = tmp_path_factory.mktemp("heads")
    module = seeded(TwoHeads())
    x = torch.randn(1, 20)
    owner = default_export(module, x, folder / "owner.onnx", dynamo=False,
                           input_names=["x"], output_names=["features", "logits"],
                           dynamic_axes={"x": {0: "n"}})
    suspect = default_export(Swapped(module), x, folder / "suspect.onnx", dynamo=False,
                             input_names=["x"], output_names=["logits", "embedding"],
                             dynamic_axes={"x": {0: "n"}})
    return module, owner, suspect  # type: ignore[return-value]


def test_the_named_output_is_kept(files: tuple[TwoHeads, Path, Path]) -> None:
    module, owner, _ = files
    first, logits = normalize(owner), normalize(owner, output="logits")
    assert first.output_name == "features" and logits.output_name == "logits"
    assert first.digest != logits.digest and len(logits.model.graph.output) == 1
    x = np.random.default_rng(0).standard_normal((3, 20)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[1].numpy()
    got = make_session(logits.to_bytes()).run(None, {"input": x})[0]
    assert np.allclose(got, expected, atol=1e-5)
    with pytest.raises(ModelLoadError, match="no output 'scores'; its outputs: features, logits"):
        normalize(owner, output="scores")
    assert normalize(owner, output="scores", strict_output=False).output_name == "features"


def test_fingerprint_records_the_output_and_the_suspect_matches_by_name(
    files: tuple[TwoHeads, Path, Path], tmp_path: Path
) -> None:
    _, owner, suspect = files
    key = generate_key()
    fingerprint = create_fingerprint(owner, key, tmp_path / "o.mgf", output_name="logits",
                                     anchor_config=AnchorConfig(n_anchors=8, source="synthetic"),
                                     field_config=FieldConfig(n_steps=4, sketch_dim=8),
                                     input_range=(-2.0, 2.0))
    assert fingerprint.config["model_output"] == "logits"
    secrets = open_secrets(fingerprint, key)
    same = compare_suspect(fingerprint, secrets, suspect)  # its 'logits' is its FIRST output
    assert float(np.mean(same.cosines)) > 0.999
