"""`modelgif zoo list|table|build`, parsed by cmd_zoo's own subparser.

The command is exercised without the other commands' modules, so these tests do not depend
on the rest of the CLI; `modelgif.cli.main` maps the InputErrors below to exit code 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from modelgif.cli import cmd_zoo
from modelgif.errors import InputError
from modelgif.zoo import Zoo


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="modelgif")
    cmd_zoo.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_list_json_is_the_manifest(small_zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["zoo", "list", str(small_zoo.root), "--category", "pruned", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [m["id"] for m in listed] == [m.id for m in small_zoo.select(category="pruned")]


def test_list_human(small_zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["zoo", "list", str(small_zoo.root)]) == 0
    out = capsys.readouterr().out
    assert all(m.id in out for m in small_zoo.models)


def test_table_has_every_category(small_zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["zoo", "table", str(small_zoo.root)]) == 0
    out = capsys.readouterr().out
    for category in {m.category for m in small_zoo.models}:
        assert f"| {category} |" in out


def test_unusable_input_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"zoo\.json is missing"):
        _run(["zoo", "list", str(tmp_path)])
    (tmp_path / "zoo.json").write_text("{}")
    with pytest.raises(InputError, match="overwrite"):
        _run(["zoo", "build", "--out", str(tmp_path), "--no-progress"])
    with pytest.raises(InputError, match="workers"):
        _run(["zoo", "build", "--out", str(tmp_path / "new"), "--workers", "0"])
