"""`modelgif keygen`, `inspect` and `reveal`, run in-process through the real CLI main."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import numpy as np
import pytest

from modelgif.cli import main
from modelgif.crypto import keys
from modelgif.fingerprint import record
from modelgif.fingerprint import reveal as reveals

ANCHORS = ((np.arange(12) + 1) * 0.0137).astype(np.float32).reshape(3, 4)


def _fingerprint(path: Path, key: keys.PrivateKey) -> record.Fingerprint:
    return record.write_fingerprint(
        path,
        arrays={"sketch": np.linspace(0, 1, 6, dtype=np.float32)},
        anchors=ANCHORS,
        config={"n_steps": 8},
        model_digest=hashlib.sha256(b"m").hexdigest(),
        original_name="net.onnx",
        original_sha256=hashlib.sha256(b"o").hexdigest(),
        private_key=key,
    )


@pytest.fixture()
def owner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["keygen", "--out", str(tmp_path / "owner")]) == 0
    capsys.readouterr()
    return tmp_path / "owner"


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
def test_keygen_writes_a_0600_key_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    assert main(["keygen", "--out", str(tmp_path / "k"), "--type", kind]) == 0
    out = capsys.readouterr().out
    private = keys.load_private_key(tmp_path / "k.key")
    assert keys.key_type(private) == kind
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    assert keys.keyid(private) in out
    assert keys.keyid(keys.load_public_key(tmp_path / "k.pub")) == keys.keyid(private)


def test_keygen_refuses_to_overwrite(owner: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--out", str(owner)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelgif: error:") and "already exists" in err
    assert err.count("\n") == 1


def test_keygen_passphrase_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELGIF_KEY_PASSPHRASE", "s3cret")
    assert main(["keygen", "--out", str(tmp_path / "enc"), "--passphrase"]) == 0
    with pytest.raises(Exception, match="is encrypted"):
        keys.load_private_key(tmp_path / "enc.key")
    keys.load_private_key(tmp_path / "enc.key", "s3cret")


def test_keygen_passphrase_prompt_must_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELGIF_KEY_PASSPHRASE", raising=False)
    answers = iter(["one", "two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["keygen", "--out", str(tmp_path / "enc"), "--passphrase"]) == 2
    assert "do not match" in capsys.readouterr().err
    assert not (tmp_path / "enc.key").exists()
    answers = iter(["same", "same"])
    assert main(["keygen", "--out", str(tmp_path / "enc"), "--passphrase"]) == 0
    keys.load_private_key(tmp_path / "enc.key", "same")


def test_inspect_statuses(tmp_path: Path, owner: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fp = _fingerprint(tmp_path / "a.mgf", keys.load_private_key(owner.with_suffix(".key")))
    assert main(["inspect", str(tmp_path / "a.mgf"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["signature"] == "not checked"
    assert report["fingerprint_id"] == fp.fingerprint_id.hex()
    assert report["anchors"]["commitment"]["sha256"] == fp.commitment

    pub = str(owner.with_suffix(".pub"))
    assert main(["inspect", str(tmp_path / "a.mgf"), "--pub", pub, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["signature"] == "verified"

    main(["keygen", "--out", str(tmp_path / "other")])
    capsys.readouterr()
    other = str(tmp_path / "other.pub")
    assert main(["inspect", str(tmp_path / "a.mgf"), "--pub", other, "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["signature"] == "INVALID"
    assert "INVALID" in captured.err


def test_inspect_human_output_never_shows_anchors(
    tmp_path: Path, owner: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fingerprint(tmp_path / "a.mgf", keys.load_private_key(owner.with_suffix(".key")))
    assert main(["inspect", str(tmp_path / "a.mgf"), "--pub", str(owner) + ".pub"]) == 0
    out = capsys.readouterr().out
    assert "signature:      verified" in out and "net.onnx" in out
    for value in ANCHORS.ravel():
        assert repr(float(value)) not in out and f"{value:.4f}" not in out


def test_inspect_garbage_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.mgf").write_bytes(b"hello")
    assert main(["inspect", str(tmp_path / "x.mgf")]) == 2
    err = capsys.readouterr().err
    assert "not a modelgif fingerprint" in err and err.count("\n") == 1


def test_reveal_round_trip(tmp_path: Path, owner: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = keys.load_private_key(owner.with_suffix(".key"))
    _fingerprint(tmp_path / "a.mgf", key)
    out = tmp_path / "a.reveal"
    assert (
        main(["reveal", str(tmp_path / "a.mgf"), "--key", str(owner) + ".key", "-o", str(out)]) == 0
    )
    assert str(out) in capsys.readouterr().out
    fp = record.load_fingerprint(tmp_path / "a.mgf", key.public_key())
    np.testing.assert_array_equal(reveals.verify_reveal(fp, reveals.read_reveal(out)), ANCHORS)


def test_reveal_with_wrong_or_encrypted_key(
    tmp_path: Path, owner: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _fingerprint(tmp_path / "a.mgf", keys.load_private_key(owner.with_suffix(".key")))
    monkeypatch.setenv("MODELGIF_KEY_PASSPHRASE", "pw")
    assert main(["keygen", "--out", str(tmp_path / "enc"), "--passphrase"]) == 0
    args = ["reveal", str(tmp_path / "a.mgf"), "--key", str(tmp_path / "enc.key")]
    assert main([*args, "-o", str(tmp_path / "r1")]) == 2
    assert "is encrypted" in capsys.readouterr().err
    assert main([*args, "--passphrase", "-o", str(tmp_path / "r2")]) == 2  # wrong key
    assert "does not verify" in capsys.readouterr().err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


ESCAPES = "\x1b[1A\x1b[2K\rsignature:      verified\x1b]0;title\x07\x9b\u202e\x7f"


def test_inspect_escapes_control_codes_in_every_string(
    tmp_path: Path, owner: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # A thief's file, signed with their own key: every free-form string carries ANSI codes.
    thief = keys.generate_key()
    monkeypatch.setattr(record, "_timestamp", lambda created_at: "2025-01-01" + ESCAPES)
    record.write_fingerprint(
        tmp_path / "a.mgf",
        arrays={"sketch": np.linspace(0, 1, 6, dtype=np.float32)},
        anchors=ANCHORS,
        config={"label" + ESCAPES: "x" + ESCAPES},
        model_digest=hashlib.sha256(b"m").hexdigest(),
        original_name="net" + ESCAPES + ".onnx",
        original_sha256=hashlib.sha256(b"o").hexdigest(),
        private_key=thief,
        tools={"torch" + ESCAPES: "2" + ESCAPES},
    )
    pub = str(owner.with_suffix(".pub"))
    assert main(["inspect", str(tmp_path / "a.mgf"), "--pub", pub]) == 2
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert all(char.isprintable() for char in stream.replace("\n", ""))
    lines = captured.out.splitlines()
    assert lines[1] == "signature:      INVALID"
    assert not any(line.startswith("signature:      verified") for line in lines)
    shown = "\\x1b[1A\\x1b[2K\\x0dsignature:      verified\\x1b]0;title\\x07\\x9b\\u202e\\x7f"
    for field in ("created at:     2025-01-01", "original file:  net", "tools:          torch"):
        assert any(line.startswith(field + shown) for line in lines), field
    assert "INVALID" in captured.err

    assert main(["inspect", str(tmp_path / "a.mgf"), "--json"]) == 0
    out = capsys.readouterr().out
    assert all(char.isprintable() for char in out.replace("\n", ""))
    report = json.loads(out)  # lossless: the file's exact strings come back
    assert report["created_at"] == "2025-01-01" + ESCAPES
    assert report["subject"][1]["name"] == "net" + ESCAPES + ".onnx"
    assert report["config"] == {"label" + ESCAPES: "x" + ESCAPES}


def test_private_key_readable_by_others_is_one_line_exit_2(
    tmp_path: Path, owner: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv(keys.ALLOW_OPEN_KEY_ENV, raising=False)
    _fingerprint(tmp_path / "a.mgf", keys.load_private_key(owner.with_suffix(".key")))
    owner.with_suffix(".key").chmod(0o644)
    args = ["reveal", str(tmp_path / "a.mgf"), "--key", str(owner) + ".key"]
    assert main([*args, "-o", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"chmod 600 {owner}.key" in err
    assert not (tmp_path / "r1").exists()
    monkeypatch.setenv(keys.ALLOW_OPEN_KEY_ENV, "1")
    assert main([*args, "-o", str(tmp_path / "r2")]) == 0


@pytest.mark.parametrize("command", ["keygen", "inspect", "reveal"])
def test_help_teaches_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"modelgif {command}" in out
