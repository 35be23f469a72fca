"""Pieces several commands share: the owner key, progress bars, configs, the fingerprint."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from modelgif.crypto.keys import PrivateKey, load_private_key
from modelgif.errors import InputError
from modelgif.fingerprint.anchors import AnchorConfig
from modelgif.fingerprint.field import FieldConfig
from modelgif.safe_read import open_regular, read_yaml

__all__ = [
    "PASSPHRASE_ENV",
    "add_budget_arguments",
    "add_force_argument",
    "add_key_arguments",
    "command_line",
    "load_config",
    "owner_key",
    "paragraph",
    "progress_bar",
    "read_passphrase",
]

MAX_CONFIG_BYTES = 1 << 20
PASSPHRASE_ENV = "MODELGIF_KEY_PASSPHRASE"


def read_passphrase(confirm: bool = False) -> str:
    """The passphrase from $MODELGIF_KEY_PASSPHRASE, else prompted (twice to confirm)."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    try:
        with warnings.catch_warnings():  # no terminal: getpass would warn, then read stdin
            warnings.simplefilter("error", getpass.GetPassWarning)
            first = getpass.getpass("passphrase: ")
            if confirm and getpass.getpass("passphrase (again): ") != first:
                raise InputError("The passphrases do not match.")
    except (EOFError, getpass.GetPassWarning):
        raise InputError(f"No passphrase: set {PASSPHRASE_ENV} or run from a terminal.") from None
    if not first:
        raise InputError("The passphrase must not be empty.")
    return first


def add_key_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--key NAME.key and --passphrase, the same for every command that needs the owner."""
    parser.add_argument("--key", type=Path, required=required, metavar="NAME.key",
                        help="the owner's private key")
    parser.add_argument("--passphrase", action="store_true",
                        help=f"the key is encrypted (passphrase from ${PASSPHRASE_ENV}, "
                        "else prompted)")


def add_force_argument(parser: argparse.ArgumentParser, what: str = "OUTPUT") -> None:
    """--force: the one way to replace an existing output (never a key file)."""
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {what} (atomically; never a key file)")


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """--query-budget, --output-kind and --top-k (verify and calibrate must agree on them)."""
    group = parser.add_argument_group("within a query budget (fingerprints made with --probes)")
    group.add_argument("--query-budget", type=int, metavar="N",
                       help="compare outputs at the first N secret probe points (N queries)")
    group.add_argument("--output-kind", default="probabilities",
                       choices=["logits", "probabilities", "topk", "labels"],
                       help="what the suspect's API returns (default probabilities)")
    group.add_argument("--top-k", type=int, default=5, metavar="K",
                       help="classes a topk API returns (default 5)")


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: the argv main() received, shell-quoted."""
    return "modelgif " + shlex.join(args.argv)


def owner_key(args: argparse.Namespace) -> PrivateKey:
    """Load the private key named by --key (asking for the passphrase if --passphrase)."""
    os.close(open_regular(args.key, "private key"))  # a FIFO or device would block the read
    return load_private_key(args.key, read_passphrase() if args.passphrase else None)


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A callback `progress(done, total)` drawing a tqdm bar on stderr."""
    bar: tqdm[Any] | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if not enabled:
            return
        if bar is None:
            bar = tqdm(total=total, desc=description, file=sys.stderr, leave=False,
                       dynamic_ncols=True)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def load_config(
    path: Path | None,
    anchor_defaults: AnchorConfig | None = None,
    field_defaults: FieldConfig | None = None,
) -> tuple[AnchorConfig, FieldConfig]:
    """YAML with optional `anchors:` and `field:` sections; unknown keys are errors.

    Keys the YAML leaves out keep the command's own defaults (`anchor_defaults`,
    `field_defaults`) or else the dataclasses' defaults.
    """
    base = anchor_defaults or AnchorConfig()
    field_base = field_defaults or FieldConfig()
    if path is None:
        return base, field_base
    data = read_yaml(path, MAX_CONFIG_BYTES, "config") or {}
    if not isinstance(data, dict) or not set(data) <= {"anchors", "field"}:
        raise InputError(f"{path}: the config may only have 'anchors' and 'field' sections")
    sections = {name: data.get(name) or {} for name in ("anchors", "field")}
    for name, section in sections.items():
        if not isinstance(section, dict):
            raise InputError(f"{path}: the '{name}' section must be a mapping of settings")
    try:
        return (AnchorConfig.from_dict({**base.to_dict(), **sections["anchors"]}),
                FieldConfig.from_dict({**field_base.to_dict(), **sections["field"]}))
    except TypeError as error:
        raise InputError(f"{path}: {error}") from None


def paragraph(text: str) -> str:
    """`text` wrapped at 88 columns: descriptions shown by RawDescriptionHelpFormatter (kept
    raw so the examples in the epilog keep their layout) are not wrapped by argparse."""
    return textwrap.fill(text, 88)
