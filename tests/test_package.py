"""The package's version and the CLI's top level (the surface itself: test_public_api.py)."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata

import pytest

import modelgif
from modelgif.cli import build_parser, main


def test_version_is_the_installed_distributions() -> None:
    """__version__ goes into every signed file's tool list: it must be the package's own."""
    assert modelgif.__version__ == importlib.metadata.version("modelgif")


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


@pytest.mark.parametrize("argv", [["verify"], ["fingerprint", "m.onnx", "--steps", "x"],
                                  ["nonsense"], ["report", "--bogus"]])
def test_a_usage_error_is_one_line_and_exit_2(argv: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "error:" in err and "--help" in err


def _commands(parser: argparse.ArgumentParser, name: str) -> list[tuple[str, str]]:
    found = [(name, parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _commands(sub, f"{name} {sub_name}")
    return found


def test_every_help_fits_a_terminal() -> None:
    """No `--help` line over 100 columns: a description argparse was told not to wrap, or an
    example whose trailing backslash Python swallowed (joining two lines), would exceed it."""
    helps = _commands(build_parser(), "modelgif")
    assert len(helps) > 15
    for name, text in helps:
        long = [line for line in text.splitlines() if len(line) > 100]
        assert not long, (name, long)
