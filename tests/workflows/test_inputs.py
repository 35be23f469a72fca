"""The two small helpers every workflow uses: the key as object or file, and the command a
record repeats when a Python caller gives none."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from modelgif.crypto.keys import generate_key, keyid, load_public_key, save_keypair
from modelgif.errors import InputError
from modelgif.workflows.command import key_name, reproduce_command
from modelgif.workflows.keys import owner_key, public_key


def test_a_key_is_taken_loaded_or_from_its_file(tmp_path: Path) -> None:
    key = generate_key()
    assert owner_key(key) is key
    plain, pub = save_keypair(key, tmp_path / "plain")
    locked, _ = save_keypair(key, tmp_path / "locked", passphrase="s3cret")
    assert keyid(owner_key(plain)) == keyid(owner_key(str(locked), "s3cret")) == keyid(key)
    assert keyid(public_key(pub)) == keyid(load_public_key(pub)) == keyid(key)
    with pytest.raises(InputError, match="is encrypted"):
        owner_key(locked)
    with pytest.raises(InputError, match="Cannot read the private key"):
        owner_key(tmp_path / "missing.key")


def test_the_reproduce_command_is_shell_quoted_and_leaves_out_what_is_unset() -> None:
    line = reproduce_command("report verify", [Path("case 1")], {
        "--pub": Path("o.pub"), "--files": [Path("a b.onnx"), "c.json"], "--reveal": None,
        "--json": True, "--force": False, "--top-k": 3})
    assert shlex.split(line) == ["modelgif", "report", "verify", "case 1", "--pub", "o.pub",
                                 "--files", "a b.onnx", "c.json", "--json", "--top-k", "3"]
    assert key_name(Path("keys/owner.key")) == "keys/owner.key"
    assert key_name(generate_key()) == "OWNER.key"
