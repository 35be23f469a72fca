"""The public surface: __all__ is complete and importable; the CLI's top level behaves."""

from __future__ import annotations

import importlib

import pytest

import modelgif
from modelgif.cli import main

PACKAGES = ["modelgif", "modelgif.fingerprint", "modelgif.verifiers", "modelgif.reports",
            "modelgif.zoo"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_resolve_and_modules_are_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and len(module.__doc__.strip()) > 40
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.{exported} is in __all__ but missing"


def test_version_is_a_string() -> None:
    assert modelgif.__version__.count(".") == 2


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: modelgif" in capsys.readouterr().err


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["normalize", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--input-range" in out


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
