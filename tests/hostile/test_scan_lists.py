"""Hostile suspect lists: a repeated name is refused at its line, before 100,000 more lines
are resolved on the file system (a manifest of one repeated path took 46 s to refuse)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from modelgif.errors import InputError
from modelgif.scan.suspects import list_suspects


def test_repeated_manifest_line_is_refused_at_its_line(models: Path) -> None:
    (models / "a.onnx").write_bytes(b"onnx")
    manifest = models / "m.jsonl"
    manifest.write_text((json.dumps({"path": "a.onnx"}) + "\n") * 100_000)
    start = time.monotonic()
    with pytest.raises(InputError, match=r"m\.jsonl:2: the suspect 'a\.onnx' is listed twice"):
        list_suspects(manifest)
    assert time.monotonic() - start < 10


def test_repeated_name_in_a_list_file(models: Path) -> None:
    for name in ("a.onnx", "b.onnx"):
        (models / name).write_bytes(b"onnx")
    listing = models / "list.txt"
    listing.write_text("a.onnx\nb.onnx\n# comment\na.onnx\n")
    with pytest.raises(InputError, match=r"list\.txt:4: the suspect 'a\.onnx' is listed twice"):
        list_suspects(listing)
