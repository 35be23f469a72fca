"""One output policy for every file and folder modelgif writes.

Why one module: evidence is read by courts, so nothing is replaced without `--force`, a key
file is never replaced at all, and a failed or killed write must leave the previous file as
it was. Every writer goes through here:

    check_output(path, force)    BEFORE any work: the folder exists and is writable, the
                                 target is not a folder, not a symbolic link, not a key
                                 file, and does not exist unless `force`
    write_file(path, data)       temp file beside the target, opened O_CREAT|O_EXCL|
                                 O_NOFOLLOW (a planted link or file is never followed),
                                 written, fsynced, then renamed into place: link() when the
                                 target must not exist (refuses a file that appeared since),
                                 rename() with `force`
    write_folder(folder, files)  all files into a fresh temp folder, then swapped in: the
                                 old folder is never written into, so links inside it are
                                 never followed

Any OSError (disk full, permission denied, ...) becomes one InputError line.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

from modelgif.errors import InputError

__all__ = ["check_output", "check_output_folder", "write_file", "write_folder"]

_PEM_KEY = b"KEY-----"
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _is_key_file(path: Path) -> bool:
    """A PEM private or public key (what `keygen` writes, or any other tool's)."""
    try:
        with open(path, "rb") as handle:
            first_line = handle.read(128).split(b"\n", 1)[0]
    except OSError:
        return False
    return first_line.startswith(b"-----BEGIN ") and first_line.endswith(_PEM_KEY)


def _check_parent(path: Path) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: the folder {parent} is not writable")
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; modelgif never writes through one")


def check_output(path: str | os.PathLike[str], force: bool = False) -> Path:
    """Refuse, before any work, an output file that cannot or must not be written."""
    target = Path(path)
    _check_parent(target)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file name")
    if target.exists():
        if _is_key_file(target):
            raise InputError(f"{target} is a key file; modelgif never overwrites a key")
        if not force:
            raise InputError(f"{target} already exists; pass --force to replace it")
        if not target.is_file():
            raise InputError(f"{target} is not a regular file")
    return target


def check_output_folder(
    path: str | os.PathLike[str], names: Mapping[str, object] | list[str], force: bool = False
) -> Path:
    """Refuse an output folder that cannot be written, or whose contents would be lost.

    An existing folder is replaced only with `force` (an empty one always), and only when
    it holds nothing but regular files named in `names`: replacing it never deletes a
    file modelgif did not write.
    """
    folder = Path(path)
    _check_parent(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; give a folder name")
    entries = list(folder.iterdir()) if folder.is_dir() else []
    if entries and not force:
        raise InputError(f"{folder} already exists; pass --force to replace it")
    foreign = [e.name for e in entries if e.name not in names or e.is_symlink()
               or not e.is_file()]
    if foreign:
        raise InputError(f"{folder} holds {sorted(foreign)[0]!r}, which modelgif did not "
                         "write; choose another folder")
    return folder


def _os_error(path: Path, error: OSError) -> InputError:
    return InputError(f"Cannot write {path}: {error.strerror or error}.")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` (never an existing name, never through a link), write, fsync."""
    fd = os.open(path, _NEW_FILE, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")


def write_file(
    path: str | os.PathLike[str], data: bytes, *, force: bool = False, mode: int = 0o644
) -> Path:
    """Write `data` to `path` atomically under the policy of the module docstring."""
    target = check_output(path, force)
    temporary = _temporary_name(target)
    try:
        _write_new(temporary, data, mode)
        if force:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)  # fails if the name appeared since the check
        _fsync_folder(target.parent)
    except FileExistsError:
        raise InputError(f"{target} already exists; pass --force to replace it") from None
    except OSError as error:
        raise _os_error(target, error) from None
    finally:
        temporary.unlink(missing_ok=True)
    return target


def write_folder(
    path: str | os.PathLike[str], files: Mapping[str, bytes], *, force: bool = False
) -> Path:
    """Write `files` (name -> bytes) as the folder `path`, replacing it only whole.

    The files go into a fresh temporary folder beside `path`, which then takes its place;
    a failed or killed write leaves the previous folder as it was (at worst renamed to a
    hidden `.NAME.*.old` beside it, for the instant between the two renames).
    """
    folder = check_output_folder(path, list(files), force)
    temporary = _temporary_name(folder)
    old = temporary.with_suffix(".old")
    try:
        os.mkdir(temporary, 0o755)
        for name, data in files.items():
            if Path(name).name != name or name in ("", ".", ".."):
                raise InputError(f"{name!r} is not a plain file name")
            _write_new(temporary / name, data, 0o644)
        _fsync_folder(temporary)
        if folder.exists():
            os.rename(folder, old)
        os.rename(temporary, folder)
        _fsync_folder(folder.parent)
    except OSError as error:
        if old.exists() and not folder.exists():
            os.rename(old, folder)
        raise _os_error(folder, error) from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder
