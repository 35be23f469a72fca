"""Shared CLI output helpers: pure JSON on stdout with --json, human text otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["emit", "parse_range", "printable", "printable_json"]


def emit(data: dict[str, Any], as_json: bool, human: str) -> None:
    """Print `data` as JSON (stdout stays machine-readable) or the human text, each of its
    lines through `printable`: it names files the user or a file's author chose."""
    if as_json:
        json.dump(data, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print("\n".join(printable(line) for line in human.split("\n")))


def parse_range(text: str) -> tuple[float, float]:
    """'LOW,HIGH' -> (low, high), for argparse `type=`."""
    import argparse

    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (e.g. 0,1); got {text!r}") from None
    if not low < high:
        raise argparse.ArgumentTypeError(f"LOW must be below HIGH; got {text!r}")
    return (low, high)


def printable(text: object) -> str:
    """`text` with the backslash and every non-printable character escaped (ESC -> \\x1b).

    Why: strings read from a file are the file author's; printed raw, terminal control codes
    could rewrite what was already shown (turn "signature INVALID" into "verified") and a
    newline could forge a whole line. Escaping the backslash too keeps the text unambiguous.
    """
    out: list[str] = []
    for char in str(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def printable_json(data: object) -> str:
    """Indented JSON with only printable ASCII: every control character stays escaped."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True)
    return text.replace("\x7f", "\\u007f")  # DEL is ASCII, so json leaves it raw
