"""Signed JSON files (calibrations, verdict records): a DSSE envelope over an in-toto statement.

Why: a calibration decides what a verdict says, and a verdict record decides what a report
signs. Unsigned, an edited but self-consistent file would turn an independent model into a
"derived" one at a stated false-positive rate. So each is signed by the owner's key with
the same DSSE / in-toto code as fingerprints (crypto/signing.py) and read back only
through `read_signed`, which bounds the size and checks the signature and predicate type
before the caller looks at any field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelgif.atomic_write import write_file
from modelgif.crypto.keys import PrivateKey, PublicKey
from modelgif.crypto.signing import make_statement, sign_statement, verify_envelope
from modelgif.errors import InputError, IntegrityError
from modelgif.safe_read import read_json

__all__ = ["load_json", "read_signed", "write_signed"]


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(path: Path, max_bytes: int, what: str) -> Any:
    """Parse a JSON file through modelgif.safe_read (bounded size and depth, no NaN)."""
    if not path.exists():
        raise InputError(f"{path}: no such {what}")
    return read_json(path, max_bytes, what)


def write_signed(
    path: str | Path,
    subjects: list[dict[str, Any]],
    predicate_type: str,
    predicate: dict[str, Any],
    private_key: PrivateKey,
    force: bool = False,
) -> Path:
    """Sign the statement (subjects, predicate) and write its envelope as indented JSON."""
    envelope = sign_statement(make_statement(subjects, predicate_type, predicate), private_key)
    text = json.dumps(envelope, indent=1, sort_keys=True) + "\n"
    return write_file(path, text.encode("ascii"), force=force)


def read_signed(
    path: str | Path,
    predicate_type: str,
    public_key: PublicKey,
    what: str,
    fix: str,
    max_bytes: int,
) -> dict[str, Any]:
    """The verified in-toto statement of a signed `what` file, or one error line.

    An unsigned file of an older modelgif (a JSON object with a "schema") is refused with
    `fix`, the command that writes a signed one. A signature that does not verify under
    `public_key` (edited, or signed by someone else) is an IntegrityError naming the file; a
    file the owner signed as another kind (a calibration given as a verdict record) is an
    InputError naming its predicate type.
    """
    path = Path(path)
    data = load_json(path, max_bytes, what)
    if isinstance(data, dict) and "schema" in data:
        raise InputError(f"{path}: an unsigned {what} (older modelgif); {fix}")
    if not isinstance(data, dict) or "payload" not in data:
        raise InputError(f"{path}: not a signed modelgif {what}")
    try:
        return verify_envelope(data, public_key, predicate_type)
    except IntegrityError:
        pass
    try:  # the owner's signature on another kind of modelgif file: say which
        other = verify_envelope(data, public_key)
    except IntegrityError:
        raise IntegrityError(
            f"{path}: the {what} does not verify with the owner's key (edited, or signed "
            "by another key)."
        ) from None
    raise InputError(f"{path}: a signed {other.get('predicateType')} file, not a {what}.")
