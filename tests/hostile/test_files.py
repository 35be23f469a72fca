"""Hostile files around the model: keys, configs, pools, fingerprints, calibrations.

Each goes through the real CLI and must give one line and exit 2 quickly, without blocking
on a FIFO, inflating a zip, expanding YAML aliases or reading a large file whole.
"""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from hostile.harness import assert_refused, model_of, run_cli, save
from modelgif.cli import main
from modelgif.crypto.signing import canonical_json
from modelgif.fingerprint import mgf_layout


@pytest.fixture()
def owner(models: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A key pair in models/ and a tiny model (y = relu(x)) with a stored input range."""
    assert main(["keygen", "--out", str(models / "o")]) == 0
    raw = save(model_of([helper.make_node("Relu", ["x"], ["y"])]), models / "raw.onnx")
    assert main(["normalize", str(raw), "-o", str(models / "m.onnx"), "--input-range", "0,1"]) == 0
    capsys.readouterr()
    return models / "o.key", models / "m.onnx"


def _fingerprint(owner: tuple[Path, Path], *extra: str) -> list[str]:
    key, model = owner
    return ["fingerprint", str(model), "--key", str(key), "-o", str(model.with_suffix(".mgf")),
            *extra]


def test_fifo_as_key(models: Path, outside: Path, owner: tuple[Path, Path],
                     capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(models / "fifo.key")
    outcome = run_cli(_fingerprint((models / "fifo.key", owner[1])), capsys)
    assert_refused(outcome, "not a regular file", outside, 30)


def test_fifo_as_fingerprint(models: Path, outside: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(models / "fifo.mgf")
    assert_refused(run_cli(["inspect", str(models / "fifo.mgf")], capsys),
                   "not a regular file", outside, 30)


def test_fifo_as_pool(models: Path, outside: Path, owner: tuple[Path, Path],
                      capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(models / "pool.npy")
    outcome = run_cli(_fingerprint(owner, "--anchors", str(models / "pool.npy")), capsys)
    assert_refused(outcome, "not a regular file", outside, 60)


def _pool_outcome(owner: tuple[Path, Path], pool: Path,
                  capsys: pytest.CaptureFixture[str]) -> object:
    return run_cli(_fingerprint(owner, "--anchors", str(pool)), capsys)


def test_fake_zip_pool(models: Path, outside: Path, owner: tuple[Path, Path],
                       capsys: pytest.CaptureFixture[str]) -> None:
    (models / "pool.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    outcome = run_cli(_fingerprint(owner, "--anchors", str(models / "pool.npz")), capsys)
    assert_refused(outcome, "not a valid .npz archive", outside, 60)


def _zip_with_sizes(member: bytes, declared: int) -> bytes:
    """A deflated .npz member whose headers claim `declared` uncompressed bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", member)
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 22, declared)  # local header: uncompressed size
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)  # central directory entry
    return bytes(data)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_npz_member_declaring_too_much_is_refused_before_inflating(
    models: Path, outside: Path, owner: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pool = models / "pool.npz"
    pool.write_bytes(_zip_with_sizes(_npy(np.zeros((4, 4), np.float32)), 3 << 30))
    outcome = run_cli(_fingerprint(owner, "--anchors", str(pool)), capsys)
    assert_refused(outcome, "member 'x' declares 3221225472 bytes", outside, 60)


def test_npz_bomb_stops_at_its_declared_size(
    models: Path, outside: Path, owner: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """16 MB of zeros deflate to ~16 KB; the headers claim 1000 bytes: never inflated."""
    bomb = _npy(np.zeros((4, 4), np.float32))[:128] + b"\x00" * (16 << 20)
    pool = models / "pool.npz"
    pool.write_bytes(_zip_with_sizes(bomb, 1000))
    assert pool.stat().st_size < 1 << 20
    tracemalloc.start()
    outcome = run_cli(_fingerprint(owner, "--anchors", str(pool)), capsys)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert_refused(outcome, "member 'x'", outside, 60)
    assert peak < 8 << 20, peak


def test_npz_bomb_through_audit_unlearning(
    models: Path, outside: Path, owner: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    forget = models / "forget.npz"
    forget.write_bytes(_zip_with_sizes(_npy(np.zeros((4, 4), np.float32)), 3 << 30))
    key, model = owner
    outcome = run_cli(["audit-unlearning", "--original", str(model), "--unlearned", str(model),
                       "--forget", str(forget), "--key", str(key)], capsys)
    assert_refused(outcome, "declares 3221225472 bytes", outside, 120)


def test_npy_header_declaring_a_huge_shape(
    models: Path, outside: Path, owner: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = _npy(np.zeros((2, 4), np.float32)).replace(b"(2, 4)", b"(9999999999, 4)", 1)
    (models / "pool.npy").write_bytes(data)
    outcome = run_cli(_fingerprint(owner, "--anchors", str(models / "pool.npy")), capsys)
    assert_refused(outcome, "declares shape (9999999999, 4)", outside, 60)


YAMLS = {
    "aliases": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                "anchors: {n_anchors: *b}\n", "aliases are not allowed"),
    "not_a_mapping": ("anchors: abc\n", "the 'anchors' section must be a mapping"),
    "deep": ("anchors: " + "[" * 50_000 + "]" * 50_000 + "\n", "nesting deeper than 64"),
    "duplicate": ("anchors: {n_anchors: 8}\nanchors: {n_anchors: 9}\n", "duplicate key"),
}


@pytest.mark.parametrize("case", sorted(YAMLS))
def test_hostile_yaml_config(case: str, models: Path, outside: Path, owner: tuple[Path, Path],
                             capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = YAMLS[case]
    (models / "c.yaml").write_text(text)
    outcome = run_cli(_fingerprint(owner, "--config", str(models / "c.yaml")), capsys)
    assert_refused(outcome, expected, outside, 30)


def test_non_utf8_yaml_config(models: Path, outside: Path, owner: tuple[Path, Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    (models / "c.yaml").write_bytes(b"anchors:\n  source: \xff\xfe\n")
    outcome = run_cli(_fingerprint(owner, "--config", str(models / "c.yaml")), capsys)
    assert_refused(outcome, "is not UTF-8 text", outside, 30)


def test_settings_each_allowed_but_too_much_together(
    models: Path, outside: Path, owner: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """1,048,576 anchors is allowed, and so are 16 steps: not both (16M gradient points)."""
    outcome = run_cli(_fingerprint(owner, "--anchors-count", str(1 << 20)), capsys)
    assert_refused(outcome, "anchors 1048576 x steps 16", outside, 30)


def test_large_fingerprint_is_not_read_whole(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1 GiB (sparse) file whose header does not add up is refused after the header."""
    header = canonical_json({"arrays": [], "envelope": {}, "sealed_anchors_nbytes": 64})
    path = models / "big.mgf"
    with open(path, "wb") as handle:
        handle.write(struct.pack("<8sII", mgf_layout.MAGIC, mgf_layout.FORMAT_VERSION, len(header)))
        handle.write(header)
        handle.truncate(1 << 30)
    tracemalloc.start()
    outcome = run_cli(["inspect", str(path)], capsys)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert_refused(outcome, "", outside, 30)
    assert peak < 64 << 20, peak


CALIBRATIONS = {
    "deep": (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    "nested": (b'{"a": ' + b"[" * 80 + b"]" * 80 + b"}", "nests deeper than 64"),
    "latin1": (b'{"schema": "\xe9"}', "is not UTF-8 text"),
}


@pytest.mark.parametrize("case", sorted(CALIBRATIONS))
def test_hostile_calibration(case: str, models: Path, outside: Path, owner: tuple[Path, Path],
                             capsys: pytest.CaptureFixture[str]) -> None:
    key, model = owner
    assert main(_fingerprint(owner, "--anchors-count", "4", "--steps", "2",
                             "--sketch-dim", "4")) == 0
    data, expected = CALIBRATIONS[case]
    (models / "cal.json").write_bytes(data)
    outcome = run_cli(["verify", str(model.with_suffix(".mgf")), str(model), "--key", str(key),
                       "--calibration", str(models / "cal.json")], capsys)
    assert_refused(outcome, expected, outside, 120)
