"""cached_folder: built once per key, reused while intact, rebuilt when a file changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelgif.zoo.cache import cached_folder


def test_built_once_reused_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    builds: list[Path] = []

    def build(folder: Path) -> None:
        builds.append(folder)
        (folder / "model.onnx").write_bytes(b"weights")
        (folder / "sub").mkdir()
        (folder / "sub" / "data.npy").write_bytes(b"rows")

    first = cached_folder("thing", "key-1", build, tmp_path)
    assert (first / "model.onnx").read_bytes() == b"weights" and len(builds) == 1
    assert cached_folder("thing", "key-1", build, tmp_path) == first and len(builds) == 1
    other = cached_folder("thing", "key-2", build, tmp_path)  # another key, another folder
    assert other != first and len(builds) == 2
    (first / "sub" / "data.npy").write_bytes(b"other rows")
    again = cached_folder("thing", "key-1", build, tmp_path)
    assert again == first and len(builds) == 3
    assert (again / "sub" / "data.npy").read_bytes() == b"rows"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_failed_build_publishes_nothing(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "half.onnx").write_bytes(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        cached_folder("thing", "key", build, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == []
