"""The text branch of modelgif.verify: tiny BERT folders as their owners ship them, the
same verdict and record as the CLI's (the text calibration runs through the same workflow
in tests/fingerprint/test_text_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fingerprint.text_models import build_tokenizer, tiny_bert

import modelgif
from modelgif.cli import main
from modelgif.crypto.keys import generate_key, save_keypair
from modelgif.errors import InputError
from modelgif.fingerprint.text.fingerprint import TextSettings, create_text_fingerprint
from workflows.owner_case import stable


def test_text_verdict_equals_the_cli(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    tokenizer = build_tokenizer(tmp_path / "tokenizer.json")
    owner = tiny_bert(tmp_path / "owner", tokenizer, seed=0)
    key = generate_key()
    key_path, _ = save_keypair(key, tmp_path / "owner")
    mgf = tmp_path / "owner.mgf"
    create_text_fingerprint(owner, key, mgf,
                            settings=TextSettings(length=12, n_anchors=6, n_steps=3,
                                                  sketch_dim=16))
    other = tiny_bert(tmp_path / "other", tokenizer, seed=11)
    result = modelgif.verify(mgf, other, key=key_path)
    assert not result.verdict.calibrated and result.verdict.mean_similarity < 0.9
    hashed = [i["name"] for i in result.record["inputs"] if i["role"] == "suspect"]
    assert hashed == ["model.safetensors"]  # a folder: its weights are what is hashed
    code, out, err = main_json(capsys, "verify", mgf, other, "--key", key_path)
    assert code == 0, err
    assert stable({**out, "command": ""}) == stable({**result.record, "command": ""})
    with pytest.raises(InputError, match="text fingerprint"):
        modelgif.verify(mgf, other, key=key_path, query_budget=64)


def main_json(capsys: pytest.CaptureFixture[str], *argv: object
              ) -> tuple[int, dict[str, object], str]:
    code = main([str(a) for a in [*argv, "--json"]])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else {}, err
