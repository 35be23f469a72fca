"""`modelgif zoo list|table|build` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelgif.cli import main
from modelgif.zoo import Zoo


def test_list_json_is_the_manifest(small_zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "list", str(small_zoo.root), "--category", "pruned", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [m["id"] for m in listed] == [m.id for m in small_zoo.select(category="pruned")]


def test_list_human(small_zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "list", str(small_zoo.root)]) == 0
    out = capsys.readouterr().out
    assert all(m.id in out for m in small_zoo.models)


def test_table_has_every_category(small_zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "table", str(small_zoo.root)]) == 0
    out = capsys.readouterr().out
    for category in {m.category for m in small_zoo.models}:
        assert f"| {category} |" in out


def test_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "list", str(tmp_path)]) == 2
    assert "zoo.json is missing" in capsys.readouterr().err
    (tmp_path / "zoo.json").write_text("{}")
    assert main(["zoo", "build", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "overwrite" in capsys.readouterr().err
