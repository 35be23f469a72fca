"""Hostile scan inputs: suspect lists that leave their folder, damaged or foreign scan files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelgif.crypto.keys import generate_key
from modelgif.errors import InputError
from modelgif.scan import list_suspects, read_scan, summarize
from modelgif.scan.records import expand_scan_files, is_scan_file
from modelgif.scan.results import SCHEMA, ResultsFile

HEADER = {"kind": "header", "schema": SCHEMA, "fingerprints": [{"id": "f1", "name": "a.mgf"}],
          "settings": {"backend": "auto"}}


def _pair(name: str, decision: str = "independent") -> dict[str, object]:
    return {"kind": "pair", "fingerprint": "f1", "suspect": {"name": name}, "decision": decision,
            "verdict": {"decision": decision}, "error": None}


def test_folder_list_and_manifest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.onnx", "sub/a.onnx", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [e.name for e in list_suspects(tmp_path)] == ["b.onnx", "sub/a.onnx"]
    listing = tmp_path / "week.list"
    listing.write_text("# uploads\n\nsub/a.onnx\nb.onnx\n")
    assert [e.path for e in list_suspects(listing)] == [tmp_path / "sub/a.onnx",
                                                        tmp_path / "b.onnx"]
    manifest = tmp_path / "hub.jsonl"
    manifest.write_text(json.dumps({"path": "b.onnx", "name": "org/model-b"}) + "\n")
    assert [e.name for e in list_suspects(manifest)] == ["org/model-b"]


@pytest.mark.parametrize("line", ["/etc/passwd", "../outside.onnx", "sub/../../outside.onnx",
                                  "link.onnx", "missing.onnx"])
def test_list_entries_stay_inside_their_folder(tmp_path: Path, line: str) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    (tmp_path / "outside.onnx").write_bytes(b"x")
    (inside / "link.onnx").symlink_to(tmp_path / "outside.onnx")
    listing = inside / "l.list"
    listing.write_text(line + "\n")
    with pytest.raises(InputError):
        list_suspects(listing)


def test_bad_manifests_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"x")
    for text in ["[1]\n", '{"name": "x"}\n', "{not json\n", '{"path": "a.onnx"}\n' * 2]:
        manifest = tmp_path / "m.jsonl"
        manifest.write_text(text)
        with pytest.raises(InputError):
            list_suspects(manifest)


def test_a_torn_last_line_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    results = ResultsFile(path, HEADER)
    results.append(_pair("a.onnx"))
    results.close()
    with open(path, "ab") as handle:
        handle.write(b'{"kind": "pa')
    results = ResultsFile(path, HEADER)
    assert results.done == {("f1", "a.onnx")}
    results.append(_pair("b.onnx", "error") | {"error": "timed out", "verdict": None})
    results.close()
    header, pairs = read_scan(path)
    assert [p["suspect"]["name"] for p in pairs] == ["a.onnx", "b.onnx"]
    assert summarize(header, pairs) == {"a.mgf": {"error": 1, "independent": 1}}


def test_foreign_damaged_and_mismatched_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    ResultsFile(path, HEADER).close()
    with pytest.raises(InputError, match="other settings"):
        ResultsFile(path, {**HEADER, "settings": {"backend": "blackbox"}})
    ResultsFile(path, {**HEADER, "settings": {"backend": "blackbox"}}, force=True).close()
    assert read_scan(path)[0]["settings"] == {"backend": "blackbox"}
    damaged = tmp_path / "d.jsonl"
    damaged.write_text(json.dumps(HEADER) + "\nnot json\n" + json.dumps(_pair("a")) + "\n")
    stranger = tmp_path / "x.jsonl"
    stranger.write_text(json.dumps(HEADER) + "\n" + json.dumps(_pair("a") | {"fingerprint": "f9"})
                        + "\n")
    verdict = tmp_path / "v.json"
    verdict.write_text('{"schema": "modelgif.verdict-record/v1"}\n')
    for bad in (damaged, stranger, verdict):
        with pytest.raises(InputError):
            read_scan(bad)
    assert not is_scan_file(verdict) and is_scan_file(path)
    # verdicts pass through
    assert expand_scan_files([verdict], tmp_path / "out", generate_key()) == [verdict]
    with pytest.raises(InputError, match="no derived pair"):
        expand_scan_files([path], tmp_path / "out", generate_key())
