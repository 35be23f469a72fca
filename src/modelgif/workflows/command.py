"""The command line a signed record repeats, for a workflow called from Python.

Why: every verdict record says which command reproduces it, and the report lists those
commands. The CLI passes the argv it received; a Python caller usually has none, so the
workflow writes the `modelgif` command that computes the same verdict from the same files.
A key given as an object has no file name; it is written as OWNER.key, the placeholder the
scan's records use too.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

__all__ = ["Option", "key_name", "reproduce_command"]

Option = str | os.PathLike[str] | int | float | bool | Sequence[str | os.PathLike[str]] | None


def reproduce_command(command: str, arguments: Sequence[str | os.PathLike[str]],
                      options: dict[str, Option]) -> str:
    """`modelgif COMMAND ARGUMENTS --option value ...`, shell-quoted; None and False are
    left out, True is a bare flag, a sequence is several values."""
    words = ["modelgif", *command.split(), *(os.fspath(a) for a in arguments)]
    for flag, value in options.items():
        if value is None or value is False:
            continue
        words.append(flag)
        if value is True:
            continue
        if isinstance(value, str | os.PathLike | int | float):
            words.append(os.fspath(value) if isinstance(value, os.PathLike) else str(value))
        else:
            words += [os.fspath(v) for v in value]
    return shlex.join(words)


def key_name(key: object) -> str:
    """The key's file name as the command names it (OWNER.key for a loaded key)."""
    return os.fspath(key) if isinstance(key, str | os.PathLike) else "OWNER.key"
