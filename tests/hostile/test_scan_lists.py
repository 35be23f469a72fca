"""Hostile suspect lists: a repeated name is refused at its line, before 100,000 more lines
are resolved on the file system (a manifest of one repeated path took 46 s to refuse)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hostile.harness import SECRET
from modelgif.errors import InputError
from modelgif.scan.results import ResultsFile
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


def test_nul_byte_in_a_listed_path(models: Path) -> None:
    """Was a ValueError traceback from the path resolution."""
    listing = models / "list.txt"
    listing.write_text("a\x00b.onnx\n")
    with pytest.raises(InputError, match="no NUL"):
        list_suspects(listing)


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_scan_output_is_never_a_fifo_or_a_link(kind: str, models: Path, outside: Path) -> None:
    """-o pointing at a FIFO blocked forever; at a link, appended to wherever it led."""
    target = models / "scan.jsonl"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(outside / "secret.bin")
    with pytest.raises(InputError, match=r"symbolic link|not a regular file"):
        ResultsFile(target, {"fingerprints": [], "settings": {}})
    assert (outside / "secret.bin").read_bytes() == SECRET
