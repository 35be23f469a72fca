"""The README's "bring your own torch model" snippet, run exactly as printed."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest
from tests.fingerprint.shipped_models import DigitsCNN, seeded

README = Path(__file__).resolve().parents[2] / "README.md"


def snippet() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- byo-torch-snippet -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its bring-your-own-torch-model snippet"
    return found.group(1)


def test_readme_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = snippet()
    assert len([line for line in code.splitlines() if not line.startswith("#")]) == 4
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"MyDigitsCNN": lambda: seeded(DigitsCNN())})
    digest = printed.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), printed.getvalue()
    assert sorted(os.listdir(tmp_path)) == ["owner.onnx", "owner.onnx.data"]
