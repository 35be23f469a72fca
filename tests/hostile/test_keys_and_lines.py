"""Hostile key files and error lines: one PEM block per key file, no blocking on a FIFO public
key, no terminal prompt noise, and an error line that stays one line whatever names it
carries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from hostile.harness import assert_refused, model_of, run_cli, save
from modelgif.cli import main

ONE_BLOCK = "exactly one PEM block"


@pytest.fixture()
def keys(models: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """models/owner.* and models/thief.* key pairs, and a tiny model models/m.onnx."""
    for name in ("owner", "thief"):
        assert main(["keygen", "--out", str(models / name)]) == 0
    save(model_of([helper.make_node("Relu", ["x"], ["y"])]), models / "m.onnx")
    capsys.readouterr()
    return models


def _fingerprint(models: Path, key: Path, *extra: str) -> list[str]:
    return ["fingerprint", str(models / "m.onnx"), "--key", str(key), "-o",
            str(models / "m.mgf"), "--input-range", "0,1", "--anchors-count", "4", "--steps",
            "2", "--sketch-dim", "4", *extra]


def _private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_two_private_keys_in_one_file(keys: Path, outside: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The loader took the first block: the thief's key, ahead of the owner's, signed."""
    both = (keys / "thief.key").read_bytes() + (keys / "owner.key").read_bytes()
    key = _private(keys / "both.key", both)
    assert_refused(run_cli(_fingerprint(keys, key), capsys), ONE_BLOCK, outside, 60)
    assert not (keys / "m.mgf").exists()


def test_private_key_with_trailing_garbage(keys: Path, outside: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    key = _private(keys / "g.key", (keys / "owner.key").read_bytes() + b"\x00garbage\xff")
    assert_refused(run_cli(_fingerprint(keys, key), capsys), ONE_BLOCK, outside, 60)


def test_public_key_with_trailing_garbage(keys: Path, outside: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (keys / "g.pub").write_bytes((keys / "owner.pub").read_bytes() + b"garbage")
    outcome = run_cli(["report", str(keys / "v.json"), "--key", str(keys / "owner.key"),
                       "--pub", str(keys / "g.pub"), "-o", str(keys / "case")], capsys)
    assert_refused(outcome, ONE_BLOCK, outside, 30)


def test_fifo_as_public_key_does_not_block(keys: Path, outside: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(keys / "fifo.pub")
    outcome = run_cli(["report", str(keys / "v.json"), "--key", str(keys / "owner.key"),
                       "--pub", str(keys / "fifo.pub"), "-o", str(keys / "case")], capsys)
    assert_refused(outcome, "not a regular file", outside, 30)


def test_passphrase_without_a_terminal_is_one_line(
    keys: Path, outside: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """No passphrase in the environment and no terminal: getpass warned (three lines) first."""
    monkeypatch.delenv("MODELGIF_KEY_PASSPHRASE", raising=False)
    monkeypatch.setattr("getpass.getpass", _no_terminal_getpass)
    outcome = run_cli(_fingerprint(keys, keys / "owner.key", "--passphrase"), capsys)
    assert_refused(outcome, "No passphrase", outside, 30)


def _no_terminal_getpass(prompt: str = "") -> str:
    """What getpass does without a terminal: warn, then fall back to reading stdin."""
    import getpass
    import warnings

    warnings.warn("Can not control echo on the terminal.", getpass.GetPassWarning, stacklevel=2)
    raise AssertionError("getpass went on to read stdin")


def test_error_line_escapes_names_from_the_file(models: Path, outside: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A tensor name with a newline and an escape code would forge a second line."""
    weight = TensorProto(name="w\nmodelgif: verified\x1b[2K", data_type=TensorProto.FLOAT,
                         dims=[-4])
    path = save(model_of([helper.make_node("Add", ["x", weight.name], ["y"])], [weight]),
                models / "m.onnx")
    outcome = run_cli(["normalize", str(path), "-o", str(models / "o.onnx")], capsys)
    assert_refused(outcome, "w\\x0amodelgif: verified\\x1b[2K", outside, 60)


@pytest.fixture()
def bundle(keys: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A real signed report folder models/case/ (fingerprint, verify without calibration)."""
    assert main(_fingerprint(keys, keys / "owner.key")) == 0
    assert main(["verify", str(keys / "m.mgf"), str(keys / "m.onnx"), "--key",
                 str(keys / "owner.key"), "-o", str(keys / "v.json")]) == 0
    assert main(["report", str(keys / "v.json"), "--key", str(keys / "owner.key"), "-o",
                 str(keys / "case")]) == 0
    capsys.readouterr()
    return keys / "case"


def test_bundle_file_symlinked_outside_is_not_read(
    bundle: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """evidence.json -> ../../outside/secret.bin was opened (then failed the hash check)."""
    (bundle / "evidence.json").unlink()
    (bundle / "evidence.json").symlink_to(outside / "secret.bin")
    outcome = run_cli(["report", "verify", str(bundle), "--pub",
                       str(bundle.parent / "owner.pub")], capsys)
    assert_refused(outcome, "a symbolic link in the report folder", outside, 30)


def test_fifo_given_to_rehash_does_not_block(
    bundle: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--files m.onnx` where m.onnx is a FIFO: hashing it blocked forever."""
    fifo = bundle.parent / "fifo" / "m.onnx"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    outcome = run_cli(["report", "verify", str(bundle), "--pub", str(bundle.parent / "owner.pub"),
                       "--files", str(fifo)], capsys)
    assert_refused(outcome, "not a regular file", outside, 30)


def test_log_level_from_the_environment_is_checked(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """argparse checks --log-level's choices but not a default taken from $MODELGIF_LOG_LEVEL:
    logging raised ValueError (a traceback)."""
    monkeypatch.setenv("MODELGIF_LOG_LEVEL", "EVIL\x1b[2J")
    outcome = run_cli(["inspect", str(models / "m.mgf")], capsys)
    assert_refused(outcome, "$MODELGIF_LOG_LEVEL must be one of", outside, 30)
    assert "\x1b" not in outcome.lines[0]


def test_nan_target_fpr_is_refused_before_any_work(
    models: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was refused only after every negative had been normalized and measured."""
    outcome = run_cli(["calibrate", str(models / "m.mgf"), "--negatives", str(outside), "--key",
                       str(models / "o.key"), "-o", str(models / "c.json"),
                       "--target-fpr", "nan"], capsys)
    assert_refused(outcome, "'--target-fpr' parameter of calibrate", outside, 30)


def test_scan_cache_that_is_a_file(models: Path, outside: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Every suspect became an 'error' pair and the scan exited 0."""
    (models / "cache").write_text("x")
    outcome = run_cli(["scan", "--fingerprints", str(models / "m.mgf"), "--suspects",
                       str(outside), "--key", str(models / "o.key"), "-o",
                       str(models / "s.jsonl"), "--cache", str(models / "cache")], capsys)
    assert_refused(outcome, "is not a folder", outside, 30)
