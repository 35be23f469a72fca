"""Shared CLI output helpers: pure JSON on stdout with --json, human text otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["emit", "parse_range"]


def emit(data: dict[str, Any], as_json: bool, human: str) -> None:
    """Print `data` as JSON (stdout stays machine-readable) or the human text."""
    if as_json:
        json.dump(data, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(human)


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
