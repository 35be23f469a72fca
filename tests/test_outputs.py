"""The output policy: outputs checked before any work, nothing replaced without --force, never a
key, never through a link, a killed or failed write leaves the old file, one error line."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from model_factory import make_model
from modelgif.atomic_write import write_file, write_folder
from modelgif.cli import main
from modelgif.crypto.keys import generate_key, save_keypair
from modelgif.errors import InputError
from modelgif.fingerprint.export import export_torch

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Two exported MLPs (no declared input range) and an owner key beside them."""
    folder = tmp_path_factory.mktemp("outputs")
    paths = [export_torch(*make_model("mlp", seed), folder / f"m{seed}.onnx") for seed in (0, 1)]
    save_keypair(generate_key(), folder / "owner")
    return paths[0], paths[1], folder / "owner.key"


def one_error(capsys: pytest.CaptureFixture[str], *argv: object) -> str:
    """Run main(); it must exit 2 with exactly one line on stderr, no traceback."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- the module


def test_nothing_is_replaced_without_force(tmp_path: Path) -> None:
    target = write_file(tmp_path / "a.json", b"first")
    with pytest.raises(InputError, match="--force"):
        write_file(target, b"second")
    assert target.read_bytes() == b"first"
    write_file(target, b"second", force=True)
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left


def test_links_are_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "out.mgf"
    link.symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        write_file(link, b"x", force=True)
    # the old writer's predictable temporary name, planted as a link
    target = tmp_path / "real.mgf"
    target.write_bytes(b"old")
    (tmp_path / f".real.mgf.{os.getpid()}.tmp").symlink_to(victim)
    write_file(target, b"new", force=True)
    assert victim.read_bytes() == b"precious" and target.read_bytes() == b"new"


def test_a_key_is_never_overwritten(tmp_path: Path) -> None:
    save_keypair(generate_key(), tmp_path / "owner")
    before = (tmp_path / "owner.key").read_bytes()
    for name in ("owner.key", "owner.pub"):
        with pytest.raises(InputError, match="key file"):
            write_file(tmp_path / name, b"x", force=True)
    assert (tmp_path / "owner.key").read_bytes() == before


def test_a_failed_write_leaves_the_old_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_file(tmp_path / "cal.json", b"old")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(InputError, match="No space left on device"):
        write_file(target, b"new", force=True)
    with pytest.raises(InputError, match="No space left on device"):
        write_folder(tmp_path / "case", {"evidence.json": b"{}"})
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.json"]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_killed_write_leaves_the_old_output(tmp_path: Path, kind: str) -> None:
    """kill -9 in the middle of writing (after the first file's data is written)."""
    if kind == "file":
        target = write_file(tmp_path / "v.json", b"old")
        call = f"write_file({str(target)!r}, b'new' * 1000, force=True)"
    else:
        target = write_folder(tmp_path / "case", {"evidence.json": b"old", "report.html": b"o"})
        call = (f"write_folder({str(target)!r}, {{'evidence.json': b'new', "
                "'report.html': b'new'}, force=True)")
    script = textwrap.dedent(f"""
        import os, signal
        from modelgif import atomic_write
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        from modelgif.atomic_write import write_file, write_folder
        {call}
    """)
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC},
                          capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    if kind == "file":
        assert target.read_bytes() == b"old"
    else:
        assert (target / "evidence.json").read_bytes() == b"old"
        assert sorted(p.name for p in target.iterdir()) == ["evidence.json", "report.html"]


def test_a_folder_is_replaced_whole_and_never_written_into(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "case", {"evidence.json": b"1", "report.html": b"1"})
    with pytest.raises(InputError, match="--force"):
        write_folder(folder, {"evidence.json": b"2"})
    write_folder(folder, {"evidence.json": b"2", "report.html": b"2"}, force=True)
    assert (folder / "evidence.json").read_bytes() == b"2"
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (folder / "report.html").unlink()
    (folder / "report.html").symlink_to(victim)
    with pytest.raises(InputError, match="did not write"):
        write_folder(folder, {"evidence.json": b"3", "report.html": b"3"}, force=True)
    (folder / "report.html").unlink()
    (folder / "notes.txt").write_text("the examiner's own notes")
    with pytest.raises(InputError, match="did not write"):
        write_folder(folder, {"evidence.json": b"3", "report.html": b"3"}, force=True)
    assert victim.read_bytes() == b"precious" and (folder / "notes.txt").exists()


# ----------------------------------------------------------------------------- the commands


def test_bad_outputs_are_refused_before_any_work(tmp_path: Path, models: tuple[Path, ...],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Every other input is missing too: the error is about the output, so it came first."""
    missing = tmp_path / "nothing-here"
    typo = tmp_path / "no-such-folder" / "out.json"
    cases = [
        ["normalize", missing, "-o", typo],
        ["fingerprint", missing, "--key", missing, "-o", typo],
        ["calibrate", missing, "--negatives", missing, "--key", missing, "-o", typo],
        ["verify", missing, missing, "--key", missing, "-o", typo],
        ["audit-unlearning", "--original", missing, "--unlearned", missing, "--forget", missing,
         "--key", missing, "-o", typo],
        ["reveal", missing, "--key", missing, "-o", typo],
        ["report", missing, "--key", missing, "-o", typo],
    ]
    for argv in cases:
        assert "does not exist" in one_error(capsys, *argv), argv
    assert "is a folder" in one_error(capsys, "normalize", missing, "-o", tmp_path)
    (tmp_path / "cal.json").write_text("{}")
    assert "--force" in one_error(capsys, "calibrate", missing, "--negatives", missing,
                                  "--key", missing, "-o", tmp_path / "cal.json")


def test_normalize_never_destroys_a_key(models: tuple[Path, Path, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    model, _, key = models
    before = key.read_bytes()
    assert "key file" in one_error(capsys, "normalize", model, "-o", key, "--force")
    assert key.read_bytes() == before


def test_normalize_replaces_only_with_force(models: tuple[Path, Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    model, other, _ = models
    out = tmp_path / "n.onnx"
    assert main(["normalize", str(model), "-o", str(out)]) == 0
    first = out.read_bytes()
    assert "--force" in one_error(capsys, "normalize", other, "-o", out)
    assert out.read_bytes() == first
    assert main(["normalize", str(other), "-o", str(out), "--force"]) == 0
    assert out.read_bytes() != first


def test_a_closed_stdout_ends_quietly(models: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """`modelgif ... --json | head`: no BrokenPipe traceback, the shell's SIGPIPE code."""
    model, _, _ = models
    child = subprocess.Popen(
        [sys.executable, "-m", "modelgif", "normalize", str(model), "-o",
         str(tmp_path / "n.onnx"), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC})
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == 141 and "Traceback" not in err, err


def test_bench_help_and_distance_advice(models: tuple[Path, Path, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["bench", "--help"])
    assert done.value.code == 0 and "benchmark" in capsys.readouterr().out
    first, second, key = models
    base = ["distance", first, second, "--key", key, "--anchors-count", "4"]
    assert "--input-range" in one_error(capsys, *base)  # the advice names a real flag...
    assert main([str(a) for a in [*base, "--input-range=-1,1", "--json"]]) == 0  # ...of distance


def test_paths_with_control_characters_are_printed_escaped(
        models: tuple[Path, Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A path is the user's or a file author's text: printed raw, ESC sequences could clear
    or rewrite what the terminal already shows. Every human line escapes them."""
    evil = tmp_path / "owner\x1b[2J\rfake"
    assert main(["keygen", "--out", str(evil)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\\x1b[2J\\x0dfake" in out
    owner, _, _ = models
    mgf = tmp_path / "m\x1b[31m.mgf"
    assert main(["fingerprint", str(owner), "--key", f"{evil}.key", "-o", str(mgf),
                 "--anchors-count", "4", "--steps", "2", "--input-range", "0,1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "m\\x1b[31m.mgf" in out
