"""Bounded readers for every file modelgif is handed: JSON, YAML, .npy/.npz, keys, records.

Why one module: each reader used to check size its own way, and each missed something (a
FIFO blocks `open()` forever, `np.load` allocates what a header declares, a zip member
inflates past its file, YAML aliases expand a few bytes into gigabytes). Here:
- a path is opened with O_NONBLOCK and fstat'ed: only regular files are read (never a FIFO,
  device, socket or directory), and the size is capped before a byte is read;
- .npy headers and .npz members are checked by their declared size and shape before
  anything is decompressed or allocated; pickles are never loaded;
- YAML goes through a safe loader without aliases, with duplicate keys refused and nesting
  bounded; JSON nesting is bounded the same way; non-UTF-8 text is refused.
Every failure is an InputError with one line naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
from typing import Any

import numpy as np
import yaml

from modelgif.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "open_regular",
    "read_bytes",
    "read_json",
    "read_npy",
    "read_text",
    "read_yaml",
]

MAX_DEPTH = 64  # nesting of JSON/YAML containers
_NPY_HEADER_BYTES = 1 << 16

PathLike = str | os.PathLike[str]


def open_regular(path: PathLike, what: str = "file") -> int:
    """An O_RDONLY descriptor on `path`, which must be a regular file (never blocks)."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise InputError(f"Cannot read the {what} {name}: {error.strerror}.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InputError(f"The {what} {name} is {kind}; refusing to read it.")
    os.set_blocking(fd, True)
    return fd


def read_bytes(path: PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The whole content of a regular file of at most `max_bytes` bytes."""
    fd = open_regular(path, what)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise InputError(
                f"The {what} {os.fspath(path)} is larger than {max_bytes} bytes; refusing it."
            )
        data = handle.read(size + 1)  # read(n) allocates n bytes up front: never the limit
    if len(data) > max_bytes:
        raise InputError(f"The {what} {os.fspath(path)} is larger than {max_bytes} bytes.")
    return data


def read_text(path: PathLike, max_bytes: int, what: str = "file") -> str:
    """UTF-8 text of a bounded regular file; non-UTF-8 is one clear error."""
    data = read_bytes(path, max_bytes, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"The {what} {os.fspath(path)} is not UTF-8 text (byte {error.start})."
        ) from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: PathLike, max_bytes: int, what: str = "JSON file") -> Any:
    """Parse a bounded JSON file; nesting deeper than MAX_DEPTH, NaN and Infinity refused."""
    text = read_text(path, max_bytes, what)
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0] if str(error) else "nested too deeply"
        raise InputError(f"The {what} {os.fspath(path)} is not valid JSON ({reason}).") from None
    _check_depth(value, path, what)
    return value


def _check_depth(value: Any, path: PathLike, what: str) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(
                f"The {what} {os.fspath(path)} nests deeper than {MAX_DEPTH} levels."
            )
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys or deep nesting."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.YAMLError(f"aliases are not allowed (line {event.start_mark.line + 1})")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise yaml.YAMLError("a mapping key is not a plain value") from None
            if duplicate:
                raise yaml.YAMLError(
                    f"duplicate key {key!r} (line {key_node.start_mark.line + 1})"
                )
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: PathLike, max_bytes: int, what: str = "YAML file") -> Any:
    """Parse a bounded YAML file with the strict safe loader."""
    text = read_text(path, max_bytes, what)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except (yaml.YAMLError, RecursionError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "malformed"
        raise InputError(f"The {what} {os.fspath(path)} is not valid YAML ({reason}).") from None


def read_npy(
    path: PathLike, max_bytes: int, key: str | None = None, what: str = "array file"
) -> tuple[np.ndarray, list[str]]:
    """One numeric array from .npy, or from a .npz member (`key`, or the only/known one).

    Returns (array, member names). Sizes are checked against `max_bytes` by the declared
    header and zip sizes before decompressing or allocating.
    """
    name = os.fspath(path)
    fd = open_regular(path, what)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise InputError(f"The {what} {name} is larger than {max_bytes} bytes.")
        head = handle.read(4)
        handle.seek(0)
        if head.startswith(b"PK"):
            return _read_npz(handle, name, max_bytes, key, what)
        return _parse_npy(handle, size, name, max_bytes, what), []


def _read_npz(
    handle: Any, name: str, max_bytes: int, key: str | None, what: str
) -> tuple[np.ndarray, list[str]]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InputError(f"The {what} {name} is not a valid .npz archive ({error}).") from None
    with archive:
        infos = {i.filename[:-4] if i.filename.endswith(".npy") else i.filename: i
                 for i in archive.infolist()}
        names = list(infos)
        if key is None:
            key = next((k for k in ("x", "inputs", "X", "data") if k in names), None)
            if key is None and len(names) == 1:
                key = names[0]
        if key is None or key not in infos:
            raise InputError(f"The {what} {name} holds {names}; say which array to use.")
        info = infos[key]
        if info.file_size > max_bytes:
            raise InputError(
                f"The {what} {name}: member '{key}' declares {info.file_size} bytes, over "
                f"the limit of {max_bytes}."
            )
        try:
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise InputError(f"The {what} {name}: member '{key}' is corrupt ({error}).") from None
        if len(data) != info.file_size:
            raise InputError(f"The {what} {name}: member '{key}' does not match its size.")
        return _parse_npy(io.BytesIO(data), len(data), f"{name}:{key}", max_bytes, what), names


def _parse_npy(handle: Any, size: int, name: str, max_bytes: int, what: str) -> np.ndarray:
    """Check the .npy header's declared size against the real size, then read."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                handle, max_header_size=_NPY_HEADER_BYTES
            )
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                handle, max_header_size=_NPY_HEADER_BYTES
            )
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise InputError(f"The {what} {name} is not a valid .npy array ({error}).") from None
    if dtype.hasobject or not np.issubdtype(dtype, np.number):
        raise InputError(f"The {what} {name} holds dtype {dtype}, not numbers.")
    if any(d < 0 for d in shape) or math.prod(shape) > max_bytes:
        raise InputError(f"The {what} {name} declares shape {shape}, over the limit.")
    declared = math.prod(shape) * dtype.itemsize
    if declared > max_bytes or declared != size - handle.tell():
        raise InputError(
            f"The {what} {name} declares {declared} bytes of data but holds "
            f"{size - handle.tell()}."
        )
    raw = handle.read(declared)
    flat = np.frombuffer(raw, dtype=dtype, count=math.prod(shape))
    return flat.reshape(shape, order="F" if fortran else "C").copy()

