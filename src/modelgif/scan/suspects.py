"""Which models a scan looks at: a folder, a list file, or a manifest.jsonl.

    DIR              every *.onnx below it (sorted; names are paths relative to DIR)
    LIST             one path per line; blank lines and '# comments' skipped
    manifest.jsonl   one JSON object per line: {"path": "...", "name": "..."} (name optional)

Paths in a list or manifest are relative to that file's folder and must stay inside it (no
absolute paths, no '..', no symlink leading out): a manifest may come from the hub being
scanned, and a scan should never be steered into reading the owner's other files. Listing
is checked up front, so a bad entry stops the scan before any work with one error line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from modelgif.errors import InputError

__all__ = ["MAX_SUSPECTS", "SuspectEntry", "list_suspects"]

MAX_SUSPECTS = 1_000_000
MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_NAME_CHARS = 512


@dataclass(frozen=True)
class SuspectEntry:
    """One suspect: the name it has in the results, and the file."""

    name: str
    path: Path


def list_suspects(source: Path) -> list[SuspectEntry]:
    """The suspects named by a folder, a list file or a manifest.jsonl (hostile input)."""
    if source.is_dir():
        entries = [SuspectEntry(p.relative_to(source).as_posix(), _confined(source, p, p.name))
                   for p in sorted(source.rglob("*.onnx"))]
    elif source.is_file():
        entries = _read_list(source)
    else:
        raise InputError(f"{source}: no such folder, list or manifest")
    if not entries:
        raise InputError(f"{source}: no suspect models found")
    seen: set[str] = set()
    for entry in entries:  # linear: a million names with one repeat at the end stays quick
        if entry.name in seen:
            raise InputError(f"{source}: the suspect {entry.name!r} is listed twice")
        seen.add(entry.name)
    return entries


def _read_list(source: Path) -> list[SuspectEntry]:
    if source.stat().st_size > MAX_LIST_BYTES:
        raise InputError(f"{source}: larger than {MAX_LIST_BYTES} bytes")
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{source}: not a UTF-8 text file") from None
    manifest = source.suffix == ".jsonl"
    entries: list[SuspectEntry] = []
    names: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip() or (not manifest and line.lstrip().startswith("#")):
            continue
        where = f"{source}:{number}"
        path, name = _manifest_line(line, where) if manifest else (line.strip(), None)
        if (name or path) in names:  # before touching the file system for this line
            raise InputError(f"{where}: the suspect {name or path!r} is listed twice")
        names.add(name or path)
        entries.append(SuspectEntry(name or path, _confined(source.parent, Path(path), where,
                                                            relative=True)))
        if len(entries) > MAX_SUSPECTS:
            raise InputError(f"{source}: more than {MAX_SUSPECTS} suspects")
    return entries


def _manifest_line(line: str, where: str) -> tuple[str, str | None]:
    try:
        item = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise InputError(f"{where}: not a JSON object") from None
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise InputError(f"{where}: each line needs a string field 'path'")
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name
                             or len(name) > MAX_NAME_CHARS):
        raise InputError(f"{where}: 'name' must be a non-empty string")
    return item["path"], name


def _confined(root: Path, path: Path, where: str, relative: bool = False) -> Path:
    """`path` (relative to root when `relative`) as a regular file inside root."""
    if relative:
        pure = PurePosixPath(path.as_posix())
        if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\x00" in str(pure):
            raise InputError(f"{where}: {str(path)!r} must be a relative path inside "
                             f"{root} (no absolute path, no '..', no NUL)")
        path = root / pure
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise InputError(f"{where}: {path} leads outside {root}")
    if not resolved.is_file():
        raise InputError(f"{where}: {path} is not a file")
    return path
